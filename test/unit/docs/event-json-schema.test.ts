import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { CONTAINER_RUNTIME, type ContainerMetadata } from '../../../agent/attribute/attribution-types.js';
import { Attributor, type AttributorOptions } from '../../../agent/attribute/attributor.js';
import {
  APPARMOR_MODE,
  ATTRIBUTION,
  DENIAL_KIND,
  EVENT_SOURCE,
  NOISE_REASON,
  OUTCOME,
  SECCOMP_ACTION,
  type AppArmorDetail,
  type ContainerRef,
  type EventSource,
  type IdentifiedDenial,
  type KernwatchEvent,
  type NoiseInfo,
  type PodRef,
  type ProcessInfo,
  type SeccompDetail,
  type SelinuxDetail,
} from '../../../agent/events.js';
import { AuditStreamParser } from '../../../agent/parse/audit-stream-parser.js';
import { SYSCALL_ARCHES } from '../../../agent/parse/syscalls/tables.generated.js';
import { NoiseFilter } from '../../../agent/pipeline/noise/noise-filter.js';
import { postureChecks, type PostureInput } from '../../../agent/posture/posture-checks.js';
import {
  postureEventOf,
  postureEventToJson,
  type PostureEvent,
} from '../../../agent/posture/posture-event.js';
import {
  CHECK_ID,
  CHECK_STATUS,
  POLICY_SECTION,
  type ContainerPosture,
  type PostureCheck,
} from '../../../agent/posture/posture-types.js';
import {
  ACTION_TYPE,
  DECISION,
  REFUSAL,
  type ActionEvent,
  type ActionTarget,
  type ActionTrigger,
} from '../../../agent/responders/action-event.js';
import { eventToJson } from '../../../agent/sinks/event-json.js';
import { splitText } from '../../../agent/sources/line-splitter.js';
import { buildCliIfStale, runCli } from '../../helpers/cli-run.js';
import { CONSTRUCTED, corpusLine, corpusLines, derive } from '../../helpers/corpus-lines.js';
import { EVENT_KEY_ORDER } from '../../helpers/event-schema.js';
import { CORPUS, corpusLogFiles } from '../../helpers/fixtures.js';
import {
  actionSchemaErrors,
  denialSchemaErrors,
  isObject,
  JSON_SCHEMA,
  postureSchemaErrors,
  readJsonSchema,
  type JsonObject,
  type JsonSchemaName,
} from '../../helpers/json-schema.js';
import { lines, seccompAt } from '../pipeline/noise-test-events.js';

/**
 * docs/schema/*.schema.json against what kernwatch really writes: `kernwatch parse` over the whole corpus,
 * denials attributed by the real attributor and grouped by the real noise filter, posture events as the
 * posture monitor builds them, the action events of docs/responses.md; and against the TypeScript types
 * (every field, which ones are required, every enum). Mutated events prove the schemas can fail.
 * Action events from a running responder, and attributed denials and posture events from a running agent,
 * are validated in the integration tests that collect them (responders/, agent/, posture/).
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const NODE = 'ip-10-0-0-7.ec2.internal';
const KMSG = 'kmsg/kernel618-seccomp-all-actions.kmsg';

// ---- schema navigation -------------------------------------------------------------------------------

/** The subschema, with a $ref followed to its definition. */
function resolve(root: JsonObject, s: unknown): JsonObject {
  if (!isObject(s)) throw new Error(`not a subschema: ${JSON.stringify(s)}`);
  const ref = s.$ref;
  if (typeof ref !== 'string') return s;
  const defs = root.$defs;
  return resolve(root, isObject(defs) ? defs[ref.slice('#/$defs/'.length)] : undefined);
}

/** The subschema at a path of property names (`[]` is the root). */
function at(root: JsonObject, path: readonly string[]): JsonObject {
  let s = resolve(root, root);
  for (const name of path) {
    const props = s.properties;
    s = resolve(root, isObject(props) ? props[name] : undefined);
  }
  return s;
}

type Presence = 'required' | 'optional';

/** Each property of an object schema, required or optional. */
function shapeOf(s: JsonObject): Record<string, Presence> {
  const props = isObject(s.properties) ? Object.keys(s.properties) : [];
  const required = Array.isArray(s.required) ? s.required : [];
  return Object.fromEntries(props.map((k) => [k, required.includes(k) ? 'required' : 'optional']));
}

function listOf(v: unknown): unknown[] | undefined {
  return Array.isArray(v) ? (v as unknown[]) : undefined;
}

function enumOf(s: JsonObject): string[] {
  // A documented enum beside a fallback for values kernwatch keeps as written: the enum branch.
  const named =
    listOf(s.enum) ??
    listOf(
      listOf(s.anyOf)
        ?.map(obj)
        .find((b) => b.enum !== undefined)?.enum,
    );
  if (named === undefined) throw new Error(`no enum in ${JSON.stringify(s)}`);
  return named.map(String).sort();
}

/** Paths of object schemas that describe data and do not close their keys. */
function openObjects(root: JsonObject): string[] {
  const out: string[] = [];
  const walk = (schema: unknown, path: string): void => {
    if (typeof schema === 'boolean') return;
    const s = resolve(root, schema);
    if (s.type === 'object' && s.additionalProperties === undefined) out.push(path);
    if (isObject(s.properties)) for (const [k, p] of Object.entries(s.properties)) walk(p, `${path}.${k}`);
    if (isObject(s.additionalProperties)) walk(s.additionalProperties, `${path}.*`);
    if (s.items !== undefined) walk(s.items, `${path}[]`);
  };
  walk(root, '(root)');
  return out;
}

// ---- the TypeScript types' own account of their fields --------------------------------------------------

/** Each field of T, required or optional: the compiler holds these literals to the types. */
type Fields<T> = { [K in keyof T]-?: Partial<Pick<T, K>> extends Pick<T, K> ? 'optional' : 'required' };

const EVENT_FIELDS: Fields<KernwatchEvent> = {
  schema: 'required',
  id: 'required',
  auditId: 'optional',
  time: 'required',
  node: 'required',
  source: 'required',
  kind: 'required',
  outcome: 'required',
  count: 'required',
  noise: 'optional',
  process: 'required',
  seccomp: 'optional',
  apparmor: 'optional',
  selinux: 'optional',
  container: 'optional',
  pod: 'optional',
  attribution: 'required',
  raw: 'required',
};
const PROCESS_FIELDS: Fields<ProcessInfo> = {
  pid: 'required',
  ppid: 'optional',
  comm: 'optional',
  exe: 'optional',
  uid: 'optional',
  gid: 'optional',
  auid: 'optional',
  ses: 'optional',
  subj: 'optional',
  cmdline: 'optional',
  cwd: 'optional',
};
const SECCOMP_FIELDS: Fields<SeccompDetail> = {
  syscall: 'optional',
  syscallNr: 'required',
  arch: 'required',
  compat: 'required',
  action: 'required',
  errno: 'optional',
  errnoName: 'optional',
  signal: 'required',
  code: 'required',
};
const APPARMOR_FIELDS: Fields<AppArmorDetail> = {
  mode: 'required',
  operation: 'required',
  profile: 'required',
  class: 'optional',
  name: 'optional',
  name2: 'optional',
  requestedMask: 'optional',
  deniedMask: 'optional',
  capability: 'optional',
  capname: 'optional',
  signal: 'optional',
  peer: 'optional',
  info: 'optional',
  error: 'optional',
};
const SELINUX_FIELDS: Fields<SelinuxDetail> = {
  permissions: 'required',
  scontext: 'required',
  tcontext: 'required',
  tclass: 'required',
  permissive: 'required',
  name: 'optional',
  path: 'optional',
};
const NOISE_FIELDS: Fields<NoiseInfo> = { reason: 'required', firstTime: 'required', lastTime: 'required' };
const CONTAINER_FIELDS: Fields<ContainerRef> = {
  id: 'required',
  name: 'optional',
  runtime: 'optional',
  image: 'optional',
};
const POD_FIELDS: Fields<PodRef> = {
  name: 'required',
  namespace: 'required',
  uid: 'required',
  labels: 'optional',
  owner: 'optional',
};
const OWNER_FIELDS: Fields<NonNullable<PodRef['owner']>> = { kind: 'required', name: 'required' };

const ACTION_FIELDS: Fields<ActionEvent> = {
  schema: 'required',
  id: 'required',
  time: 'required',
  node: 'required',
  rule: 'required',
  action: 'required',
  decision: 'required',
  reason: 'optional',
  detail: 'required',
  repeats: 'optional',
  pod: 'required',
  container: 'optional',
  trigger: 'required',
  target: 'optional',
  error: 'optional',
};
const ACTION_POD_FIELDS: Fields<ActionEvent['pod']> = {
  name: 'required',
  namespace: 'required',
  uid: 'required',
};
const TRIGGER_FIELDS: Fields<ActionTrigger> = {
  eventId: 'required',
  kind: 'required',
  outcome: 'required',
  count: 'required',
  withinMs: 'required',
  syscall: 'optional',
  operation: 'optional',
  permissions: 'optional',
};
const TARGET_FIELDS: Fields<ActionTarget> = {
  addresses: 'optional',
  expiresAt: 'optional',
  networkPolicy: 'optional',
  labels: 'optional',
  gracePeriodSeconds: 'optional',
};

const POSTURE_FIELDS: Fields<PostureEvent> = {
  schema: 'required',
  id: 'required',
  time: 'required',
  node: 'required',
  container: 'required',
  pid: 'optional',
  pod: 'optional',
  changed: 'required',
  findings: 'required',
  checks: 'required',
};
const POSTURE_CONTAINER_FIELDS: Fields<PostureEvent['container']> = { id: 'required', name: 'required' };
const POSTURE_POD_FIELDS: Fields<NonNullable<PostureEvent['pod']>> = {
  name: 'required',
  namespace: 'required',
};
const CHECK_FIELDS: Fields<PostureCheck> = {
  id: 'required',
  section: 'required',
  status: 'required',
  detail: 'required',
  fix: 'required',
};

const values = (o: Record<string, string>): string[] => Object.values(o).sort();

const SCHEMAS = Object.values(JSON_SCHEMA);
const denialSchema = readJsonSchema(JSON_SCHEMA.denial);
const actionSchema = readJsonSchema(JSON_SCHEMA.action);
const postureSchema = readJsonSchema(JSON_SCHEMA.posture);

describe('the schema files', () => {
  test.each(SCHEMAS)('%s: every object that holds data closes its keys (additionalProperties)', (name) => {
    expect(openObjects(readJsonSchema(name))).toEqual([]);
  });

  test('the denial schema lists the fields in the documented order', () => {
    expect(Object.keys(at(denialSchema, []).properties as JsonObject)).toEqual(EVENT_KEY_ORDER);
  });

  test('action and posture events share the denial schema’s time and container definitions', () => {
    const defs = (s: JsonObject): JsonObject => s.$defs as JsonObject;
    // Only the descriptions differ: what the container is of.
    const withoutDescription = (s: unknown): JsonObject => ({ ...obj(s), description: undefined });
    expect(withoutDescription(defs(actionSchema).container)).toEqual(
      withoutDescription(defs(denialSchema).container),
    );
    expect(defs(actionSchema).time).toEqual(defs(denialSchema).time);
    expect(defs(postureSchema).time).toEqual(defs(denialSchema).time);
    expect(at(actionSchema, ['trigger', 'eventId']).pattern).toBe(at(denialSchema, ['id']).pattern);
  });
});

describe('the schemas agree with the TypeScript types', () => {
  const objects: [string, JsonObject, string[], Record<string, Presence>][] = [
    ['denial', denialSchema, [], EVENT_FIELDS],
    ['denial', denialSchema, ['process'], PROCESS_FIELDS],
    ['denial', denialSchema, ['seccomp'], SECCOMP_FIELDS],
    ['denial', denialSchema, ['apparmor'], APPARMOR_FIELDS],
    ['denial', denialSchema, ['selinux'], SELINUX_FIELDS],
    ['denial', denialSchema, ['noise'], NOISE_FIELDS],
    ['denial', denialSchema, ['container'], CONTAINER_FIELDS],
    ['denial', denialSchema, ['pod'], POD_FIELDS],
    ['denial', denialSchema, ['pod', 'owner'], OWNER_FIELDS],
    ['action', actionSchema, [], ACTION_FIELDS],
    ['action', actionSchema, ['pod'], ACTION_POD_FIELDS],
    ['action', actionSchema, ['container'], CONTAINER_FIELDS],
    ['action', actionSchema, ['trigger'], TRIGGER_FIELDS],
    ['action', actionSchema, ['target'], TARGET_FIELDS],
    ['posture', postureSchema, [], POSTURE_FIELDS],
    ['posture', postureSchema, ['container'], POSTURE_CONTAINER_FIELDS],
    ['posture', postureSchema, ['pod'], POSTURE_POD_FIELDS],
  ];

  test.each(objects)('%s %j: the same fields, the same ones required', (_name, schema, path, fields) => {
    expect(shapeOf(at(schema, path))).toEqual(fields);
  });

  test('posture checks: the same fields, the same ones required', () => {
    expect(shapeOf(resolve(postureSchema, at(postureSchema, ['checks']).items))).toEqual(CHECK_FIELDS);
  });

  test('every enum is the set of the agent’s constants', () => {
    const pairs: [JsonObject, string[], string[]][] = [
      [denialSchema, ['source'], values(EVENT_SOURCE)],
      [denialSchema, ['kind'], values(DENIAL_KIND)],
      [denialSchema, ['outcome'], values(OUTCOME)],
      [denialSchema, ['attribution'], values(ATTRIBUTION)],
      [denialSchema, ['noise', 'reason'], values(NOISE_REASON)],
      [denialSchema, ['seccomp', 'action'], values(SECCOMP_ACTION)],
      [denialSchema, ['seccomp', 'arch'], [...SYSCALL_ARCHES].sort()],
      [denialSchema, ['apparmor', 'mode'], values(APPARMOR_MODE)],
      [denialSchema, ['container', 'runtime'], values(CONTAINER_RUNTIME)],
      [actionSchema, ['action'], values(ACTION_TYPE)],
      [actionSchema, ['decision'], values(DECISION)],
      [actionSchema, ['reason'], values(REFUSAL)],
      [actionSchema, ['trigger', 'kind'], values(DENIAL_KIND)],
      [actionSchema, ['trigger', 'outcome'], values(OUTCOME)],
      [actionSchema, ['container', 'runtime'], values(CONTAINER_RUNTIME)],
    ];
    for (const [schema, path, expected] of pairs)
      expect(enumOf(at(schema, path)), path.join('.')).toEqual(expected);
    const check = resolve(postureSchema, at(postureSchema, ['checks']).items);
    expect(enumOf(resolve(postureSchema, (check.properties as JsonObject).id))).toEqual(values(CHECK_ID));
    expect(enumOf(resolve(postureSchema, at(postureSchema, ['changed']).items))).toEqual(values(CHECK_ID));
    expect(enumOf((check.properties as JsonObject).section as JsonObject)).toEqual(values(POLICY_SECTION));
    expect(enumOf((check.properties as JsonObject).status as JsonObject)).toEqual(values(CHECK_STATUS));
  });
});

// ---- real output ---------------------------------------------------------------------------------------

/** Every problem of every value, as `<what>: <problem>`, the first 20 (all of them would drown a failure). */
function invalid(
  items: readonly { what: string; value: unknown }[],
  errors: (v: unknown) => string[],
): string[] {
  return items.flatMap(({ what, value }) => errors(value).map((p) => `${what}: ${p}`)).slice(0, 20);
}

describe('kernwatch parse over every corpus file: every event valid', () => {
  let events: KernwatchEvent[] = [];
  let stderr = '';

  beforeAll(async () => {
    buildCliIfStale();
    const constructed = readdirSync(CONSTRUCTED)
      .filter((f) => !f.endsWith('.md'))
      .map((f) => join(CONSTRUCTED, f));
    const files = [...corpusLogFiles().map((f) => join(CORPUS, f)), ...constructed];
    const r = await runCli(['parse', '--node', NODE, ...files]);
    expect(r.code).toBe(0);
    stderr = r.stderr;
    events = r.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as KernwatchEvent);
  }, 120_000);

  test('the corpus yields the events the summary counts, of every kind and outcome', () => {
    const counted = /, (\d+) events \(/.exec(stderr)?.[1];
    expect(events.length).toBe(Number(counted));
    expect(events.length).toBeGreaterThan(600);
    expect(new Set(events.map((e) => e.kind))).toEqual(new Set(values(DENIAL_KIND)));
    expect(new Set(events.map((e) => e.outcome))).toEqual(new Set(values(OUTCOME)));
    // Both id forms: with an audit id, and the synthetic one of records logged without.
    expect(events.some((e) => e.auditId === undefined)).toBe(true);
    expect(events.some((e) => e.auditId !== undefined)).toBe(true);
  });

  test('every event is valid against kernwatch.v1.schema.json', () => {
    expect(
      invalid(
        events.map((e) => ({ what: e.id, value: e })),
        denialSchemaErrors,
      ),
    ).toEqual([]);
  });
});

/** The denials of `text`, identified as the parser hands them to the pipeline. */
function denialsOf(text: string): IdentifiedDenial[] {
  const out: IdentifiedDenial[] = [];
  const parser = new AuditStreamParser({
    now: () => new Date('2026-11-28T12:00:00Z'),
    onDenial: (d) => out.push(d),
  });
  splitText(text, (t, s, e) => {
    parser.pushLine(t, s, e);
  });
  parser.flushAll();
  return out;
}

const CID = 'a'.repeat(64);
const POD_UID = '5f0c2f4e-1d8a-4a51-9c61-3c1a1f2b7e10';
const CRI_META: ContainerMetadata = {
  id: CID,
  name: 'api',
  image: 'registry.k8s.io/e2e-test-images/busybox:1.36.1-1',
  podSandboxId: 's1',
  podName: 'api-0',
  podNamespace: 'shop',
  podUid: POD_UID,
};

/** The attributor as the agent wires it, its lookups answering as /proc, CRI and the informer would. */
function attributor(where: 'informer' | 'cri' | 'container' | 'host' | 'gone'): Attributor {
  const identity =
    where === 'host'
      ? { pid: 1, startTicks: 1, startedAtMs: 1 }
      : where === 'gone'
        ? undefined
        : {
            pid: 8577,
            startTicks: 1,
            startedAtMs: 1,
            containerId: CID,
            ...(where === 'container' ? {} : { podUid: POD_UID }),
            ...(where === 'informer' ? { runtime: CONTAINER_RUNTIME.containerd } : {}),
          };
  const o: AttributorOptions = {
    node: NODE,
    processes: {
      lookup: () => (identity === undefined ? { lookup: 'unknown' } : { lookup: 'live', identity }),
    },
  };
  if (where === 'cri' || where === 'informer') {
    o.containers = {
      runtimeName: 'containerd',
      get: () => undefined,
      resolve: () => Promise.resolve(CRI_META),
    };
  }
  if (where === 'informer') {
    const stored = {
      uid: POD_UID,
      name: 'api-0',
      namespace: 'shop',
      labels: { app: 'api', 'app.kubernetes.io/part-of': 'shop' },
      owner: { kind: 'StatefulSet', name: 'api' },
    };
    o.pods = { byUid: (uid) => (uid === POD_UID ? stored : undefined), byName: () => undefined };
  }
  return new Attributor(o);
}

describe('denials attributed and grouped by the agent’s own pipeline stages: every event valid', () => {
  const files = [
    KMSG,
    'auditd/apparmor.d-testdata-audit.log',
    'auditd/security-profiles-operator-audit_test.log',
  ];
  const denials = files.flatMap((f) => denialsOf(`${corpusLines(f).join('\n')}\n`));
  const places = ['informer', 'cri', 'container', 'host', 'gone'] as const;
  const sources: EventSource[] = ['kmsg', 'auditd', 'journald', 'syslog', 'file'];

  test('pod, container, host and unresolved, from each source', async () => {
    const events: KernwatchEvent[] = [];
    for (const [i, where] of places.entries()) {
      events.push(...(await attributor(where).attribute(denials, sources[i] ?? 'file')));
    }
    expect(new Set(events.map((e) => e.attribution))).toEqual(new Set(values(ATTRIBUTION)));
    expect(events.some((e) => e.pod?.labels !== undefined && e.pod.owner !== undefined)).toBe(true);
    expect(events.some((e) => e.attribution === 'pod' && e.pod?.labels === undefined)).toBe(true);
    // What a sink writes, read back as a consumer reads it.
    const written = events.map((e) => ({ what: e.id, value: JSON.parse(eventToJson(e)) as unknown }));
    expect(invalid(written, denialSchemaErrors)).toEqual([]);
  });

  test('coalesced and rate-limited events (noise)', async () => {
    // 40 identical denials in 200 ms and 40 of other syscalls, from one container of one pod.
    const raw = [
      ...Array.from({ length: 40 }, (_, i) => seccompAt(i * 5, 1000 + i)),
      ...Array.from({ length: 40 }, (_, i) => seccompAt(300 + i * 5, 2000 + i, 39 + i)),
    ];
    const identified = raw.flatMap((e) => denialsOf(`${e.raw.join('\n')}\n`));
    const attributed = await attributor('informer').attribute(identified, 'auditd');
    const filter = new NoiseFilter({ coalesceWindowMs: 2000, perContainerPerSecond: 10 });
    const out = [...filter.admit(lines(attributed), 0), ...filter.drain()];
    expect(new Set(out.map((e) => e.noise?.reason))).toEqual(
      new Set([undefined, 'coalesced', 'rate_limited']),
    );
    expect(out.reduce((n, e) => n + e.count, 0)).toBe(80);
    const written = out.map((e) => ({ what: e.id, value: JSON.parse(eventToJson(e)) as unknown }));
    expect(invalid(written, denialSchemaErrors)).toEqual([]);
  });
});

describe('posture events as the monitor builds them: every event valid', () => {
  const confined: PostureInput = {
    kernel: {
      seccompMode: 2,
      seccompFilters: 1,
      noNewPrivs: true,
      effectiveCapabilities: [],
      permittedCapabilities: [],
      boundingCapabilities: ['CAP_NET_BIND_SERVICE'],
      ambientCapabilities: [],
      uid: { real: 1000, effective: 1000, saved: 1000, fs: 1000 },
      gid: { real: 1000, effective: 1000, saved: 1000, fs: 1000 },
      mac: { kind: 'apparmor', label: 'cri-containerd.apparmor.d (enforce)', mode: 'enforce' },
      rootReadOnly: true,
    },
    runtime: {
      seccomp: {
        defaultAction: 'SCMP_ACT_LOG',
        actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_KILL_PROCESS'],
        flags: [],
      },
      noNewPrivileges: true,
      rootReadonly: true,
    },
    intent: {
      seccompProfile: 'Localhost',
      seccompLocalhostProfile: 'profiles/audit.json',
      appArmorProfile: 'RuntimeDefault',
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: 1000,
      dropsAllCapabilities: true,
      addedCapabilities: ['NET_BIND_SERVICE'],
      hostNetwork: false,
    },
    coverage: { ingress: ['default-deny'], egress: ['default-deny'] },
    lsm: { active: ['lockdown', 'capability', 'yama', 'apparmor'], apparmorEnabled: true },
    actionsLogged: ['kill_process', 'kill_thread', 'trap', 'errno', 'user_notif', 'trace', 'log'],
  };
  // Without an API server, its process unreadable, on a node without a MAC LSM: everything unknown.
  const unreadable: PostureInput = {
    kernel: undefined,
    intent: undefined,
    coverage: undefined,
    lsm: { active: ['lockdown', 'capability', 'yama'], apparmorEnabled: false },
    actionsLogged: undefined,
  };
  const container = (n: number, input: PostureInput, inPod: boolean): ContainerPosture => ({
    id: n.toString(16).padStart(64, 'e'),
    name: 'app',
    ...(input.kernel === undefined ? {} : { pid: 2618 + n }),
    ...(inPod ? { pod: { name: `cart-5c8b7-q9w2${String(n)}`, namespace: 'shop' } } : {}),
    checks: postureChecks(input),
  });

  test('new containers (every check changed) and one change, pass, fail and unknown', () => {
    const time = '2026-11-28T17:56:24.188Z';
    const all = Object.values(CHECK_ID);
    const events = [
      postureEventOf(NODE, container(1, confined, true), all, time),
      postureEventOf(NODE, container(2, unreadable, true), all, time),
      postureEventOf(NODE, container(3, unreadable, false), all, time),
      postureEventOf(
        NODE,
        container(1, { ...confined, coverage: { ingress: [], egress: [] } }, true),
        [CHECK_ID.networkPolicy],
        time,
      ),
    ];
    expect(new Set(events.flatMap((e) => e.checks.map((c) => c.status)))).toEqual(
      new Set(values(CHECK_STATUS)),
    );
    const written = events.map((e) => ({ what: e.id, value: JSON.parse(postureEventToJson(e)) as unknown }));
    expect(invalid(written, postureSchemaErrors)).toEqual([]);
  });
});

describe('the examples of the docs are valid', () => {
  test('the denial events of docs/events.md', () => {
    const text = readFileSync(join(ROOT, 'docs', 'events.md'), 'utf8');
    const examples = [...text.matchAll(/```json\n([\s\S]*?)\n```/g)].map(
      (m) => JSON.parse(m[1] ?? '') as unknown,
    );
    expect(examples.length).toBeGreaterThanOrEqual(1);
    expect(
      invalid(
        examples.map((value, i) => ({ what: `example ${String(i)}`, value })),
        denialSchemaErrors,
      ),
    ).toEqual([]);
  });

  test('the complete action events of docs/responses.md', () => {
    const examples = readFileSync(join(ROOT, 'docs', 'responses.md'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{"schema":"kernwatch.v1.action"') && !l.includes('…'))
      .map((l) => JSON.parse(l) as ActionEvent);
    expect(examples.length).toBeGreaterThanOrEqual(2);
    expect(
      invalid(
        examples.map((e) => ({ what: e.id, value: e })),
        actionSchemaErrors,
      ),
    ).toEqual([]);
  });
});

// ---- the schemas can fail --------------------------------------------------------------------------------

type Mutation = [string, (e: JsonObject) => void];

/** A deep copy of `value` with `mutate` applied. */
function mutated(value: unknown, mutate: (e: JsonObject) => void): JsonObject {
  const copy = JSON.parse(JSON.stringify(value)) as JsonObject;
  mutate(copy);
  return copy;
}

function obj(v: unknown): JsonObject {
  if (!isObject(v)) throw new Error(`not an object: ${JSON.stringify(v)}`);
  return v;
}

/** Every optional field of `shape` set to null: absent is omitted, never null. */
function nulls(
  prefix: string,
  pick: (e: JsonObject) => JsonObject,
  shape: Record<string, Presence>,
): Mutation[] {
  return Object.keys(shape).map((k) => [`${prefix}${k}: null`, (e) => (pick(e)[k] = null)]);
}

/** Every required field of `shape` taken away. */
function missing(
  prefix: string,
  pick: (e: JsonObject) => JsonObject,
  shape: Record<string, Presence>,
): Mutation[] {
  return Object.entries(shape)
    .filter(([, p]) => p === 'required')
    .map(([k]) => [`${prefix}${k} missing`, (e) => Reflect.deleteProperty(pick(e), k)]);
}

function rejects(name: JsonSchemaName, valid: unknown, mutations: readonly Mutation[]): void {
  const errors =
    name === JSON_SCHEMA.denial
      ? denialSchemaErrors
      : name === JSON_SCHEMA.action
        ? actionSchemaErrors
        : postureSchemaErrors;
  expect(errors(valid)).toEqual([]);
  const accepted = mutations.filter(([, m]) => errors(mutated(valid, m)).length === 0).map(([what]) => what);
  expect(accepted).toEqual([]);
}

describe('mutated events are rejected', () => {
  const self = (e: JsonObject): JsonObject => e;
  const seccomp = (e: JsonObject): JsonObject => obj(e.seccomp);
  const container = (e: JsonObject): JsonObject => obj(e.container);
  const pod = (e: JsonObject): JsonObject => obj(e.pod);

  // A KILL_PROCESS from the kmsg corpus, attributed to a pod by the informer; an ERRNO with its errno; an
  // AppArmor and an SELinux denial; a coalesced one.
  const all = (async () => {
    const denials = denialsOf(`${corpusLines(KMSG).join('\n')}\n`);
    return attributor('informer').attribute(denials, 'kmsg');
  })();

  test('a denial event: wrong enums and types, unknown keys, missing fields, nulls', async () => {
    const events = await all;
    const killed = events.find((e) => e.seccomp?.action === 'KILL_PROCESS');
    const mutations: Mutation[] = [
      ['schema kernwatch.v2', (e) => (e.schema = 'kernwatch.v2')],
      ['source stdin', (e) => (e.source = 'stdin')],
      ['kind ebpf', (e) => (e.kind = 'ebpf')],
      ['outcome denied', (e) => (e.outcome = 'denied')],
      ['attribution node', (e) => (e.attribution = 'node')],
      ['seccomp.action KILL', (e) => (seccomp(e).action = 'KILL')],
      ['seccomp.arch with a space', (e) => (seccomp(e).arch = 'x86 64')],
      ['container.runtime empty', (e) => (container(e).runtime = '')],
      ['an unknown key', (e) => (e.severity = 'high')],
      ['an unknown process key', (e) => (obj(e.process).tty = 'pts0')],
      ['an unknown seccomp key', (e) => (seccomp(e).ip = '0x7f5187416829')],
      ['an unknown container key', (e) => (container(e).pid = 1)],
      ['an unknown pod key', (e) => (pod(e).node = NODE)],
      ['an unknown owner key', (e) => (obj(pod(e).owner).uid = POD_UID)],
      ...missing('', self, EVENT_FIELDS),
      ...missing('process.', (e) => obj(e.process), PROCESS_FIELDS),
      ...missing('seccomp.', seccomp, SECCOMP_FIELDS),
      ...missing('container.', container, CONTAINER_FIELDS),
      ...missing('pod.', pod, POD_FIELDS),
      ...missing('pod.owner.', (e) => obj(pod(e).owner), OWNER_FIELDS),
      ...nulls('', self, EVENT_FIELDS),
      ...nulls('process.', (e) => obj(e.process), PROCESS_FIELDS),
      ...nulls('seccomp.', seccomp, SECCOMP_FIELDS),
      ...nulls('container.', container, CONTAINER_FIELDS),
      ...nulls('pod.', pod, POD_FIELDS),
      ['count "1"', (e) => (e.count = '1')],
      ['count 0', (e) => (e.count = 0)],
      ['count 1.5', (e) => (e.count = 1.5)],
      ['process.pid -1', (e) => (obj(e.process).pid = -1)],
      ['process.uid "0"', (e) => (obj(e.process).uid = '0')],
      ['seccomp.compat 0', (e) => (seccomp(e).compat = 0)],
      ['seccomp.syscallNr -2', (e) => (seccomp(e).syscallNr = -2)],
      ['seccomp.code not hex', (e) => (seccomp(e).code = 'kill')],
      ['raw empty', (e) => (e.raw = [])],
      ['raw of a number', (e) => (e.raw = [1])],
      ['time without milliseconds', (e) => (e.time = '2026-11-28T11:38:47Z')],
      ['time with an offset', (e) => (e.time = '2026-11-28T12:38:47.052+01:00')],
      ['id without node', (e) => (e.id = String(e.id).slice(NODE.length + 1))],
      ['auditId without milliseconds', (e) => (e.auditId = '1795865927:334420')],
      ['container.id short', (e) => (container(e).id = 'abc123')],
      ['pod.labels empty', (e) => (pod(e).labels = {})],
      ['pod.labels of a number', (e) => (pod(e).labels = { app: 1 })],
      ['pod.name empty', (e) => (pod(e).name = '')],
      // The rules between fields.
      ['kind apparmor with a seccomp object', (e) => (e.kind = 'apparmor')],
      [
        'an apparmor object beside seccomp',
        (e) => (e.apparmor = { mode: 'DENIED', operation: 'open', profile: 'p' }),
      ],
      ['outcome logged for KILL_PROCESS', (e) => (e.outcome = 'logged')],
      ['count 2 without noise', (e) => (e.count = 2)],
      ['attribution pod without a pod', (e) => delete e.pod],
      ['attribution container with a pod', (e) => (e.attribution = 'container')],
      ['attribution host with a container', (e) => (e.attribution = 'host')],
      ['a synthetic id beside an auditId', (e) => (e.id = `${NODE}:~1795865927-8579-40412e0d/0`)],
      ['an audit-id id without the auditId', (e) => delete e.auditId],
      ['errno with KILL_PROCESS', (e) => (seccomp(e).errno = 1)],
      ['errnoName without errno', (e) => (seccomp(e).errnoName = 'EPERM')],
    ];
    rejects(JSON_SCHEMA.denial, killed, mutations);
  });

  test('the other kinds, a noise object and an id without an audit id', async () => {
    const events = await all;
    // CONSTRUCTED from kmsg line 3 (ERRNO, code=0x50000): code=0x50001, EPERM as kernels before the
    // errno was masked wrote it.
    const errnoLine = derive(corpusLine(KMSG, 3), 'code=0x50000', 'code=0x50001');
    const [errno] = await attributor('host').attribute(denialsOf(`${errnoLine}\n`), 'kmsg');
    expect(errno?.seccomp).toMatchObject({ action: 'ERRNO', errno: 1, errnoName: 'EPERM' });
    rejects(JSON_SCHEMA.denial, errno, [
      ['errno 0', (e) => (seccomp(e).errno = 0)],
      ['errnoName lower case', (e) => (seccomp(e).errnoName = 'eperm')],
      ['outcome killed for ERRNO', (e) => (e.outcome = 'killed')],
      [
        'errno with LOG',
        (e) => {
          seccomp(e).action = 'LOG';
          e.outcome = 'logged';
        },
      ],
    ]);

    const [apparmor] = denialsOf(`${corpusLines('auditd/apparmor.d-testdata-audit.log')[13] ?? ''}\n`);
    if (apparmor === undefined) throw new Error('no AppArmor denial');
    const [aa] = await attributor('host').attribute([apparmor], 'auditd');
    const aaDetail = (e: JsonObject): JsonObject => obj(e.apparmor);
    rejects(JSON_SCHEMA.denial, aa, [
      ['apparmor.mode COMPLAIN', (e) => (aaDetail(e).mode = 'COMPLAIN')],
      ['outcome allowed for DENIED', (e) => (e.outcome = 'allowed')],
      ['apparmor.capability "7"', (e) => (aaDetail(e).capability = '7')],
      ['an unknown apparmor key', (e) => (aaDetail(e).fsuid = 0)],
      ['kind seccomp with an apparmor object', (e) => (e.kind = 'seccomp')],
      ...missing('apparmor.', aaDetail, APPARMOR_FIELDS),
      ...nulls('apparmor.', aaDetail, APPARMOR_FIELDS),
    ]);

    const [avc] = denialsOf(`${corpusLines('auditd/security-profiles-operator-audit_test.log')[2] ?? ''}\n`);
    if (avc === undefined) throw new Error('no SELinux denial');
    const [se] = await attributor('container').attribute([avc], 'journald');
    const seDetail = (e: JsonObject): JsonObject => obj(e.selinux);
    rejects(JSON_SCHEMA.denial, se, [
      ['selinux.permissive "0"', (e) => (seDetail(e).permissive = '0')],
      ['selinux.permissions a string', (e) => (seDetail(e).permissions = 'read')],
      ['outcome allowed while enforcing', (e) => (e.outcome = 'allowed')],
      ['an unknown selinux key', (e) => (seDetail(e).ino = 1)],
      ...missing('selinux.', seDetail, SELINUX_FIELDS),
      ...nulls('selinux.', seDetail, SELINUX_FIELDS),
    ]);

    const noisy = mutated(events[0], (e) => {
      e.count = 7;
      e.noise = { reason: 'coalesced', firstTime: e.time, lastTime: '2026-11-28T11:38:48.000Z' };
    });
    const noise = (e: JsonObject): JsonObject => obj(e.noise);
    rejects(JSON_SCHEMA.denial, noisy, [
      ['noise.reason dropped', (e) => (noise(e).reason = 'dropped')],
      ['noise.lastTime a number', (e) => (noise(e).lastTime = 1795865928000)],
      ['an unknown noise key', (e) => (noise(e).count = 7)],
      ['count 7 without noise', (e) => delete e.noise],
      ...missing('noise.', noise, NOISE_FIELDS),
      ...nulls('noise.', noise, NOISE_FIELDS),
    ]);

    const synthetic = mutated(events[0], (e) => {
      delete e.auditId;
      e.id = `${NODE}:~1795865927-8579-40412e0d/0`;
    });
    rejects(JSON_SCHEMA.denial, synthetic, [
      ['synthetic id with a short hash', (e) => (e.id = `${NODE}:~1795865927-8579-4041/0`)],
      ['an auditId beside a synthetic id', (e) => (e.auditId = '1795865927.052:334420')],
    ]);
  });

  test('an action event', () => {
    const trigger = `${NODE}:1795865927.000:1/0`;
    const taken: ActionEvent = {
      schema: 'kernwatch.v1.action',
      id: `${trigger}/quarantine/nft_quarantine/taken`,
      time: '2026-11-28T17:56:24.188Z',
      node: NODE,
      rule: 'quarantine',
      action: 'nft_quarantine',
      decision: 'taken',
      detail: 'quarantined 10.244.1.7, fd00:10:244:1::7 of pod prod-shop/shop-7d9f-x2x8q for 3600 s',
      pod: { name: 'shop-7d9f-x2x8q', namespace: 'prod-shop', uid: '3d718846-b7d9-4e3b-8800-75db482c91e0' },
      container: { id: CID, name: 'main', runtime: 'containerd' },
      trigger: {
        eventId: trigger,
        kind: 'seccomp',
        outcome: 'killed',
        count: 1,
        withinMs: 60000,
        syscall: 'ptrace',
      },
      target: { addresses: ['10.244.1.7', 'fd00:10:244:1::7'], expiresAt: '2026-11-28T18:56:24.188Z' },
    };
    const target = (e: JsonObject): JsonObject => obj(e.target);
    const trig = (e: JsonObject): JsonObject => obj(e.trigger);
    rejects(JSON_SCHEMA.action, taken, [
      ['schema kernwatch.v1', (e) => (e.schema = 'kernwatch.v1')],
      ['action kill_pod', (e) => (e.action = 'kill_pod')],
      ['decision skipped', (e) => (e.decision = 'skipped')],
      ['an unknown key', (e) => (e.severity = 'high')],
      ['an unknown target key', (e) => (target(e).ports = [80])],
      ['an unknown trigger key', (e) => (trig(e).pid = 1)],
      ['an unknown pod key', (e) => (obj(e.pod).labels = { app: 'shop' })],
      ...missing('', (e) => e, ACTION_FIELDS),
      ...missing('trigger.', trig, TRIGGER_FIELDS),
      ...missing('pod.', (e) => obj(e.pod), ACTION_POD_FIELDS),
      ...nulls('', (e) => e, ACTION_FIELDS),
      ...nulls('trigger.', trig, TRIGGER_FIELDS),
      ...nulls('target.', target, TARGET_FIELDS),
      ['a refusal reason on a taken action', (e) => (e.reason = 'cooldown')],
      ['repeats on a taken action', (e) => (e.repeats = 2)],
      ['an error on a taken action', (e) => (e.error = 'timeout')],
      ['taken without a target', (e) => delete e.target],
      ['nft_quarantine without addresses', (e) => delete target(e).addresses],
      ['nft_quarantine with labels', (e) => (target(e).labels = { a: 'b' })],
      ['an address that is none', (e) => (target(e).addresses = ['10.244.1.300'])],
      ['no addresses', (e) => (target(e).addresses = [])],
      ['a rule name with a slash', (e) => (e.rule = 'a/b')],
      ['an id without the decision', (e) => (e.id = `${trigger}/quarantine/nft_quarantine`)],
      ['trigger.eventId not a denial id', (e) => (trig(e).eventId = 'ptrace')],
      ['trigger.withinMs 0', (e) => (trig(e).withinMs = 0)],
      ['trigger.operation on seccomp', (e) => (trig(e).operation = 'open')],
      ['trigger kind apparmor without operation', (e) => (trig(e).kind = 'apparmor')],
    ]);

    const refused: ActionEvent = {
      ...taken,
      id: `${trigger}/quarantine/delete_pod/refused:min_healthy`,
      action: 'delete_pod',
      decision: 'refused',
      reason: 'min_healthy',
      repeats: 3,
      detail: 'ReplicaSet lonely would keep 0 ready of 1 replicas, fewer than minHealthyReplicas 1',
    };
    delete refused.target;
    rejects(JSON_SCHEMA.action, refused, [
      ['reason bored', (e) => (e.reason = 'bored')],
      ['refused without a reason', (e) => delete e.reason],
      ['refused with a target', (e) => (e.target = { gracePeriodSeconds: 0 })],
      ['repeats 0', (e) => (e.repeats = 0)],
      ['failed without an error', (e) => (e.decision = 'failed')],
    ]);

    const eventAction: ActionEvent = {
      ...taken,
      id: `${trigger}/tell/k8s_event/dry_run`,
      rule: 'tell',
      action: 'k8s_event',
      decision: 'dry_run',
      detail: 'dry-run: would write a KernwatchResponse Event on pod prod-shop/shop-7d9f-x2x8q',
      target: {},
    };
    rejects(JSON_SCHEMA.action, eventAction, [
      ['k8s_event with a target field', (e) => (e.target = { gracePeriodSeconds: 0 })],
      ['label without labels', (e) => (e.action = 'label')],
    ]);
  });

  test('a posture event', () => {
    const event = postureEventOf(
      NODE,
      {
        id: CID,
        name: 'app',
        pid: 2618,
        pod: { name: 'cart-5c8b7-q9w2e', namespace: 'shop' },
        checks: postureChecks({
          kernel: undefined,
          intent: undefined,
          coverage: undefined,
          lsm: { active: undefined, apparmorEnabled: false },
          actionsLogged: undefined,
        }),
      },
      Object.values(CHECK_ID),
      '2026-11-28T17:56:24.188Z',
    );
    const check = (e: JsonObject): JsonObject => {
      const checks = e.checks;
      if (!Array.isArray(checks)) throw new Error('no checks');
      return obj(checks[0]);
    };
    rejects(JSON_SCHEMA.posture, JSON.parse(postureEventToJson(event)), [
      ['schema kernwatch.v1', (e) => (e.schema = 'kernwatch.v1')],
      ['an unknown key', (e) => (e.severity = 'high')],
      ['an unknown check key', (e) => (check(e).severity = 'high')],
      ['an unknown container key', (e) => (obj(e.container).image = 'busybox')],
      ...missing('', (e) => e, POSTURE_FIELDS),
      ...missing('checks[0].', check, CHECK_FIELDS),
      ...nulls('', (e) => e, POSTURE_FIELDS),
      ...nulls('checks[0].', check, CHECK_FIELDS),
      ['check id apparmor', (e) => (check(e).id = 'apparmor')],
      ['status warn', (e) => (check(e).status = 'warn')],
      ['seccomp in section 4.1 MAC', (e) => (check(e).section = '4.1 MAC')],
      ['unknown without a fix', (e) => (check(e).fix = '')],
      ['pass with a fix', (e) => (check(e).status = 'pass')],
      ['a check twice', (e) => ((e.checks as unknown[])[1] = check(e))],
      ['a check left out', (e) => (e.checks as unknown[]).pop()],
      ['a ninth check', (e) => (e.checks as unknown[]).push(check(e))],
      ['nothing changed', (e) => (e.changed = [])],
      ['changed twice', (e) => (e.changed = ['mac', 'mac'])],
      ['changed an unknown check', (e) => (e.changed = ['apparmor'])],
      ['findings 9', (e) => (e.findings = 9)],
      ['pid 0', (e) => (e.pid = 0)],
      ['container.id short', (e) => (obj(e.container).id = 'abc')],
      ['an id of another form', (e) => (e.id = `${NODE}:${CID}`)],
    ]);
  });
});
