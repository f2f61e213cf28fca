import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1DaemonSet, V1PolicyRule } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../../../agent/config/config-loader.js';
import type { AgentConfig } from '../../../agent/config/config-schema.js';
import { accessNeeds } from '../../../agent/doctor/api-access.js';
import {
  agentContainer,
  applyJsonPatch,
  deployJsonPatch,
  deployObjects,
  objectOf,
  type KubeObject,
} from '../../helpers/deploy-manifest.js';
import { runCli } from '../../helpers/cli-run.js';

const objects = deployObjects('daemonset.yaml');
const daemonSet = objectOf(objects, 'DaemonSet', 'kernwatch');
const ds = daemonSet as unknown as V1DaemonSet;
const podSpec = ds.spec?.template.spec;
const agent = agentContainer(daemonSet);
const scratch = mkdtempSync(join(tmpdir(), 'kernwatch-deploy-'));
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** The ConfigMap's config as the agent loads it; `rules` replaces responses.rules. */
async function configOfConfigMap(rules?: unknown[]): Promise<AgentConfig> {
  const map = objectOf(objects, 'ConfigMap', 'kernwatch-config') as KubeObject & {
    data: Record<string, string>;
  };
  const text = map.data['config.yaml'] ?? '';
  const path = join(scratch, 'config.yaml');
  if (rules === undefined) {
    writeFileSync(path, text);
  } else {
    const doc = parse(text) as { responses: { rules: unknown[] } };
    doc.responses.rules = rules;
    writeFileSync(path, stringify(doc));
  }
  return loadConfig(path, {}, { NODE_NAME: 'node-a' });
}

/** `verb group/resource` for every verb a set of ClusterRole rules grants. */
function grants(rules: readonly V1PolicyRule[]): string[] {
  return rules
    .flatMap((r) =>
      (r.apiGroups ?? []).flatMap((g) =>
        (r.resources ?? []).flatMap((res) => r.verbs.map((v) => `${v} ${g === '' ? '' : `${g}/`}${res}`)),
      ),
    )
    .sort();
}

function needed(config: Pick<AgentConfig, 'kubernetes' | 'responses' | 'posture'>): string[] {
  return accessNeeds(config)
    .map((n) => `${n.verb} ${n.group === '' ? '' : `${n.group}/`}${n.resource}`)
    .sort();
}

interface PostureRun {
  code: number | null;
  report: { containers: { name: string; checks: { id: string; status: string; detail: string }[] }[] };
}

async function postureOfManifest(path: string): Promise<PostureRun> {
  const { code, stdout, stderr } = await runCli(['posture', '--manifest', path, '--json']);
  if (code !== 0 && code !== 1) throw new Error(`posture --manifest exited ${String(code)}: ${stderr}`);
  return { code, report: JSON.parse(stdout) as PostureRun['report'] };
}

/** `<container> <check> <status>` for every check that is not a pass. */
function findings(run: PostureRun): string[] {
  return run.report.containers
    .flatMap((c) => c.checks.filter((k) => k.status !== 'pass').map((k) => `${c.name} ${k.id} ${k.status}`))
    .sort();
}

describe('deploy/daemonset.yaml', () => {
  it('holds the namespace, account, role, binding, config, DaemonSet, metrics Service and NetworkPolicy', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Namespace/kernwatch',
      'ResourceQuota/kernwatch-node-critical',
      'ServiceAccount/kernwatch',
      'ClusterRole/kernwatch',
      'ClusterRoleBinding/kernwatch',
      'ConfigMap/kernwatch-config',
      'DaemonSet/kernwatch',
      'Service/kernwatch-metrics',
      'NetworkPolicy/kernwatch',
    ]);
    for (const o of objects.filter((o) => o.kind !== 'Namespace' && !o.kind.startsWith('Cluster'))) {
      expect(o.metadata.namespace, `${o.kind} namespace`).toBe('kernwatch');
    }
    const ns = objectOf(objects, 'Namespace');
    expect(ns.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('privileged');
    const binding = objectOf(objects, 'ClusterRoleBinding') as KubeObject & {
      roleRef: { name: string };
      subjects: { kind: string; name: string; namespace: string }[];
    };
    expect(binding.roleRef.name).toBe('kernwatch');
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'kernwatch', namespace: 'kernwatch' }]);
    expect(podSpec?.serviceAccountName).toBe('kernwatch');
  });

  it('grants exactly the API verbs the default configuration uses', async () => {
    const config = await configOfConfigMap();
    const role = objectOf(objects, 'ClusterRole', 'kernwatch') as KubeObject & { rules: V1PolicyRule[] };
    expect(grants(role.rules)).toEqual(needed(config));
  });

  it('with deploy/responses-rbac.yaml, grants exactly what rules with every action type use', async () => {
    const base = objectOf(objects, 'ClusterRole', 'kernwatch') as KubeObject & { rules: V1PolicyRule[] };
    const extra = deployObjects('responses-rbac.yaml');
    const role = objectOf(extra, 'ClusterRole', 'kernwatch-responses') as KubeObject & {
      rules: V1PolicyRule[];
    };
    const binding = objectOf(extra, 'ClusterRoleBinding', 'kernwatch-responses') as KubeObject & {
      subjects: { name: string; namespace: string }[];
    };
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'kernwatch', namespace: 'kernwatch' }]);
    const all = await configOfConfigMap([
      {
        name: 'all',
        match: { kind: 'seccomp' },
        actions: [
          { type: 'delete_pod' },
          { type: 'nft_quarantine' },
          { type: 'netpol_quarantine' },
          { type: 'label', labels: { quarantined: 'true' } },
          { type: 'k8s_event' },
        ],
      },
    ]);
    expect(all.responses.rules[0]?.actions).toHaveLength(5);
    const granted = new Set([...grants(base.rules), ...grants(role.rules)]);
    expect(needed(all).filter((n) => !granted.has(n))).toEqual([]);
    // Nothing beyond: every verb of the responses role is one some action needs.
    const used = new Set(needed(all));
    expect(grants(role.rules).filter((g) => !used.has(g))).toEqual([]);
  });

  it('runs the agent unprivileged: capabilities, read-only root, seccomp, no host namespaces', () => {
    const sc = agent.securityContext;
    expect(sc?.privileged).toBe(false);
    expect(sc?.allowPrivilegeEscalation).toBe(false);
    expect(sc?.readOnlyRootFilesystem).toBe(true);
    expect(sc?.capabilities?.drop).toEqual(['ALL']);
    expect(sc?.capabilities?.add).toBeUndefined();
    expect(sc?.seccompProfile?.type).toBe('RuntimeDefault');
    expect(podSpec?.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
    expect(podSpec?.hostPID).toBe(false);
    expect(podSpec?.hostIPC).toBe(false);
    expect(podSpec?.hostNetwork).toBe(false);
  });

  it('mounts the host read-only where it reads, and only its state dir writable', async () => {
    const config = await configOfConfigMap();
    const mounts = new Map((agent.volumeMounts ?? []).map((m) => [m.mountPath, m]));
    const volumes = new Map((podSpec?.volumes ?? []).map((v) => [v.name, v]));
    const hostPathOf = (mountPath: string): string | undefined => {
      const m = mounts.get(mountPath);
      return m === undefined ? undefined : volumes.get(m.name)?.hostPath?.path;
    };
    expect(hostPathOf(config.procRoot)).toBe('/proc');
    expect(hostPathOf(config.sysRoot)).toBe('/sys');
    // auditd's log and the journals, at the paths auto-detection looks at.
    expect(hostPathOf('/var/log')).toBe('/var/log');
    expect(hostPathOf('/run/log')).toBe('/run/log');
    expect(hostPathOf('/etc/audit')).toBe('/etc/audit');
    expect(config.cri.socket).toBeDefined();
    expect(hostPathOf(config.cri.socket ?? '')).toBe(config.cri.socket);
    expect(volumes.get(mounts.get(config.cri.socket ?? '')?.name ?? '')?.hostPath?.type).toBe('Socket');
    expect(hostPathOf(config.stateDir)).toBe('/var/lib/kernwatch');
    for (const m of agent.volumeMounts ?? []) {
      expect(m.readOnly === true, `${m.mountPath} read-only`).toBe(m.mountPath !== config.stateDir);
    }
    // The config the agent is started with is the ConfigMap's, and the NATS credentials come from a Secret.
    const configArg = agent.args?.[(agent.args.indexOf('--config') ?? -1) + 1] ?? '';
    const configMount = [...mounts.values()].find((m) => configArg.startsWith(`${m.mountPath}/`));
    expect(volumes.get(configMount?.name ?? '')?.configMap?.name).toBe('kernwatch-config');
    const nats = config.sinks.find((s) => s.type === 'nats');
    const credsMount = [...mounts.values()].find((m) =>
      nats?.type === 'nats' ? (nats.credsFile ?? '').startsWith(`${m.mountPath}/`) : false,
    );
    expect(volumes.get(credsMount?.name ?? '')?.secret?.secretName).toBe('kernwatch-nats');
  });

  it('probes /healthz and /readyz on the metrics port the config serves, with resources set', async () => {
    const config = await configOfConfigMap();
    const port = Number(config.metrics.addr?.split(':').pop());
    const named = agent.ports?.find((p) => p.name === 'metrics');
    expect(named?.containerPort).toBe(port);
    expect(agent.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(agent.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(agent.livenessProbe?.httpGet?.port).toBe('metrics');
    expect(agent.readinessProbe?.httpGet?.port).toBe('metrics');
    expect(agent.resources?.requests?.cpu).toBeDefined();
    expect(agent.resources?.requests?.memory).toBeDefined();
    expect(agent.resources?.limits?.memory).toBeDefined();
    const service = objectOf(objects, 'Service', 'kernwatch-metrics') as KubeObject & {
      spec: { selector: Record<string, string>; ports: { targetPort: string }[] };
    };
    expect(service.spec.selector).toEqual(ds.spec?.template.metadata?.labels);
    expect(service.spec.ports[0]?.targetPort).toBe('metrics');
  });

  it('runs on every node, first, and updates one node at a time', () => {
    expect(podSpec?.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(podSpec?.priorityClassName).toBe('system-node-critical');
    // Admitted where the critical classes are quota-limited (GKE): a quota scoped to the class.
    const quota = objectOf(objects, 'ResourceQuota') as KubeObject & {
      spec: {
        scopeSelector: { matchExpressions: { scopeName: string; operator: string; values: string[] }[] };
      };
    };
    expect(quota.spec.scopeSelector.matchExpressions).toEqual([
      { scopeName: 'PriorityClass', operator: 'In', values: ['system-node-critical'] },
    ]);
    expect(ds.spec?.updateStrategy?.type).toBe('RollingUpdate');
    expect(ds.spec?.updateStrategy?.rollingUpdate?.maxUnavailable).toBe(1);
    const env = new Map((agent.env ?? []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
    expect(env.get('POD_UID')).toBe('metadata.uid');
    expect(env.get('NODE_NAME')).toBe('spec.nodeName');
  });

  it('nft-responses.patch.json adds only NET_ADMIN and the host network', () => {
    const patched = applyJsonPatch(ds, deployJsonPatch('nft-responses.patch.json'));
    const spec = patched.spec?.template.spec;
    expect(spec?.hostNetwork).toBe(true);
    expect(spec?.dnsPolicy).toBe('ClusterFirstWithHostNet');
    expect(spec?.containers[0]?.name).toBe('kernwatch');
    expect(spec?.containers[0]?.securityContext?.capabilities?.add).toEqual(['NET_ADMIN']);
    expect(spec?.containers[0]?.securityContext?.privileged).toBe(false);
  });
});

describe('kernwatch posture --manifest over deploy/daemonset.yaml', () => {
  // The findings the agent's job requires, each explained in docs/security.md: uid 0 (the root-only audit
  // log and CRI socket are read as their owner; Kubernetes gives a non-root process no capabilities) and
  // RuntimeDefault's silent ERRNO (a logging Localhost profile must be installed on every node first).
  const REQUIRED = ['kernwatch run_as_non_root fail', 'kernwatch seccomp_logging fail'];

  it('lists only the findings its job requires', async () => {
    const run = await postureOfManifest(join('deploy', 'daemonset.yaml'));
    expect(run.code).toBe(1);
    expect(run.report.containers.map((c) => c.name)).toEqual(['kernwatch']);
    expect(findings(run)).toEqual(REQUIRED);
    const caps = run.report.containers[0]?.checks.find((k) => k.id === 'capabilities');
    expect(caps?.detail).toBe('spec: drops ALL');
  });

  it('a manifest without any workload is an error (exit 2), not a pass', async () => {
    const path = join(scratch, 'typo.yaml');
    writeFileSync(path, 'apiVersion: apps/v1\nkind: Deployement\nmetadata: { name: web }\n');
    const result = await runCli(['posture', '--manifest', path]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`No workload with a pod template in ${path} (only Deployement).`);
  });

  it('with nft responses: NET_ADMIN, and NetworkPolicies no longer apply (host network)', async () => {
    const patched = objects.map((o) =>
      o.kind === 'DaemonSet' ? applyJsonPatch(o, deployJsonPatch('nft-responses.patch.json')) : o,
    );
    const path = join(scratch, 'nft.yaml');
    writeFileSync(path, patched.map((o) => stringify(o)).join('---\n'));
    const run = await postureOfManifest(path);
    expect(findings(run)).toEqual(
      [...REQUIRED, 'kernwatch capabilities fail', 'kernwatch network_policy fail'].sort(),
    );
    const caps = run.report.containers[0]?.checks.find((k) => k.id === 'capabilities');
    expect(caps?.detail).toContain('NET_ADMIN');
  });
});

describe('deploy/*.yaml against the Kubernetes API types', () => {
  // The client's generated models know every field of the API: an object that does not survive a round
  // trip through them holds a field the API server would drop or refuse (a typo such as
  // readOnlyRootFileSystem would silently leave the root writable).
  const TYPES: Readonly<Record<string, string>> = {
    Namespace: 'V1Namespace',
    ResourceQuota: 'V1ResourceQuota',
    ServiceAccount: 'V1ServiceAccount',
    ClusterRole: 'V1ClusterRole',
    ClusterRoleBinding: 'V1ClusterRoleBinding',
    ConfigMap: 'V1ConfigMap',
    DaemonSet: 'V1DaemonSet',
    Service: 'V1Service',
    NetworkPolicy: 'V1NetworkPolicy',
  };

  async function roundTrip(object: KubeObject): Promise<unknown> {
    const { ObjectSerializer } =
      (await import('@kubernetes/client-node/dist/gen/models/ObjectSerializer.js')) as {
        ObjectSerializer: {
          serialize(data: unknown, type: string, format: string): unknown;
          deserialize(data: unknown, type: string, format: string): unknown;
        };
      };
    const type = TYPES[object.kind];
    if (type === undefined) throw new Error(`no API type for ${object.kind}`);
    return ObjectSerializer.serialize(ObjectSerializer.deserialize(object, type, ''), type, '');
  }

  it('every object has only fields the API knows', async () => {
    const all = [...objects, ...deployObjects('responses-rbac.yaml')];
    for (const o of all) expect(await roundTrip(o), `${o.kind}/${o.metadata.name}`).toEqual(o);
    const patched = applyJsonPatch(daemonSet, deployJsonPatch('nft-responses.patch.json'));
    expect(await roundTrip(patched)).toEqual(patched);
  });

  it('would notice a misspelt field', async () => {
    const typo = structuredClone(daemonSet) as KubeObject & {
      spec: { template: { spec: { containers: { securityContext: Record<string, unknown> }[] } } };
    };
    const sc = typo.spec.template.spec.containers[0]?.securityContext ?? {};
    sc.readOnlyRootFileSystem = true;
    expect(await roundTrip(typo)).not.toEqual(typo);
  });
});
