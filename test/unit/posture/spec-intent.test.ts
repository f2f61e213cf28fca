import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, test } from 'vitest';
import { specIntentOf } from '../../../agent/posture/spec-intent.js';
import type { SpecIntent } from '../../../agent/posture/posture-types.js';
import { fakePod } from '../../helpers/fake-kube-api.js';

type Json = Record<string, unknown>;

/**
 * A pod as the API server serves it (fakePod), with securityContexts and annotations added the way a
 * manifest sets them. `containers` maps each container name to its securityContext.
 */
function pod(input: {
  containers?: Record<string, Json | undefined>;
  initContainers?: Record<string, Json | undefined>;
  ephemeralContainers?: Record<string, Json | undefined>;
  podSecurityContext?: Json;
  annotations?: Record<string, string>;
  hostNetwork?: boolean;
}): V1Pod {
  const object = fakePod({
    name: 'web-7d4b9c6f5-x2x8q',
    namespace: 'shop',
    nodeName: 'node-a',
    ...(input.annotations === undefined ? {} : { annotations: input.annotations }),
    ...(input.hostNetwork === undefined ? {} : { hostNetwork: input.hostNetwork }),
    containers: Object.keys(input.containers ?? { app: undefined }),
  });
  const spec = object.spec as Json;
  const withContext = (entries: Record<string, Json | undefined>): Json[] =>
    Object.entries(entries).map(([name, securityContext]) => ({
      name,
      image: 'registry.example/app:1',
      ...(securityContext === undefined ? {} : { securityContext }),
    }));
  if (input.containers !== undefined) spec.containers = withContext(input.containers);
  if (input.initContainers !== undefined) spec.initContainers = withContext(input.initContainers);
  if (input.ephemeralContainers !== undefined)
    spec.ephemeralContainers = withContext(input.ephemeralContainers);
  if (input.podSecurityContext !== undefined) spec.securityContext = input.podSecurityContext;
  // The served JSON; client-node would turn creationTimestamp into a Date, which nothing here reads.
  return object as unknown as V1Pod;
}

/** What a container with nothing set asks for. */
const NOTHING_SET: SpecIntent = {
  seccompProfile: 'Unset',
  privileged: false,
  readOnlyRootFilesystem: false,
  dropsAllCapabilities: false,
  addedCapabilities: [],
  hostNetwork: false,
};

describe('finding the container', () => {
  test('a container the spec does not have gives undefined', () => {
    expect(specIntentOf(pod({ containers: { app: undefined } }), 'sidecar')).toBeUndefined();
  });

  test('a pod without a spec gives undefined', () => {
    const served: unknown = { metadata: { name: 'x' } };
    expect(specIntentOf(served as V1Pod, 'app')).toBeUndefined();
  });

  test('a container with nothing set asks for nothing', () => {
    expect(specIntentOf(pod({}), 'app')).toEqual(NOTHING_SET);
  });

  test('init and ephemeral containers are found with their own securityContext', () => {
    const p = pod({
      containers: { app: undefined },
      initContainers: { migrate: { runAsUser: 1001 } },
      ephemeralContainers: { debugger: { privileged: true } },
    });
    expect(specIntentOf(p, 'migrate')).toEqual({ ...NOTHING_SET, runAsUser: 1001 });
    expect(specIntentOf(p, 'debugger')).toEqual({
      ...NOTHING_SET,
      privileged: true,
      allowPrivilegeEscalation: true,
    });
  });

  test('a restricted container reads back field by field', () => {
    const p = pod({
      containers: {
        app: {
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          runAsUser: 10001,
          capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
          seccompProfile: { type: 'RuntimeDefault' },
          appArmorProfile: { type: 'RuntimeDefault' },
        },
      },
    });
    expect(specIntentOf(p, 'app')).toEqual({
      seccompProfile: 'RuntimeDefault',
      appArmorProfile: 'RuntimeDefault',
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: 10001,
      dropsAllCapabilities: true,
      addedCapabilities: ['NET_BIND_SERVICE'],
      hostNetwork: false,
    });
  });
});

describe('seccomp, in the kubelet order: container field, container annotation, pod field, pod annotation', () => {
  test('the container field wins over the pod field', () => {
    const p = pod({
      containers: { app: { seccompProfile: { type: 'Unconfined' } } },
      podSecurityContext: { seccompProfile: { type: 'RuntimeDefault' } },
    });
    expect(specIntentOf(p, 'app')?.seccompProfile).toBe('Unconfined');
  });

  test('the pod field applies to a container without one', () => {
    const p = pod({ podSecurityContext: { seccompProfile: { type: 'RuntimeDefault' } } });
    expect(specIntentOf(p, 'app')?.seccompProfile).toBe('RuntimeDefault');
  });

  test('Localhost carries the profile path', () => {
    const p = pod({
      containers: { app: { seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/audit.json' } } },
    });
    const intent = specIntentOf(p, 'app');
    expect(intent?.seccompProfile).toBe('Localhost');
    expect(intent?.seccompLocalhostProfile).toBe('profiles/audit.json');
  });

  test('Localhost without a profile path is what the kubelet runs: Unconfined', () => {
    const p = pod({ containers: { app: { seccompProfile: { type: 'Localhost' } } } });
    const intent = specIntentOf(p, 'app');
    expect(intent?.seccompProfile).toBe('Unconfined');
    expect(intent).not.toHaveProperty('seccompLocalhostProfile');
  });

  test('a field type the kubelet does not know runs Unconfined', () => {
    const p = pod({ containers: { app: { seccompProfile: { type: 'Strict' } } } });
    expect(specIntentOf(p, 'app')?.seccompProfile).toBe('Unconfined');
  });

  test.each([
    ['runtime/default', 'RuntimeDefault', undefined],
    ['docker/default', 'RuntimeDefault', undefined],
    ['unconfined', 'Unconfined', undefined],
    ['localhost/profiles/audit.json', 'Localhost', 'profiles/audit.json'],
  ])('container annotation %s gives %s', (value, type, path) => {
    const p = pod({ annotations: { 'container.seccomp.security.alpha.kubernetes.io/app': value } });
    const intent = specIntentOf(p, 'app');
    expect(intent?.seccompProfile).toBe(type);
    expect(intent?.seccompLocalhostProfile).toBe(path);
  });

  test('the pod annotation applies last', () => {
    const p = pod({ annotations: { 'seccomp.security.alpha.kubernetes.io/pod': 'runtime/default' } });
    expect(specIntentOf(p, 'app')?.seccompProfile).toBe('RuntimeDefault');
  });

  test('the container field wins over the container annotation', () => {
    const p = pod({
      containers: { app: { seccompProfile: { type: 'RuntimeDefault' } } },
      annotations: { 'container.seccomp.security.alpha.kubernetes.io/app': 'unconfined' },
    });
    expect(specIntentOf(p, 'app')?.seccompProfile).toBe('RuntimeDefault');
  });

  test('the container annotation wins over the pod field', () => {
    const p = pod({
      podSecurityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      annotations: { 'container.seccomp.security.alpha.kubernetes.io/app': 'unconfined' },
    });
    expect(specIntentOf(p, 'app')?.seccompProfile).toBe('Unconfined');
  });

  test('the pod field wins over the pod annotation', () => {
    const p = pod({
      podSecurityContext: { seccompProfile: { type: 'Unconfined' } },
      annotations: { 'seccomp.security.alpha.kubernetes.io/pod': 'runtime/default' },
    });
    expect(specIntentOf(p, 'app')?.seccompProfile).toBe('Unconfined');
  });

  test("another container's annotation does not apply", () => {
    const p = pod({
      containers: { app: undefined, proxy: undefined },
      annotations: { 'container.seccomp.security.alpha.kubernetes.io/proxy': 'runtime/default' },
    });
    expect(specIntentOf(p, 'app')?.seccompProfile).toBe('Unset');
    expect(specIntentOf(p, 'proxy')?.seccompProfile).toBe('RuntimeDefault');
  });

  test('an annotation value the API server would not convert is skipped', () => {
    const p = pod({
      annotations: {
        'container.seccomp.security.alpha.kubernetes.io/app': 'localhost/',
        'seccomp.security.alpha.kubernetes.io/pod': 'runtime/default',
      },
    });
    expect(specIntentOf(p, 'app')?.seccompProfile).toBe('RuntimeDefault');
  });
});

describe('AppArmor: container field, container annotation, pod field', () => {
  test('the container field wins over the pod field', () => {
    const p = pod({
      containers: { app: { appArmorProfile: { type: 'Localhost', localhostProfile: 'k8s-nginx' } } },
      podSecurityContext: { appArmorProfile: { type: 'RuntimeDefault' } },
    });
    expect(specIntentOf(p, 'app')?.appArmorProfile).toBe('Localhost/k8s-nginx');
  });

  test('the pod field applies to a container without one', () => {
    const p = pod({ podSecurityContext: { appArmorProfile: { type: 'Unconfined' } } });
    expect(specIntentOf(p, 'app')?.appArmorProfile).toBe('Unconfined');
  });

  test.each([
    ['runtime/default', 'RuntimeDefault'],
    ['unconfined', 'Unconfined'],
    ['localhost/k8s-apparmor-example-deny-write', 'Localhost/k8s-apparmor-example-deny-write'],
  ])('container annotation %s gives %s', (value, expected) => {
    const p = pod({ annotations: { 'container.apparmor.security.beta.kubernetes.io/app': value } });
    expect(specIntentOf(p, 'app')?.appArmorProfile).toBe(expected);
  });

  test('the container annotation wins over the pod field', () => {
    const p = pod({
      podSecurityContext: { appArmorProfile: { type: 'RuntimeDefault' } },
      annotations: { 'container.apparmor.security.beta.kubernetes.io/app': 'unconfined' },
    });
    expect(specIntentOf(p, 'app')?.appArmorProfile).toBe('Unconfined');
  });

  test('the container field wins over the container annotation', () => {
    const p = pod({
      containers: { app: { appArmorProfile: { type: 'RuntimeDefault' } } },
      annotations: { 'container.apparmor.security.beta.kubernetes.io/app': 'unconfined' },
    });
    expect(specIntentOf(p, 'app')?.appArmorProfile).toBe('RuntimeDefault');
  });

  test('an annotation value the kubelet does not know is ignored', () => {
    const p = pod({
      annotations: { 'container.apparmor.security.beta.kubernetes.io/app': 'docker-default' },
    });
    expect(specIntentOf(p, 'app')).not.toHaveProperty('appArmorProfile');
  });
});

describe('privilege escalation, users, capabilities, host network', () => {
  test('allowPrivilegeEscalation: false is kept', () => {
    const p = pod({ containers: { app: { allowPrivilegeEscalation: false } } });
    expect(specIntentOf(p, 'app')?.allowPrivilegeEscalation).toBe(false);
  });

  test('privileged implies allowPrivilegeEscalation true', () => {
    const p = pod({ containers: { app: { privileged: true } } });
    expect(specIntentOf(p, 'app')).toMatchObject({ privileged: true, allowPrivilegeEscalation: true });
  });

  test.each([['SYS_ADMIN'], ['CAP_SYS_ADMIN'], ['ALL']])(
    'adding %s implies allowPrivilegeEscalation true whatever the field says',
    (capability) => {
      const p = pod({
        containers: { app: { allowPrivilegeEscalation: false, capabilities: { add: [capability] } } },
      });
      expect(specIntentOf(p, 'app')?.allowPrivilegeEscalation).toBe(true);
    },
  );

  test('runAsNonRoot and runAsUser of the container win over the pod', () => {
    const p = pod({
      containers: { app: { runAsNonRoot: false, runAsUser: 0 } },
      podSecurityContext: { runAsNonRoot: true, runAsUser: 1000 },
    });
    expect(specIntentOf(p, 'app')).toMatchObject({ runAsNonRoot: false, runAsUser: 0 });
  });

  test('runAsNonRoot and runAsUser come from the pod when the container has none', () => {
    const p = pod({ podSecurityContext: { runAsNonRoot: true, runAsUser: 65532 } });
    expect(specIntentOf(p, 'app')).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
  });

  test('drop must hold ALL as the restricted standard spells it', () => {
    const upper = pod({ containers: { app: { capabilities: { drop: ['NET_RAW', 'ALL'] } } } });
    const lower = pod({ containers: { app: { capabilities: { drop: ['all'] } } } });
    expect(specIntentOf(upper, 'app')?.dropsAllCapabilities).toBe(true);
    expect(specIntentOf(lower, 'app')?.dropsAllCapabilities).toBe(false);
  });

  test('added capabilities are listed as the spec gives them', () => {
    const p = pod({ containers: { app: { capabilities: { add: ['NET_ADMIN', 'net_raw'] } } } });
    expect(specIntentOf(p, 'app')?.addedCapabilities).toEqual(['NET_ADMIN', 'net_raw']);
  });

  test('hostNetwork comes from the pod spec', () => {
    expect(specIntentOf(pod({ hostNetwork: true }), 'app')?.hostNetwork).toBe(true);
  });
});
