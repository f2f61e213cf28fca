import { describe, expect, test } from 'vitest';
import {
  NftQuarantineAction,
  type QuarantineTable,
} from '../../../agent/responders/actions/nft-quarantine.js';
import type { ActionContext } from '../../../agent/responders/actions/response-action.js';
import type { TargetPod } from '../../../agent/responders/pod-target.js';
import { inPod, podRef, rules, seccompAt } from './response-test-events.js';

// The guards of nft_quarantine that stand between a pod's reported addresses and a drop rule in the
// kernel: nothing that would cut off the node itself may reach the table.

class RecordingTable implements QuarantineTable {
  readonly added: { address: string; ttlMs: number; comment: string }[] = [];
  constructor(
    private readonly usable = true,
    private readonly present: string[] = [],
  ) {}
  available(): boolean {
    return this.usable;
  }
  add(items: { address: string; ttlMs: number; comment: string }[]): Promise<void> {
    this.added.push(...items);
    return Promise.resolve();
  }
  list(): Promise<{ address: string }[]> {
    return Promise.resolve(this.present.map((address) => ({ address })));
  }
}

const [rule] = rules([{ name: 'cut', match: {}, actions: [{ type: 'nft_quarantine', ttl: '90s' }] }]);
const pod = podRef(7);

function context(target: Partial<TargetPod>): ActionContext {
  if (rule === undefined) throw new Error('no rule');
  const event = inPod(seccompAt(0, 1), pod);
  return {
    firing: { rule, event, pod, count: 1, atMs: 0 },
    target: {
      uid: pod.uid,
      name: pod.name,
      namespace: pod.namespace,
      labels: {},
      annotations: {},
      ips: ['10.244.1.7'],
      hostNetwork: false,
      deleting: false,
      ready: true,
      from: 'api',
      ...target,
    },
    nowMs: 1_000_000,
  };
}

function action(table: QuarantineTable, node: string[] = ['10.0.0.5', '127.0.0.1']): NftQuarantineAction {
  const config = rule?.actions[0];
  if (config?.type !== 'nft_quarantine') throw new Error('not an nft action');
  return new NftQuarantineAction(config, table, () => new Set(node));
}

describe('nft_quarantine guards', () => {
  test('a pod address passes and is added with the ttl and the pod in the comment', async () => {
    const table = new RecordingTable();
    const a = action(table);
    expect(await a.check(context({}))).toBeUndefined();
    const result = await a.run(context({}));
    expect(result).toEqual({
      target: { addresses: ['10.244.1.7'], expiresAt: new Date(1_000_000 + 90_000).toISOString() },
      detail: `quarantined 10.244.1.7 of pod prod-web/${pod.name} for 90 s`,
    });
    expect(table.added).toEqual([
      { address: '10.244.1.7', ttlMs: 90_000, comment: `${pod.uid} prod-web/${pod.name}` },
    ]);
  });

  test.each([
    [
      { hostNetwork: true },
      'host_network',
      'the pod uses the node’s network: quarantining its address would cut off the node',
    ],
    [{ ips: ['10.0.0.5'] }, 'host_network', '10.0.0.5 is the node’s own or link-local'],
    [{ ips: ['169.254.20.10'] }, 'host_network', '169.254.20.10 is the node’s own or link-local'],
    [{ ips: ['10.244.1.7', 'fe80::1'] }, 'host_network', 'fe80::1 is the node’s own or link-local'],
    [{ ips: [] }, 'no_pod_ip', 'the pod has no address yet'],
    [{ ips: ['10.244.1.0/24', 'fe80::1%eth0'] }, 'no_pod_ip', 'the pod has no address yet'],
  ])('%j is refused: %s', async (target, refusal, detail) => {
    expect(await action(new RecordingTable()).check(context(target))).toEqual({ refusal, detail });
  });

  test('a table that is not available refuses as no_nftables', async () => {
    expect(await action(new RecordingTable(false)).check(context({}))).toEqual({
      refusal: 'no_nftables',
      detail: 'kernwatch’s nftables table is not available on this node',
    });
  });

  test('addresses already in the sets: already done', async () => {
    const table = new RecordingTable(true, ['10.244.1.7']);
    expect(await action(table).check(context({}))).toEqual({
      refusal: 'already_done',
      detail: '10.244.1.7 already quarantined',
    });
  });
});
