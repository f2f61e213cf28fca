import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cgroupIdentity } from '../../../agent/attribute/proc/cgroup-identity.js';
import { parseProcStat } from '../../../agent/attribute/proc/proc-stat.js';
import { ProcessTable } from '../../../agent/attribute/proc/process-table.js';
import {
  CGROUP_STYLE,
  createHostServiceCgroup,
  createK8sCgroup,
  type CgroupStyle,
  type TestCgroup,
} from '../../helpers/k8s-cgroup.js';
import { hasCommand, isRoot, missingPrerequisite } from '../../helpers/prerequisites.js';
import {
  buildViolator,
  runViolator,
  startViolator,
  startViolatorIn,
  type ViolatorProcess,
} from '../../helpers/violator.js';

/**
 * pid → container attribution with the real kernel: processes placed in Kubernetes-shaped cgroups
 * (systemd and cgroupfs styles, test/helpers/k8s-cgroup.ts) make seccomp violations with the C helper
 * (test/helpers/seccomp-violator.c). Scans run through scanOnce() with the timer set far away, and each
 * process dies only when the test tells it to, so no result depends on timing.
 */

const why = missingPrerequisite([isRoot, hasCommand('gcc', 'gcc')]);
const FAR = 3_600_000;
const STYLES: CgroupStyle[] = [CGROUP_STYLE.systemd, CGROUP_STYLE.cgroupfs];
/** What the systemd style's `cri-containerd-<id>.scope` says; the cgroupfs layout names no runtime. */
const RUNTIME_OF_STYLE: Record<CgroupStyle, { runtime?: 'containerd' }> = {
  systemd: { runtime: 'containerd' },
  cgroupfs: {},
};

describe.skipIf(why)('pid → container attribution with real cgroups and seccomp kills', () => {
  let bin = '';
  const violators: ViolatorProcess[] = [];
  const cgroups: TestCgroup[] = [];
  const tables: ProcessTable[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    bin = await buildViolator();
  });

  afterEach(async () => {
    for (const t of tables.splice(0)) t.stop();
    for (const v of violators.splice(0)) await v.stop();
    for (const c of cgroups.splice(0)) c.remove();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  afterAll(async () => {
    for (const v of violators.splice(0)) await v.stop();
    for (const c of cgroups.splice(0)) c.remove();
  });

  function k8s(style: CgroupStyle) {
    const cg = createK8sCgroup({ style });
    cgroups.push(cg);
    return cg;
  }

  function hostService(): TestCgroup {
    const cg = createHostServiceCgroup(`kernwatch-test-${randomBytes(4).toString('hex')}`);
    cgroups.push(cg);
    return cg;
  }

  async function inCgroup(cg: TestCgroup, args: string[]): Promise<ViolatorProcess> {
    const v = await startViolatorIn(cg, bin, args);
    violators.push(v);
    return v;
  }

  function table(options: ConstructorParameters<typeof ProcessTable>[0] = {}): ProcessTable {
    const t = new ProcessTable({ scanIntervalMs: FAR, ...options });
    tables.push(t);
    return t;
  }

  it.each(STYLES)(
    'attributes a live process in a %s-style container cgroup to its container and pod',
    async (style) => {
      const cg = k8s(style);
      const v = await inCgroup(cg, ['hold']);
      const got = table().lookup(v.pid, Date.now());
      expect(got.lookup).toBe('live');
      expect(got.identity).toMatchObject({ pid: v.pid, ppid: process.pid });
      expect(cgroupIdentity(readFileSync(`/proc/${v.pid}/cgroup`, 'latin1'))).toStrictEqual({
        containerId: cg.containerId,
        podUid: cg.podUid,
        ...RUNTIME_OF_STYLE[style],
      });
      expect({
        containerId: got.identity?.containerId,
        podUid: got.identity?.podUid,
        runtime: got.identity?.runtime,
      }).toStrictEqual({
        containerId: cg.containerId,
        podUid: cg.podUid,
        runtime: RUNTIME_OF_STYLE[style].runtime,
      });
    },
  );

  it.each(STYLES)(
    'attributes a %s-style container process killed by seccomp and reaped at once from the scan cache',
    async (style) => {
      const cg = k8s(style);
      const t = table();
      t.start();
      const v = await inCgroup(cg, ['wait-kill']);
      t.scanOnce();
      v.go();
      const violate = await v.waitFor('violate');
      const exit = await v.exited;
      expect(exit).toStrictEqual({ code: null, signal: 'SIGSYS' });
      expect(existsSync(`/proc/${v.pid}`)).toBe(false);
      const got = t.lookup(v.pid, violate.atMs);
      expect(got.lookup).toBe('cached');
      expect(got.identity?.containerId).toBe(cg.containerId);
      expect(got.identity?.podUid).toBe(cg.podUid);
    },
  );

  it.each(STYLES)(
    'attributes a %s-style zombie killed by seccomp live from its 0:: line while its v1 lines read /',
    async (style) => {
      const cg = k8s(style);
      const parent = await inCgroup(cg, ['zombie']);
      const died = await parent.waitFor('died');
      const violate = await parent.waitFor('violate');
      expect(died.signal).toBe(31);
      const lines = readFileSync(`/proc/${died.pid}/cgroup`, 'latin1').trimEnd().split('\n');
      const v1 = lines.filter((l) => !l.startsWith('0::'));
      expect(parseProcStat(readFileSync(`/proc/${died.pid}/stat`, 'latin1'))?.state).toBe('Z');
      expect(v1.length).toBeGreaterThan(0);
      expect(v1.filter((l) => !l.endsWith(':/'))).toStrictEqual([]);
      expect(lines.find((l) => l.startsWith('0::'))?.endsWith(cg.path)).toBe(true);

      const t = table();
      const live = t.lookup(died.pid, violate.atMs);
      expect(live.lookup).toBe('live');
      expect(live.identity?.containerId).toBe(cg.containerId);

      parent.go();
      await parent.waitFor('reaped');
      await parent.exited;
      expect(existsSync(`/proc/${died.pid}`)).toBe(false);
      const after = t.lookup(died.pid, violate.atMs);
      expect(after.lookup).toBe('cached');
      expect(after.identity).toStrictEqual(live.identity);
    },
  );

  /** The violator under the name runc's init gives itself, so that its comm is `runc:[2:INIT]`. */
  function runcInitBinary(): string {
    const dir = mkdtempSync(join(tmpdir(), 'kernwatch-runc-init-'));
    dirs.push(dir);
    const path = join(dir, 'runc:[2:INIT]');
    copyFileSync(bin, path);
    chmodSync(path, 0o755);
    return path;
  }

  it('attributes a zombie live even after its container cgroup was removed', async () => {
    const cg = k8s(CGROUP_STYLE.systemd);
    const parent = await inCgroup(cg, ['zombie']);
    const died = await parent.waitFor('died');
    const violate = await parent.waitFor('violate');
    // Its parent leaves; the zombie no longer counts as a member, so the cgroup can go, and the
    // zombie's 0:: path gets ' (deleted)'.
    hostService().enter(parent.pid);
    cg.remove();
    expect(
      readFileSync(`/proc/${died.pid}/cgroup`, 'latin1').trimEnd().endsWith(`${cg.path} (deleted)`),
    ).toBe(true);
    const got = table().lookup(died.pid, violate.atMs);
    expect(got.lookup).toBe('live');
    expect(got.identity?.containerId).toBe(cg.containerId);
    expect(got.identity?.podUid).toBe(cg.podUid);
    parent.go();
    await parent.exited;
  });

  it('reads again a process caught in runc init outside a container, and finds it in its container (runc exec)', async () => {
    const cg = k8s(CGROUP_STYLE.systemd);
    const host = hostService();
    // Like `runc exec`: the process is forked in runc's cgroup and written into the container's after.
    const v = startViolator(runcInitBinary(), ['-w', 'wait-kill']);
    violators.push(v);
    host.enter(v.pid);
    const t = table({ settleMs: FAR });
    t.start();
    expect(parseProcStat(readFileSync(`/proc/${v.pid}/stat`, 'latin1'))?.comm).toBe('runc:[2:INIT]');
    cg.enter(v.pid);
    t.scanOnce();
    expect(t.counters().rechecks).toBeGreaterThanOrEqual(1);
    v.go();
    await v.waitFor('ready');
    v.go();
    const violate = await v.waitFor('violate');
    expect((await v.exited).signal).toBe('SIGSYS');
    const got = t.lookup(v.pid, violate.atMs);
    expect(got.lookup).toBe('cached');
    expect(got.identity?.containerId).toBe(cg.containerId);
  });

  it('answers unknown, not host, for a process caught in runc init that is gone before a read found its container', async () => {
    const v = startViolator(runcInitBinary(), ['-w', 'wait-kill']);
    violators.push(v);
    hostService().enter(v.pid);
    const t = table({ settleMs: FAR });
    t.start();
    v.go();
    await v.waitFor('ready');
    v.go();
    const violate = await v.waitFor('violate');
    expect((await v.exited).signal).toBe('SIGSYS');
    expect(t.lookup(v.pid, violate.atMs)).toStrictEqual({ lookup: 'unknown' });
  });

  it('reads a process that is not in a runtime init only once: a later move goes unseen by the scans', async () => {
    // The bound that keeps busy hosts cheap: only runc's init is read again. (A live lookup reads anew.)
    const cg = k8s(CGROUP_STYLE.systemd);
    const v = await inCgroup(hostService(), ['wait-kill']);
    const t = table({ settleMs: FAR });
    t.start();
    cg.enter(v.pid);
    t.scanOnce();
    v.go();
    const violate = await v.waitFor('violate');
    expect((await v.exited).signal).toBe('SIGSYS');
    const got = t.lookup(v.pid, violate.atMs);
    expect(got.lookup).toBe('cached');
    expect(got.identity?.containerId).toBeUndefined();
  });

  it('identifies a process in a host service cgroup as a host process: no container, no pod', async () => {
    const v = await inCgroup(hostService(), ['hold']);
    const got = table().lookup(v.pid, Date.now());
    expect(got.lookup).toBe('live');
    expect(got.identity).toStrictEqual({
      pid: v.pid,
      ppid: process.pid,
      startTicks: got.identity?.startTicks,
      startedAtMs: got.identity?.startedAtMs,
    });
  });

  const NS_LAST_PID = '/proc/sys/kernel/ns_last_pid';

  /**
   * Hands `pid` to a new process started in `cg` with `args`, the way the kernel does it after pid_max
   * pids: ns_last_pid (writable with CAP_SYS_ADMIN) is the allocator's cursor; it is moved to pid_max - 1,
   * a throw-away process makes it wrap to the low pids, and then it is moved to pid - 1, so the next fork
   * gets `pid` if it is free. Another process on the machine may fork in between: then undefined, and
   * the caller tries again.
   */
  async function reusePid(pid: number, cg: TestCgroup, args: string[]): Promise<ViolatorProcess | undefined> {
    const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'latin1'));
    writeFileSync(NS_LAST_PID, String(pidMax - 1));
    await runViolator(bin, ['log', '0']);
    writeFileSync(NS_LAST_PID, String(pid - 1));
    const v = startViolator(bin, ['-w', ...args]);
    violators.push(v);
    if (v.pid !== pid) {
      await v.stop();
      return undefined;
    }
    cg.enter(v.pid);
    v.go();
    await v.waitFor('ready');
    return v;
  }

  /** A container process A that the scans knew and that has ended; its pid is free again. */
  async function endedContainerProcess(t: ProcessTable) {
    const cg = k8s(CGROUP_STYLE.systemd);
    const a = await inCgroup(cg, ['hold']);
    t.scanOnce();
    const whileA = Date.now();
    const identity = t.lookup(a.pid, whileA).identity;
    expect(identity?.containerId).toBe(cg.containerId);
    a.release();
    await a.exited;
    // The allocator moves on past A's pid, as it does on any node where processes start.
    const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'latin1'));
    writeFileSync(NS_LAST_PID, String(Math.min(a.pid + 1000, pidMax - 2)));
    await runViolator(bin, ['log', '0']);
    t.scanOnce();
    return { pid: a.pid, whileA, identity };
  }

  it('gives a reused pid the new process, and records from before the reuse the old one', async () => {
    const host = hostService();
    for (let attempt = 1; attempt <= 20; attempt++) {
      const t = table();
      t.start();
      const a = await endedContainerProcess(t);
      await sleep(200);
      const b = await reusePid(a.pid, host, ['hold']);
      if (b === undefined) continue;
      // The next tick sees a pid it knew handed out again and reads the new process.
      t.scanOnce();

      const before = t.lookup(a.pid, a.whileA);
      expect(before.lookup).toBe('cached');
      expect(before.identity).toStrictEqual(a.identity);

      const now = t.lookup(a.pid, Date.now());
      expect(now.lookup).toBe('live');
      expect(now.identity?.containerId).toBeUndefined();
      expect(now.identity?.podUid).toBeUndefined();
      expect(now.identity?.startTicks).toBeGreaterThan(a.identity?.startTicks ?? Infinity);

      // Once B has ended too, a record from B's lifetime still does not get A's container.
      const whileB = Date.now();
      b.release();
      await b.exited;
      const afterB = t.lookup(a.pid, whileB);
      expect(afterB.lookup).toBe('cached');
      expect(afterB.identity?.containerId).toBeUndefined();
      expect(afterB.identity?.startTicks).toBe(now.identity?.startTicks);
      return;
    }
    throw new Error('the pid could not be handed out again in 20 attempts');
  });

  it('gives no identity to a record from a process that reused the pid and died between two scans', async () => {
    const host = hostService();
    for (let attempt = 1; attempt <= 20; attempt++) {
      const t = table();
      t.start();
      const a = await endedContainerProcess(t);
      await sleep(200);
      // B gets A's pid, violates, is killed by seccomp and reaped before any scan could see it.
      const b = await reusePid(a.pid, host, ['wait-kill']);
      if (b === undefined) continue;
      b.go();
      const violate = await b.waitFor('violate');
      expect((await b.exited).signal).toBe('SIGSYS');
      t.scanOnce();

      expect(t.lookup(a.pid, violate.atMs)).toStrictEqual({ lookup: 'unknown' });
      const before = t.lookup(a.pid, a.whileA);
      expect(before.lookup).toBe('cached');
      expect(before.identity).toStrictEqual(a.identity);
      return;
    }
    throw new Error('the pid could not be handed out again in 20 attempts');
  });
});
