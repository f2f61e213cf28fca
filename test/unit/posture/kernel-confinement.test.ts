import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../agent/errors.js';
import { ConfinementReadError, readKernelConfinement } from '../../../agent/posture/kernel-confinement.js';
import type { NodeLsm } from '../../../agent/posture/lsm.js';
import { FIXTURES } from '../../helpers/fixtures.js';

/** A scratch proc root assembled from the captured status and mountinfo files of test/fixtures/proc. */

const root = mkdtempSync(join(tmpdir(), 'kw-conf-'));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

const NO_MAC: NodeLsm = {
  active: ['lockdown', 'capability', 'landlock', 'bpf'],
  apparmor: false,
  mac: 'none',
};
const APPARMOR: NodeLsm = { active: ['capability', 'apparmor'], apparmor: true, mac: 'apparmor' };

function proc(
  pid: number,
  files: { status?: string; statusText?: string; mountinfo?: string; apparmor?: string },
): void {
  const dir = join(root, String(pid));
  mkdirSync(join(dir, 'attr', 'apparmor'), { recursive: true });
  if (files.status !== undefined) copyFileSync(join(FIXTURES, 'proc', files.status), join(dir, 'status'));
  if (files.statusText !== undefined) writeFileSync(join(dir, 'status'), files.statusText);
  if (files.mountinfo !== undefined)
    copyFileSync(join(FIXTURES, 'proc', files.mountinfo), join(dir, 'mountinfo'));
  if (files.apparmor !== undefined) writeFileSync(join(dir, 'attr', 'apparmor', 'current'), files.apparmor);
}

describe('readKernelConfinement over a proc root', () => {
  it('reads a no_new_privs process without capabilities as nobody, on a read-only root', () => {
    proc(10, {
      status: 'kernel618-setpriv-nnp-nocaps-nobody.status',
      mountinfo: 'kernel618-root-ro-rw-bind-stacked.mountinfo',
    });
    expect(readKernelConfinement(root, 10, NO_MAC)).toStrictEqual({
      status: 'ok',
      pid: 10,
      confinement: {
        seccompMode: 0,
        seccompFilters: 0,
        noNewPrivs: true,
        effectiveCapabilities: [],
        permittedCapabilities: [],
        boundingCapabilities: [],
        ambientCapabilities: [],
        uid: { real: 65534, effective: 65534, saved: 65534, fs: 65534 },
        gid: { real: 65534, effective: 65534, saved: 65534, fs: 65534 },
        mac: { kind: 'none' },
        rootReadOnly: true,
      },
    });
  });

  it('reads the main process of a confined containerd container: only CAP_NET_BIND_SERVICE left, bounding', () => {
    proc(17, { status: 'containerd16-confined.status', mountinfo: 'containerd16-confined.mountinfo' });
    expect(readKernelConfinement(root, 17, NO_MAC)).toStrictEqual({
      status: 'ok',
      pid: 17,
      confinement: {
        seccompMode: 2,
        seccompFilters: 1,
        noNewPrivs: true,
        effectiveCapabilities: [],
        permittedCapabilities: [],
        boundingCapabilities: ['CAP_NET_BIND_SERVICE'],
        ambientCapabilities: [],
        uid: { real: 1000, effective: 1000, saved: 1000, fs: 1000 },
        gid: { real: 0, effective: 0, saved: 0, fs: 0 },
        mac: { kind: 'none' },
        rootReadOnly: true,
      },
    });
  });

  it('keeps what a non-root effective uid leaves permitted (setpriv --euid: CapEff cleared, CapPrm kept)', () => {
    proc(18, { status: 'kernel618-setpriv-euid-nobody.status', mountinfo: 'kernel618-host.mountinfo' });
    const read = readKernelConfinement(root, 18, NO_MAC);
    expect(read.status).toBe('ok');
    if (read.status !== 'ok') return;
    const { effectiveCapabilities, permittedCapabilities, boundingCapabilities, ambientCapabilities } =
      read.confinement;
    expect(effectiveCapabilities).toStrictEqual([]);
    // 000001fffeffffff: bits 0-40 but 24 (CAP_SYS_RESOURCE, left out of this machine's bounding set).
    expect(permittedCapabilities).toHaveLength(40);
    expect(permittedCapabilities).not.toContain('CAP_SYS_RESOURCE');
    expect(boundingCapabilities).toStrictEqual(permittedCapabilities);
    expect(ambientCapabilities).toStrictEqual([]);
    expect(read.confinement.uid).toStrictEqual({ real: 0, effective: 65534, saved: 65534, fs: 65534 });
    expect(read.confinement.gid).toStrictEqual({ real: 0, effective: 65534, saved: 65534, fs: 65534 });
  });

  it('reads an AppArmor label and a writable root', () => {
    proc(11, {
      status: 'kernel618-pid1.status',
      mountinfo: 'kernel618-host.mountinfo',
      apparmor: 'cri-containerd.apparmor.d (enforce)\n',
    });
    const read = readKernelConfinement(root, 11, APPARMOR);
    expect(read.status).toBe('ok');
    if (read.status !== 'ok') return;
    expect(read.confinement.mac).toStrictEqual({
      kind: 'apparmor',
      label: 'cri-containerd.apparmor.d (enforce)',
      mode: 'enforce',
    });
    expect(read.confinement.effectiveCapabilities).toHaveLength(41);
    expect(read.confinement.permittedCapabilities).toStrictEqual(read.confinement.effectiveCapabilities);
    // pid 1's bounding set lacks CAP_SYS_RESOURCE (bit 24) although it holds it (fixtures README).
    expect(read.confinement.boundingCapabilities).toStrictEqual(
      read.confinement.effectiveCapabilities.filter((c) => c !== 'CAP_SYS_RESOURCE'),
    );
    expect(read.confinement.ambientCapabilities).toStrictEqual([]);
    expect(read.confinement.rootReadOnly).toBe(false);
  });

  it('answers gone for a pid without an entry, and for a zombie', () => {
    expect(readKernelConfinement(root, 4_000_000, NO_MAC)).toStrictEqual({ status: 'gone', pid: 4_000_000 });
    proc(12, {
      statusText:
        'Name:\tsh\nState:\tZ (zombie)\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nCapEff:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t2\n',
    });
    expect(readKernelConfinement(root, 12, NO_MAC)).toStrictEqual({ status: 'gone', pid: 12 });
  });

  it('answers gone when the process ends between the status and the mountinfo read', () => {
    proc(13, { status: 'kernel618-self-root.status' });
    expect(readKernelConfinement(root, 13, NO_MAC)).toStrictEqual({ status: 'gone', pid: 13 });
  });

  it('leaves rootReadOnly out when no mount at / is listed', () => {
    proc(14, { status: 'kernel618-self-root.status' });
    writeFileSync(join(root, '14', 'mountinfo'), '30 27 0:40 / /mnt rw - tmpfs tmpfs rw\n');
    const read = readKernelConfinement(root, 14, NO_MAC);
    expect(read.status === 'ok' && 'rootReadOnly' in read.confinement).toBe(false);
  });

  it('throws a ConfinementReadError naming the lines a malformed status lacks', () => {
    proc(15, {
      statusText: 'Name:\tx\nState:\tS (sleeping)\nUid:\t0\t0\nGid:\t0\t0\t0\t0\nCapEff:\tzz\nSeccomp:\t2\n',
    });
    const failure = catchError(() => readKernelConfinement(root, 15, NO_MAC));
    expect(failure).toBeInstanceOf(ConfinementReadError);
    expect(failure).toMatchObject({
      code: ERROR_CODES.inputUnreadable,
      pid: 15,
      path: join(root, '15', 'status'),
    });
    expect((failure as Error).message).toContain(
      'no well-formed NoNewPrivs, CapEff, CapPrm, CapBnd, CapAmb, Uid line',
    );
  });

  it('throws a ConfinementReadError with the errno error as cause when a file cannot be read', () => {
    mkdirSync(join(root, '16', 'status'), { recursive: true });
    const failure = catchError(() => readKernelConfinement(root, 16, NO_MAC));
    expect(failure).toBeInstanceOf(ConfinementReadError);
    expect(((failure as Error).cause as NodeJS.ErrnoException).code).toBe('EISDIR');
  });

  it('refuses a pid that is no process id', () => {
    expect(catchError(() => readKernelConfinement(root, 0, NO_MAC))).toBeInstanceOf(ConfinementReadError);
    expect(catchError(() => readKernelConfinement(root, 1.5, NO_MAC))).toBeInstanceOf(ConfinementReadError);
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}
