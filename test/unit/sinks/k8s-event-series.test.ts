import { describe, expect, it } from 'vitest';
import { ATTRIBUTION, NOISE_REASON, type KernwatchEvent } from '../../../agent/events.js';
import {
  planWrites,
  SERIES_PHASE,
  SeriesTable,
  type DenialSeries,
} from '../../../agent/sinks/k8s-events/denial-series.js';
import { seriesKeyOf } from '../../../agent/sinks/k8s-events/denial-series-key.js';
import { corpusLine, derive } from '../../helpers/corpus-lines.js';
import { onlyEvent } from '../../helpers/parse-text.js';

/**
 * Which denials share one Kubernetes Event, and the bounded table and write plan behind the reporter:
 * pure, so the policy (creates first, one patch per heartbeat, idle series forgotten, least recent
 * evicted) is checked here with exact clocks.
 */

const KMSG = 'kmsg/kernel618-seccomp-all-actions.kmsg';
const POD_UID = '5f1c2a7e-1111-4c3b-9d2e-0a1b2c3d4e5f';
const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
const PLAN = { heartbeatMs: 1000, idleMs: 60_000, flushAll: false };

function inPod(line: string, extra: Partial<KernwatchEvent> = {}): KernwatchEvent {
  return {
    ...onlyEvent(line),
    pod: { name: 'web-0', namespace: 'shop', uid: POD_UID },
    container: { id: 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00', name: 'app' },
    attribution: ATTRIBUTION.pod,
    ...extra,
  };
}

function folded(table: SeriesTable, e: KernwatchEvent, now: number): DenialSeries {
  const result = table.fold(e, now);
  if (result === undefined) throw new Error('not folded');
  return result.series;
}

describe('the series key of a denial', () => {
  it('is the same for repeats of one denial by other processes at other times', () => {
    const first = inPod(corpusLine(KMSG, 9));
    // CONSTRUCTED from kmsg line 9: another pid and audit stamp, as a restarted process would log it.
    const repeat = inPod(
      derive(
        derive(corpusLine(KMSG, 9), 'pid=8591', 'pid=9100'),
        '1795865927.092:334427',
        '1795865999.001:334999',
      ),
    );
    expect(seriesKeyOf(repeat)).toBe(seriesKeyOf(first));
  });

  it('differs by syscall, by outcome, by seccomp action, by container and by pod', () => {
    const base = inPod(corpusLine(KMSG, 9));
    const keys = [
      base,
      inPod(corpusLine('journald/gh-containers-crun-683.log', 2)),
      inPod(corpusLine(KMSG, 2)),
      inPod(corpusLine(KMSG, 8)),
      { ...base, container: { id: 'x', name: 'sidecar' } },
      { ...base, pod: { name: 'web-0', namespace: 'shop', uid: 'another-uid' } },
    ].map(seriesKeyOf);
    expect(new Set(keys).size).toBe(6);
  });

  it('keys an SELinux denial by its permissions (in any order) and class, not by its path', () => {
    const line = corpusLine('auditd/gh-containers-container-selinux-169.log', 1);
    // CONSTRUCTED from that line: permissions reordered, another path, another class.
    const reordered = derive(line, '{ read write }', '{ write read }');
    const otherPath = derive(line, 'path="/dev/null"', 'path="/dev/zero"');
    const otherClass = derive(line, 'tclass=chr_file', 'tclass=file');
    const key = seriesKeyOf(inPod(line));
    expect([seriesKeyOf(inPod(reordered)), seriesKeyOf(inPod(otherPath))]).toStrictEqual([key, key]);
    expect(seriesKeyOf(inPod(otherClass))).not.toBe(key);
  });

  it('keys an AppArmor denial by operation and profile, not by the object', () => {
    const line = corpusLine('dmesg/gh-containerd-containerd-2679.log', 1);
    // CONSTRUCTED from that line: another peer, another profile.
    const otherPeer = derive(line, 'peer="unconfined"', 'peer="cri-containerd.apparmor.d"');
    const otherProfile = derive(line, 'profile="cri-containerd.apparmor.d"', 'profile="docker-default"');
    expect(seriesKeyOf(inPod(otherPeer))).toBe(seriesKeyOf(inPod(line)));
    expect(seriesKeyOf(inPod(otherProfile))).not.toBe(seriesKeyOf(inPod(line)));
  });

  it('is undefined for a denial without a pod', () => {
    expect(seriesKeyOf(onlyEvent(corpusLine(KMSG, 9)))).toBeUndefined();
  });
});

describe('the table of series', () => {
  it('adds each denial to its series, a coalesced one by its count, and keeps the newest audit time', () => {
    const table = new SeriesTable(10);
    const e = inPod(corpusLine(KMSG, 9));
    const first = table.fold(e, T0);
    const again = table.fold({ ...e, count: 5, time: '2026-11-28T11:40:00.000Z' }, T0 + 10);
    const older = table.fold({ ...e, time: '2026-11-28T11:00:00.000Z' }, T0 + 20);
    expect([first?.created, first?.becameDirty, again?.created, again?.becameDirty]).toStrictEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(older?.series).toMatchObject({
      count: 7,
      firstObservedMs: Date.parse('2026-11-28T11:38:47.092Z'),
      lastObservedMs: Date.parse('2026-11-28T11:40:00.000Z'),
      lastFoldedAt: T0 + 20,
      written: 0,
      phase: SERIES_PHASE.create,
      reason: 'SeccompViolation',
      action: 'Killed',
      regarding: {
        kind: 'Pod',
        apiVersion: 'v1',
        namespace: 'shop',
        name: 'web-0',
        uid: POD_UID,
        fieldPath: 'spec.containers{app}',
      },
    });
    expect(table.size).toBe(1);
  });

  it('takes a coalesced event as spanning its first to its last denial', () => {
    const table = new SeriesTable(10);
    const e = inPod(corpusLine(KMSG, 9), {
      count: 40,
      noise: {
        reason: NOISE_REASON.coalesced,
        firstTime: '2026-11-28T11:38:47.092Z',
        lastTime: '2026-11-28T11:38:48.950Z',
      },
    });
    expect(table.fold(e, T0)?.series).toMatchObject({
      count: 40,
      firstObservedMs: Date.parse('2026-11-28T11:38:47.092Z'),
      lastObservedMs: Date.parse('2026-11-28T11:38:48.950Z'),
    });
  });

  it('reports a written series that gets a new denial as dirty', () => {
    const table = new SeriesTable(10);
    const e = inPod(corpusLine(KMSG, 9));
    const s = folded(table, e, T0);
    s.phase = SERIES_PHASE.created;
    s.written = 1;
    expect(table.fold(e, T0 + 1)?.becameDirty).toBe(true);
    expect(table.fold(e, T0 + 2)?.becameDirty).toBe(false);
  });

  it('evicts the series folded least recently when full', () => {
    const table = new SeriesTable(2);
    const kill = inPod(corpusLine(KMSG, 9));
    const log = inPod(corpusLine(KMSG, 2));
    const mount = inPod(corpusLine('journald/gh-containers-crun-683.log', 2));
    const killSeries = folded(table, kill, T0);
    folded(table, log, T0 + 1);
    folded(table, kill, T0 + 2);
    const third = table.fold(mount, T0 + 3);
    expect(third?.evicted?.action).toBe('Logged');
    expect([...table.values()]).toStrictEqual([killSeries, third?.series]);
  });

  it('answers undefined for a denial without a pod and holds nothing for it', () => {
    const table = new SeriesTable(2);
    expect(table.fold(onlyEvent(corpusLine(KMSG, 9)), T0)).toBeUndefined();
    expect(table.size).toBe(0);
  });
});

describe('the write plan', () => {
  function created(
    table: SeriesTable,
    line: string,
    writtenAt: number,
    written: number,
    count: number,
  ): DenialSeries {
    const s = folded(table, inPod(line, { count }), writtenAt);
    s.phase = SERIES_PHASE.created;
    s.name = 'web-0.1';
    s.written = written;
    s.lastWriteAt = writtenAt;
    return s;
  }

  it('writes creates first, oldest first, before any due patch', () => {
    const table = new SeriesTable(10);
    const patchable = created(table, corpusLine(KMSG, 2), T0, 1, 3);
    const older = folded(table, inPod(corpusLine(KMSG, 9)), T0 + 5000);
    folded(table, inPod(corpusLine(KMSG, 3)), T0 + 5001);
    expect(planWrites(table.values(), T0 + 5002, PLAN).next).toBe(older);
    older.phase = SERIES_PHASE.created;
    older.written = older.count;
    older.lastWriteAt = T0 + 5002;
    expect(planWrites(table.values(), T0 + 5002, PLAN).next?.action).toBe('Blocked');
    expect(patchable.count).toBe(3);
  });

  it('patches a dirty series only once its heartbeat has passed since the last write, and says when', () => {
    const table = new SeriesTable(10);
    const s = created(table, corpusLine(KMSG, 9), T0, 1, 5);
    expect(planWrites(table.values(), T0 + 400, PLAN)).toStrictEqual({
      next: undefined,
      wakeInMs: 600,
      idle: [],
    });
    expect(planWrites(table.values(), T0 + 1000, PLAN).next).toBe(s);
  });

  it('patches every dirty series at once when flushing for shutdown', () => {
    const table = new SeriesTable(10);
    const s = created(table, corpusLine(KMSG, 9), T0, 1, 5);
    expect(planWrites(table.values(), T0 + 1, { ...PLAN, flushAll: true }).next).toBe(s);
  });

  it('picks the patch that fell due first', () => {
    const table = new SeriesTable(10);
    created(table, corpusLine(KMSG, 9), T0 + 200, 1, 5);
    const earlier = created(table, corpusLine(KMSG, 2), T0 + 100, 1, 5);
    expect(planWrites(table.values(), T0 + 5000, PLAN).next).toBe(earlier);
  });

  it('forgets series written up to date and idle for idleMs, and sleeps until the next one goes idle', () => {
    const table = new SeriesTable(10);
    const idle = created(table, corpusLine(KMSG, 9), T0, 2, 2);
    created(table, corpusLine(KMSG, 2), T0 + 30_000, 1, 1);
    expect(planWrites(table.values(), T0 + 60_000, PLAN)).toStrictEqual({
      next: undefined,
      wakeInMs: 30_000,
      idle: [idle],
    });
  });

  it('has nothing to wake for in an empty table', () => {
    expect(planWrites(new SeriesTable(1).values(), T0, PLAN)).toStrictEqual({
      next: undefined,
      wakeInMs: undefined,
      idle: [],
    });
  });
});
