import type { KernwatchEvent } from '../../agent/events.js';

/**
 * Checks an event against the `kernwatch.v1` contract of docs/events.md, independently of agent/:
 * required fields and their types, optional fields omitted rather than null, the id forms, and the
 * documented mapping from each kind's verdict to `outcome`. Returns the problems found (none: []).
 */
export function schemaProblems(e: KernwatchEvent, node = 'test-node'): string[] {
  const p: string[] = [];
  const ev = e as unknown as Record<string, unknown>;
  const check = (ok: boolean, what: string): void => {
    if (!ok) p.push(what);
  };
  findNullish(ev, 'event', p);

  check(ev.schema === 'kernwatch.v1', 'schema');
  check(ev.node === node, 'node');
  check(ev.source === 'file', 'source');
  check(ev.attribution === 'unresolved', 'attribution');
  if (ev.noise === undefined) {
    check(ev.count === 1, 'count');
  } else {
    check(isUint(ev.count) && (ev.count as number) >= 1, 'count');
    p.push(...noiseProblems(ev.noise));
  }
  check(typeof ev.time === 'string' && ISO_UTC.test(ev.time) && !Number.isNaN(Date.parse(ev.time)), 'time');

  const id = typeof ev.id === 'string' ? ev.id : '';
  if (ev.auditId === undefined) {
    check(SYNTHETIC_ID.test(id.slice(node.length + 1)) && id.startsWith(`${node}:~`), `synthetic id ${id}`);
  } else {
    const auditId = typeof ev.auditId === 'string' ? ev.auditId : '';
    check(AUDIT_ID.test(auditId), `auditId ${auditId}`);
    check(new RegExp(`^${escape(node)}:${escape(auditId)}/\\d+$`).test(id), `id ${id} for ${auditId}`);
  }

  check(Array.isArray(ev.raw) && ev.raw.length > 0, 'raw non-empty');
  if (Array.isArray(ev.raw))
    check(
      ev.raw.every((r) => typeof r === 'string'),
      'raw strings',
    );

  const proc = ev.process as Record<string, unknown> | undefined;
  if (proc === undefined || typeof proc !== 'object') {
    p.push('process');
  } else {
    check(isUint(proc.pid), 'process.pid');
    for (const k of ['ppid', 'uid', 'gid', 'auid', 'ses']) {
      check(proc[k] === undefined || isUint(proc[k]), `process.${k}`);
    }
    for (const k of ['comm', 'exe', 'subj', 'cmdline', 'cwd']) {
      check(proc[k] === undefined || typeof proc[k] === 'string', `process.${k}`);
    }
    for (const k of Object.keys(proc)) check(PROCESS_KEYS.has(k), `unknown process key ${k}`);
  }

  for (const k of Object.keys(ev)) check(EVENT_KEYS.has(k), `unknown event key ${k}`);
  const details = ['seccomp', 'apparmor', 'selinux'].filter((k) => ev[k] !== undefined);
  check(details.length === 1 && details[0] === ev.kind, `kind ${String(ev.kind)} with ${details.join(',')}`);

  if (ev.kind === 'seccomp' && e.seccomp !== undefined) {
    const s = e.seccomp;
    check(s.syscall === undefined || (typeof s.syscall === 'string' && s.syscall !== ''), 'seccomp.syscall');
    check(Number.isInteger(s.syscallNr) && s.syscallNr >= -1, 'seccomp.syscallNr');
    check(typeof s.arch === 'string' && s.arch !== '', 'seccomp.arch');
    check(typeof s.compat === 'boolean', 'seccomp.compat');
    check(SECCOMP_OUTCOME.has(s.action), 'seccomp.action');
    check(isUint(s.signal), 'seccomp.signal');
    check(typeof s.code === 'string', 'seccomp.code');
    check(s.errno === undefined || (s.action === 'ERRNO' && isUint(s.errno) && s.errno > 0), 'seccomp.errno');
    check(s.errnoName === undefined || s.errno !== undefined, 'seccomp.errnoName without errno');
    check(SECCOMP_OUTCOME.get(s.action) === ev.outcome, `outcome ${String(ev.outcome)} for ${s.action}`);
  } else if (ev.kind === 'apparmor' && e.apparmor !== undefined) {
    const a = e.apparmor;
    check(APPARMOR_OUTCOME.has(a.mode), 'apparmor.mode');
    check(typeof a.operation === 'string', 'apparmor.operation');
    check(typeof a.profile === 'string', 'apparmor.profile');
    check(APPARMOR_OUTCOME.get(a.mode) === ev.outcome, `outcome ${String(ev.outcome)} for ${a.mode}`);
  } else if (ev.kind === 'selinux' && e.selinux !== undefined) {
    const s = e.selinux;
    check(Array.isArray(s.permissions) && s.permissions.every((x) => typeof x === 'string'), 'perms');
    check(typeof s.scontext === 'string' && typeof s.tcontext === 'string', 'selinux contexts');
    check(typeof s.tclass === 'string', 'selinux.tclass');
    check(typeof s.permissive === 'boolean', 'selinux.permissive');
    check(ev.outcome === (s.permissive ? 'allowed' : 'blocked'), `outcome ${String(ev.outcome)} for selinux`);
  } else {
    p.push(`kind ${String(ev.kind)}`);
  }
  return p;
}

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const AUDIT_ID = /^\d+\.\d{3}:\d+$/;
const SYNTHETIC_ID = /^~\d+-\d+-[0-9a-f]{8}\/\d+$/;

/** docs/events.md field order: the tests' own copy of the contract, independent of agent/. */
export const EVENT_KEY_ORDER: readonly string[] = [
  'schema',
  'id',
  'auditId',
  'time',
  'node',
  'source',
  'kind',
  'outcome',
  'count',
  'noise',
  'process',
  'seccomp',
  'apparmor',
  'selinux',
  'container',
  'pod',
  'attribution',
  'raw',
];

const EVENT_KEYS = new Set(EVENT_KEY_ORDER);
const PROCESS_KEYS = new Set([
  'pid',
  'ppid',
  'comm',
  'exe',
  'uid',
  'gid',
  'auid',
  'ses',
  'subj',
  'cmdline',
  'cwd',
]);

/** docs/events.md: seccomp KILL_* → killed; ERRNO, TRAP, USER_NOTIF, TRACE → blocked; LOG → logged. */
export const SECCOMP_OUTCOME: ReadonlyMap<string, string> = new Map([
  ['KILL_PROCESS', 'killed'],
  ['KILL_THREAD', 'killed'],
  ['TRAP', 'blocked'],
  ['ERRNO', 'blocked'],
  ['USER_NOTIF', 'blocked'],
  ['TRACE', 'blocked'],
  ['LOG', 'logged'],
  ['ALLOW', 'allowed'],
]);

/** docs/events.md: AppArmor DENIED → blocked, ALLOWED (complain) → allowed, AUDIT → logged; KILL kills. */
const APPARMOR_OUTCOME: ReadonlyMap<string, string> = new Map([
  ['DENIED', 'blocked'],
  ['ALLOWED', 'allowed'],
  ['AUDIT', 'logged'],
  ['KILL', 'killed'],
]);

/**
 * docs/events.md: `noise` (only on an event standing for denials the noise filter held back) is
 * { reason: "coalesced" | "rate_limited", firstTime, lastTime }, ISO times with firstTime <= lastTime.
 */
function noiseProblems(v: unknown): string[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return ['noise'];
  const n = v as Record<string, unknown>;
  const out: string[] = [];
  if (n.reason !== 'coalesced' && n.reason !== 'rate_limited') out.push(`noise.reason ${String(n.reason)}`);
  const times = [n.firstTime, n.lastTime];
  if (!times.every((t) => typeof t === 'string' && ISO_UTC.test(t) && !Number.isNaN(Date.parse(t)))) {
    out.push('noise times');
  } else if (Date.parse(n.firstTime as string) > Date.parse(n.lastTime as string)) {
    out.push('noise.firstTime after noise.lastTime');
  }
  for (const k of Object.keys(n)) if (!NOISE_KEYS.has(k)) out.push(`unknown noise key ${k}`);
  return out;
}

const NOISE_KEYS = new Set(['reason', 'firstTime', 'lastTime']);

function isUint(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Optional fields are omitted when absent, never null (and no number may be NaN). */
function findNullish(v: unknown, path: string, out: string[]): void {
  if (v === null || v === undefined) {
    out.push(`${path} is ${String(v)}`);
  } else if (typeof v === 'number') {
    if (!Number.isFinite(v)) out.push(`${path} is ${String(v)}`);
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => {
      findNullish(x, `${path}[${String(i)}]`, out);
    });
  } else if (typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) findNullish(x, `${path}.${k}`, out);
  }
}
