import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { missingStatusFields, parseProcStatus } from '../../../agent/posture/proc-status.js';
import { FIXTURES } from '../../helpers/fixtures.js';

/** Real /proc/PID/status files of kernel 6.18 (test/fixtures/proc/README.md says how each was made). */
const fixture = (name: string): string => readFileSync(join(FIXTURES, 'proc', name), 'latin1');

describe('parseProcStatus on real status files', () => {
  it('reads root on the host: no seccomp, no no_new_privs, every capability but CAP_SYS_RESOURCE', () => {
    expect(parseProcStatus(fixture('kernel618-self-root.status'))).toStrictEqual({
      state: 'R',
      seccompMode: 0,
      seccompFilters: 0,
      noNewPrivs: false,
      capEff: 0x000001fffeffffffn,
      uid: { real: 0, effective: 0 },
      gid: { real: 0, effective: 0 },
    });
  });

  it('reads pid 1 with the full capability set', () => {
    expect(parseProcStatus(fixture('kernel618-pid1.status'))).toStrictEqual({
      state: 'S',
      seccompMode: 0,
      seccompFilters: 0,
      noNewPrivs: false,
      capEff: 0x000001ffffffffffn,
      uid: { real: 0, effective: 0 },
      gid: { real: 0, effective: 0 },
    });
  });

  it('reads setpriv --no-new-privs without capabilities as nobody', () => {
    expect(parseProcStatus(fixture('kernel618-setpriv-nnp-nocaps-nobody.status'))).toStrictEqual({
      state: 'R',
      seccompMode: 0,
      seccompFilters: 0,
      noNewPrivs: true,
      capEff: 0n,
      uid: { real: 65534, effective: 65534 },
      gid: { real: 65534, effective: 65534 },
    });
  });

  it('reads a process under a seccomp filter: mode 2, one filter, no_new_privs (set before loading it)', () => {
    expect(parseProcStatus(fixture('kernel618-seccomp-filter.status'))).toStrictEqual({
      state: 'S',
      seccompMode: 2,
      seccompFilters: 1,
      noNewPrivs: true,
      capEff: 0x000001fffeffffffn,
      uid: { real: 0, effective: 0 },
      gid: { real: 0, effective: 0 },
    });
  });

  it('reads the main process of a confined containerd container: uid 1000, no capability left', () => {
    expect(parseProcStatus(fixture('containerd16-confined.status'))).toStrictEqual({
      state: 'S',
      seccompMode: 2,
      seccompFilters: 1,
      noNewPrivs: true,
      capEff: 0n,
      uid: { real: 1000, effective: 1000 },
      gid: { real: 0, effective: 0 },
    });
  });

  it('reads the main process of a containerd container without a security context', () => {
    expect(parseProcStatus(fixture('containerd16-plain.status'))).toStrictEqual({
      state: 'S',
      seccompMode: 0,
      seccompFilters: 0,
      noNewPrivs: false,
      capEff: 0xa80425fbn,
      uid: { real: 0, effective: 0 },
      gid: { real: 0, effective: 0 },
    });
  });

  it('keeps real and effective ids apart (setpriv --euid/--egid: effective nobody, capabilities cleared)', () => {
    const status = parseProcStatus(fixture('kernel618-setpriv-euid-nobody.status'));
    expect([status.uid, status.gid, status.capEff]).toStrictEqual([
      { real: 0, effective: 65534 },
      { real: 0, effective: 65534 },
      0n,
    ]);
  });
});

describe('parseProcStatus on malformed text', () => {
  it('leaves out every field that is absent or not in the kernel format, and never throws', () => {
    expect(parseProcStatus('')).toStrictEqual({});
    expect(
      parseProcStatus(
        [
          'State:\t',
          'Uid:\t0\t0\t0',
          'Gid:\t0\tx\t0\t0',
          'CapEff:\t1fffeffffff',
          'NoNewPrivs:\t2',
          'Seccomp:\t3',
          'Seccomp_filters:\t-1',
          'no colon here',
          ':\t1',
        ].join('\n'),
      ),
    ).toStrictEqual({});
  });

  it('reads a kernel before 5.9 (no Seccomp_filters) and a file without its last newline', () => {
    const text =
      'Uid:\t1000\t1000\t1000\t1000\nGid:\t5\t5\t5\t5\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2';
    const status = parseProcStatus(text);
    expect(status).toStrictEqual({
      seccompMode: 2,
      noNewPrivs: true,
      capEff: 0n,
      uid: { real: 1000, effective: 1000 },
      gid: { real: 5, effective: 5 },
    });
    expect(missingStatusFields(status)).toStrictEqual([]);
  });

  it('names the required lines that are missing', () => {
    expect(missingStatusFields(parseProcStatus('Seccomp:\t1\nUid:\t0\t0\t0\t0\n'))).toStrictEqual([
      'NoNewPrivs',
      'CapEff',
      'Gid',
    ]);
  });
});
