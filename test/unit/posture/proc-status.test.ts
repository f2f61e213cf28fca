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
      capPrm: 0x000001fffeffffffn,
      capBnd: 0x000001fffeffffffn,
      capAmb: 0n,
      uid: { real: 0, effective: 0, saved: 0, fs: 0 },
      gid: { real: 0, effective: 0, saved: 0, fs: 0 },
    });
  });

  it('reads pid 1 with the full capability set, though its bounding set lacks CAP_SYS_RESOURCE', () => {
    expect(parseProcStatus(fixture('kernel618-pid1.status'))).toStrictEqual({
      state: 'S',
      seccompMode: 0,
      seccompFilters: 0,
      noNewPrivs: false,
      capEff: 0x000001ffffffffffn,
      capPrm: 0x000001ffffffffffn,
      capBnd: 0x000001fffeffffffn,
      capAmb: 0n,
      uid: { real: 0, effective: 0, saved: 0, fs: 0 },
      gid: { real: 0, effective: 0, saved: 0, fs: 0 },
    });
  });

  it('reads setpriv --no-new-privs without capabilities as nobody: every set empty, bounding included', () => {
    expect(parseProcStatus(fixture('kernel618-setpriv-nnp-nocaps-nobody.status'))).toStrictEqual({
      state: 'R',
      seccompMode: 0,
      seccompFilters: 0,
      noNewPrivs: true,
      capEff: 0n,
      capPrm: 0n,
      capBnd: 0n,
      capAmb: 0n,
      uid: { real: 65534, effective: 65534, saved: 65534, fs: 65534 },
      gid: { real: 65534, effective: 65534, saved: 65534, fs: 65534 },
    });
  });

  it('reads a process under a seccomp filter: mode 2, one filter, no_new_privs (set before loading it)', () => {
    expect(parseProcStatus(fixture('kernel618-seccomp-filter.status'))).toStrictEqual({
      state: 'S',
      seccompMode: 2,
      seccompFilters: 1,
      noNewPrivs: true,
      capEff: 0x000001fffeffffffn,
      capPrm: 0x000001fffeffffffn,
      capBnd: 0x000001fffeffffffn,
      capAmb: 0n,
      uid: { real: 0, effective: 0, saved: 0, fs: 0 },
      gid: { real: 0, effective: 0, saved: 0, fs: 0 },
    });
  });

  it('reads the main process of a confined containerd container: uid 1000, only CAP_NET_BIND_SERVICE bounding', () => {
    expect(parseProcStatus(fixture('containerd16-confined.status'))).toStrictEqual({
      state: 'S',
      seccompMode: 2,
      seccompFilters: 1,
      noNewPrivs: true,
      capEff: 0n,
      capPrm: 0n,
      // Bit 10, CAP_NET_BIND_SERVICE: drop ALL, add NET_BIND_SERVICE; a non-root process holds it nowhere else.
      capBnd: 0x0000000000000400n,
      capAmb: 0n,
      uid: { real: 1000, effective: 1000, saved: 1000, fs: 1000 },
      gid: { real: 0, effective: 0, saved: 0, fs: 0 },
    });
  });

  it('reads the main process of a containerd container without a security context', () => {
    expect(parseProcStatus(fixture('containerd16-plain.status'))).toStrictEqual({
      state: 'S',
      seccompMode: 0,
      seccompFilters: 0,
      noNewPrivs: false,
      capEff: 0xa80425fbn,
      capPrm: 0xa80425fbn,
      capBnd: 0xa80425fbn,
      capAmb: 0n,
      uid: { real: 0, effective: 0, saved: 0, fs: 0 },
      gid: { real: 0, effective: 0, saved: 0, fs: 0 },
    });
  });

  it('keeps real and effective ids apart (setpriv --euid/--egid: effective nobody, CapEff cleared, CapPrm kept)', () => {
    const status = parseProcStatus(fixture('kernel618-setpriv-euid-nobody.status'));
    expect([
      status.uid,
      status.gid,
      status.capEff,
      status.capPrm,
      status.capBnd,
      status.capAmb,
    ]).toStrictEqual([
      { real: 0, effective: 65534, saved: 65534, fs: 65534 },
      { real: 0, effective: 65534, saved: 65534, fs: 65534 },
      0n,
      0x000001fffeffffffn,
      0x000001fffeffffffn,
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
          'CapPrm:\t000001fffeffffffff',
          'CapBnd:\t00000000000004zz',
          'CapAmb:\t',
          'Uid:\t0\t0\t0\t0\t0',
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
    const text = [
      'Uid:\t1000\t1000\t1000\t1000',
      'Gid:\t5\t5\t5\t5',
      'CapPrm:\t0000000000000000',
      'CapEff:\t0000000000000000',
      'CapBnd:\t0000000000000400',
      'CapAmb:\t0000000000000000',
      'NoNewPrivs:\t1',
      'Seccomp:\t2',
    ].join('\n');
    const status = parseProcStatus(text);
    expect(status).toStrictEqual({
      seccompMode: 2,
      noNewPrivs: true,
      capEff: 0n,
      capPrm: 0n,
      capBnd: 0x400n,
      capAmb: 0n,
      uid: { real: 1000, effective: 1000, saved: 1000, fs: 1000 },
      gid: { real: 5, effective: 5, saved: 5, fs: 5 },
    });
    expect(missingStatusFields(status)).toStrictEqual([]);
  });

  it('keeps each of the four ids and each capability set in its own field', () => {
    const text = [
      'Uid:\t1\t2\t3\t4',
      'Gid:\t5\t6\t7\t8',
      'CapInh:\t0000000000000010',
      'CapPrm:\t0000000000000001',
      'CapEff:\t0000000000000002',
      'CapBnd:\t000001FFFFFFFFFF',
      'CapAmb:\t0000000000000008',
      '',
    ].join('\n');
    expect(parseProcStatus(text)).toStrictEqual({
      uid: { real: 1, effective: 2, saved: 3, fs: 4 },
      gid: { real: 5, effective: 6, saved: 7, fs: 8 },
      capPrm: 0x1n,
      capEff: 0x2n,
      capBnd: 0x000001ffffffffffn,
      capAmb: 0x8n,
    });
  });

  it('names the required lines that are missing', () => {
    expect(missingStatusFields(parseProcStatus('Seccomp:\t1\nUid:\t0\t0\t0\t0\n'))).toStrictEqual([
      'NoNewPrivs',
      'CapEff',
      'CapPrm',
      'CapBnd',
      'CapAmb',
      'Gid',
    ]);
    expect(missingStatusFields(parseProcStatus('CapEff:\t0000000000000000\nCapAmb:\t00\n'))).toStrictEqual([
      'Seccomp',
      'NoNewPrivs',
      'CapPrm',
      'CapBnd',
      'CapAmb',
      'Uid',
      'Gid',
    ]);
  });
});
