import { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { manifestPosture } from '../../../agent/posture/manifest-posture.js';
import { manifestObjects } from '../../../agent/posture/manifest-workloads.js';
import { specChecks } from '../../../agent/posture/spec-checks.js';
import { specIntentOf } from '../../../agent/posture/spec-intent.js';
import { KernwatchError } from '../../../agent/errors.js';

const HARDENED = {
  seccompProfile: { type: 'RuntimeDefault' },
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  runAsUser: 10001,
  capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
};

function pod(securityContext: Record<string, unknown>, extra: Record<string, unknown> = {}): V1Pod {
  // The served JSON, which is what specIntentOf reads.
  return Object.assign(new V1Pod(), {
    metadata: { name: 'p', namespace: 'ns', labels: { app: 'web' } },
    spec: { containers: [{ name: 'app', image: 'x', securityContext }], ...extra },
  });
}

const BOTH = { ingress: ['deny-all'], egress: ['deny-all'] };

function statuses(p: V1Pod, coverage = BOTH): Record<string, string> {
  const intent = specIntentOf(p, 'app');
  if (intent === undefined) throw new Error('no intent');
  return Object.fromEntries(specChecks(intent, coverage).map((c) => [c.id, c.status]));
}

describe('specChecks', () => {
  it('passes a hardened spec on everything but seccomp_logging (RuntimeDefault is silent)', () => {
    expect(statuses(pod(HARDENED))).toEqual({
      seccomp: 'pass',
      seccomp_logging: 'fail',
      no_new_privs: 'pass',
      capabilities: 'pass',
      mac: 'pass',
      readonly_root: 'pass',
      run_as_non_root: 'pass',
      network_policy: 'pass',
    });
  });

  it('leaves a Localhost profile unknown for logging: its file is on the node', () => {
    const s = statuses(
      pod({ ...HARDENED, seccompProfile: { type: 'Localhost', localhostProfile: 'log.json' } }),
    );
    expect(s.seccomp).toBe('pass');
    expect(s.seccomp_logging).toBe('unknown');
  });

  it('fails an empty securityContext on every check it governs', () => {
    expect(statuses(pod({}), { ingress: [], egress: [] })).toEqual({
      seccomp: 'fail',
      seccomp_logging: 'fail',
      no_new_privs: 'fail',
      capabilities: 'fail',
      mac: 'pass',
      readonly_root: 'fail',
      run_as_non_root: 'fail',
      network_policy: 'fail',
    });
  });

  it('fails privileged on seccomp, escalation, capabilities and MAC whatever else it sets', () => {
    const s = statuses(pod({ ...HARDENED, privileged: true }));
    expect([s.seccomp, s.no_new_privs, s.capabilities, s.mac]).toEqual(['fail', 'fail', 'fail', 'fail']);
  });

  it('judges MAC and users from the fields that name them', () => {
    expect(statuses(pod({ ...HARDENED, appArmorProfile: { type: 'Unconfined' } })).mac).toBe('fail');
    expect(statuses(pod({ ...HARDENED, seLinuxOptions: { type: 'spc_t' } })).mac).toBe('fail');
    expect(statuses(pod({ ...HARDENED, seLinuxOptions: { type: 'container_t' } })).mac).toBe('pass');
    expect(statuses(pod({ ...HARDENED, runAsUser: 0 })).run_as_non_root).toBe('fail');
    const noUser: Record<string, unknown> = { ...HARDENED, runAsUser: undefined };
    expect(statuses(pod(noUser)).run_as_non_root).toBe('pass');
    expect(statuses(pod({ ...noUser, runAsNonRoot: false })).run_as_non_root).toBe('fail');
    // Pod-level fields count when the container leaves them unset.
    expect(
      statuses(pod({ ...noUser, runAsNonRoot: undefined }, { securityContext: { runAsUser: 7 } }))
        .run_as_non_root,
    ).toBe('pass');
  });

  it('fails adding capabilities beyond NET_BIND_SERVICE and host networking', () => {
    expect(
      statuses(pod({ ...HARDENED, capabilities: { drop: ['ALL'], add: ['NET_RAW'] } })).capabilities,
    ).toBe('fail');
    expect(statuses(pod({ ...HARDENED, capabilities: { add: ['NET_BIND_SERVICE'] } })).capabilities).toBe(
      'fail',
    );
    expect(statuses(pod(HARDENED, { hostNetwork: true })).network_policy).toBe('fail');
  });
});

describe('manifestObjects and manifestPosture', () => {
  const MANIFEST = `
apiVersion: batch/v1
kind: CronJob
metadata: { name: nightly, namespace: jobs }
spec:
  schedule: '@daily'
  jobTemplate:
    spec:
      template:
        metadata: { labels: { app: nightly } }
        spec:
          initContainers: [{ name: init, image: x }]
          containers: [{ name: run, image: x, securityContext: { readOnlyRootFilesystem: true } }]
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    metadata: { name: solo, labels: { app: solo } }
    spec: { containers: [{ name: app, image: x }] }
  - apiVersion: v1
    kind: ConfigMap
    metadata: { name: ignored }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: deny, namespace: jobs }
spec: { podSelector: { matchLabels: { app: nightly } }, policyTypes: [Ingress, Egress] }
`;

  it('finds templates where each controller keeps them, and policies by namespace', () => {
    const objects = manifestObjects(MANIFEST, 'm.yaml');
    expect(objects.workloads.map((w) => `${w.kind} ${w.namespace}/${w.name}`)).toEqual([
      'CronJob jobs/nightly',
      'Pod default/solo',
    ]);
    const report = manifestPosture(objects, 'm.yaml');
    expect(report.node).toBe('manifest:m.yaml');
    expect(report.containers.map((c) => c.id)).toEqual([
      'CronJob/jobs/nightly/init',
      'CronJob/jobs/nightly/run',
      'Pod/default/solo/app',
    ]);
    const check = (i: number, id: string): string | undefined =>
      report.containers[i]?.checks.find((c) => c.id === id)?.status;
    expect(check(1, 'network_policy')).toBe('pass');
    expect(check(1, 'readonly_root')).toBe('pass');
    expect(check(0, 'readonly_root')).toBe('fail');
    expect(check(2, 'network_policy')).toBe('fail');
  });

  it('reads YAML 1.1 as kubectl does: `privileged: yes` is privileged', () => {
    const yaml = `kind: Pod
metadata: { name: p, namespace: ns }
spec:
  containers:
    - name: app
      image: x
      securityContext: { privileged: yes, readOnlyRootFilesystem: on, allowPrivilegeEscalation: no }
`;
    const report = manifestPosture(manifestObjects(yaml, 'p.yaml'), 'p.yaml');
    const status = (id: string): string | undefined =>
      report.containers[0]?.checks.find((c) => c.id === id)?.status;
    expect(status('capabilities')).toBe('fail');
    expect(status('seccomp')).toBe('fail');
    expect(status('readonly_root')).toBe('pass');
  });

  it('lists the kinds it skipped', () => {
    const objects = manifestObjects(
      'kind: Deployement\nmetadata: { name: typo }\n---\nkind: Service\n',
      'x.yaml',
    );
    expect(objects.workloads).toEqual([]);
    expect(objects.skippedKinds).toEqual(['Deployement', 'Service']);
  });

  it('names the document that is not YAML', () => {
    expect(() => manifestObjects('kind: Pod\n---\nkind: [\n', 'bad.yaml')).toThrow(KernwatchError);
    expect(() => manifestObjects('kind: Pod\n---\nkind: [\n', 'bad.yaml')).toThrow(/bad.yaml: document 2/);
  });
});
