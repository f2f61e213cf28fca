import { describe, expect, test } from 'vitest';
import type {
  ContainerMetadata,
  PodMetadata,
  ProcessAttribution,
} from '../../../agent/attribute/attribution-types.js';
import {
  Attributor,
  type ContainerLookup,
  type PodLookup,
  type ProcessLookupTable,
} from '../../../agent/attribute/attributor.js';
import type { IdentifiedDenial } from '../../../agent/events.js';
import { parseText } from '../../helpers/parse-text.js';

// The attributor joins what the stages know. Its inputs here are lookup tables filled with the answers
// the real stages give (their own tests run them against /proc, containerd and the API server).

const CID = 'a'.repeat(64);
const POD_UID = '5f0c2f4e-1d8a-4a51-9c61-3c1a1f2b7e10';
const KMSG =
  '5,20986,1430289426,-;audit: type=1326 audit(1795865927.052:334420): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=8577 comm="w" exe="/usr/local/bin/seccomp-demo" sig=0 arch=c000003e syscall=110 compat=0 ip=0x7f5187416829 code=0x7ffc0000';

function denial(pid = 8577, serial = 334420): IdentifiedDenial {
  const line = KMSG.replace('pid=8577', `pid=${String(pid)}`).replace(':334420)', `:${String(serial)})`);
  const { events } = parseText(line);
  const e = events[0];
  if (e === undefined) throw new Error('no event');
  const { auditId, time, outcome, process, seccomp, raw } = e;
  if (seccomp === undefined || auditId === undefined) throw new Error('not seccomp');
  return { key: `${auditId}/0`, denial: { kind: 'seccomp', auditId, time, outcome, process, seccomp, raw } };
}

class Processes implements ProcessLookupTable {
  calls = 0;
  constructor(private readonly answer: ProcessAttribution | (() => ProcessAttribution)) {}
  lookup(): ProcessAttribution {
    this.calls++;
    return typeof this.answer === 'function' ? this.answer() : this.answer;
  }
}

const inContainer = (runtime?: 'containerd'): ProcessAttribution => ({
  lookup: 'cached',
  identity: {
    pid: 8577,
    startTicks: 1,
    startedAtMs: 1,
    containerId: CID,
    podUid: POD_UID,
    ...(runtime ? { runtime } : {}),
  },
});

const criMeta: ContainerMetadata = {
  id: CID,
  name: 'api',
  image: 'localhost/busybox:1.35',
  podSandboxId: 's1',
  podName: 'api-0',
  podNamespace: 'shop',
  podUid: POD_UID,
};

const containers = (meta: ContainerMetadata | undefined, runtimeName?: string): ContainerLookup => ({
  runtimeName,
  get: () => undefined,
  resolve: () => Promise.resolve(meta),
});

describe('attributing denials', () => {
  test('a process outside any container is a host process', async () => {
    const a = new Attributor({
      node: 'n',
      processes: new Processes({ lookup: 'live', identity: { pid: 1, startTicks: 1, startedAtMs: 1 } }),
    });
    const [e] = await a.attribute([denial()], 'kmsg');
    expect(e?.attribution).toBe('host');
    expect(e?.container).toBeUndefined();
  });

  test('a process gone and never seen is published unresolved, not dropped', async () => {
    const a = new Attributor({ node: 'n', processes: new Processes({ lookup: 'unknown' }) });
    const events = await a.attribute([denial()], 'kmsg');
    expect(events).toHaveLength(1);
    expect(events[0]?.attribution).toBe('unresolved');
    expect(a.counters.unresolved).toBe(1);
  });

  test('a container without CRI or API metadata is attributed to the container', async () => {
    const a = new Attributor({ node: 'n', processes: new Processes(inContainer('containerd')) });
    const [e] = await a.attribute([denial()], 'auditd');
    expect(e?.attribution).toBe('container');
    expect(e?.container).toEqual({ id: CID, runtime: 'containerd' });
    expect(a.counters.fromCache).toBe(1);
  });

  test('CRI metadata names the container, its image and its pod; the runtime comes from CRI when the cgroup has none', async () => {
    const a = new Attributor({
      node: 'n',
      processes: new Processes(inContainer()),
      containers: containers(criMeta, 'containerd'),
    });
    const [e] = await a.attribute([denial()], 'kmsg');
    expect(e?.attribution).toBe('pod');
    expect(e?.container).toEqual({
      id: CID,
      name: 'api',
      runtime: 'containerd',
      image: 'localhost/busybox:1.35',
    });
    expect(e?.pod).toEqual({ name: 'api-0', namespace: 'shop', uid: POD_UID });
  });

  test('the informer adds labels and owner, found by the pod uid of the cgroup', async () => {
    const stored: PodMetadata = {
      uid: POD_UID,
      name: 'api-0',
      namespace: 'shop',
      labels: { app: 'api' },
      owner: { kind: 'StatefulSet', name: 'api' },
    };
    const pods: PodLookup = {
      byUid: (uid) => (uid === POD_UID ? stored : undefined),
      byName: () => undefined,
    };
    const a = new Attributor({ node: 'n', processes: new Processes(inContainer()), pods });
    const [e] = await a.attribute([denial()], 'kmsg');
    expect(e?.attribution).toBe('pod');
    expect(e?.pod).toEqual({
      name: 'api-0',
      namespace: 'shop',
      uid: POD_UID,
      labels: { app: 'api' },
      owner: { kind: 'StatefulSet', name: 'api' },
    });
  });

  test('a flood from one process costs one process lookup per batch', async () => {
    const processes = new Processes(inContainer('containerd'));
    const a = new Attributor({ node: 'n', processes });
    const events = await a.attribute(
      [denial(8577, 1), denial(8577, 2), denial(8577, 3), denial(9000, 4)],
      'kmsg',
    );
    expect(events).toHaveLength(4);
    expect(processes.calls).toBe(2);
  });

  test('a failing lookup costs the attribution, never the events', async () => {
    const a = new Attributor({
      node: 'n',
      processes: new Processes(() => {
        throw new Error('boom');
      }),
    });
    const events = await a.attribute([denial(1, 1), denial(2, 2)], 'kmsg');
    expect(events.map((e) => e.attribution)).toEqual(['unresolved', 'unresolved']);
    expect(a.counters.failures).toBe(1);
  });
});
