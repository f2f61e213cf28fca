import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CAP_FULL_SET,
  CAP_LAST_CAP,
  CAPABILITY_NAMES,
  DEFAULT_CONTAINER_CAPABILITIES,
  capabilityBit,
  capabilityName,
  decodeCapabilities,
  encodeCapabilities,
  fullCapabilitySet,
  normalizeCapabilityName,
} from '../../../agent/posture/capabilities.js';

const HEADER = '/usr/include/linux/capability.h';

describe('capability names', () => {
  it.skipIf(!existsSync(HEADER))("match this machine's linux/capability.h bit for bit", () => {
    const fromHeader: string[] = [];
    for (const m of readFileSync(HEADER, 'utf8').matchAll(/^#define (CAP_[A-Z_]+)\s+(\d+)\s*$/gm)) {
      const [, name, bit] = m;
      if (name !== undefined && bit !== undefined && name !== 'CAP_LAST_CAP') fromHeader[Number(bit)] = name;
    }
    expect(fromHeader).toStrictEqual(CAPABILITY_NAMES);
    expect(CAP_LAST_CAP).toBe(40);
  });

  it('names an unknown bit CAP_<bit> instead of dropping it', () => {
    expect(capabilityName(40)).toBe('CAP_CHECKPOINT_RESTORE');
    expect(capabilityName(41)).toBe('CAP_41');
  });
});

describe('decodeCapabilities', () => {
  it("decodes root's CapEff on this machine's sandbox, which lacks CAP_SYS_RESOURCE (bit 24)", () => {
    const names = decodeCapabilities(0x000001fffeffffffn);
    expect(names).toHaveLength(40);
    expect(names).not.toContain('CAP_SYS_RESOURCE');
    expect(names.slice(22, 26)).toStrictEqual([
      'CAP_SYS_BOOT',
      'CAP_SYS_NICE',
      'CAP_SYS_TIME',
      'CAP_SYS_TTY_CONFIG',
    ]);
  });

  it('decodes the full set of kernel 6.x (pid 1 here) to every name, in bit order', () => {
    expect(decodeCapabilities(0x000001ffffffffffn)).toStrictEqual(CAPABILITY_NAMES);
    expect(decodeCapabilities(CAP_FULL_SET)).toStrictEqual(CAPABILITY_NAMES);
  });

  it('decodes an empty set to nothing and bits past CAP_LAST_CAP to CAP_<bit>', () => {
    expect(decodeCapabilities(0n)).toStrictEqual([]);
    expect(decodeCapabilities((1n << 41n) | (1n << 63n) | 1n)).toStrictEqual([
      'CAP_CHOWN',
      'CAP_41',
      'CAP_63',
    ]);
  });

  it("decodes Docker's and containerd's default CapEff 00000000a80425fb to the 14 default capabilities", () => {
    const decoded = decodeCapabilities(0xa80425fbn);
    expect([...decoded].sort()).toStrictEqual([...DEFAULT_CONTAINER_CAPABILITIES].sort());
    expect(decoded).toStrictEqual([
      'CAP_CHOWN',
      'CAP_DAC_OVERRIDE',
      'CAP_FOWNER',
      'CAP_FSETID',
      'CAP_KILL',
      'CAP_SETGID',
      'CAP_SETUID',
      'CAP_SETPCAP',
      'CAP_NET_BIND_SERVICE',
      'CAP_NET_RAW',
      'CAP_SYS_CHROOT',
      'CAP_MKNOD',
      'CAP_AUDIT_WRITE',
      'CAP_SETFCAP',
    ]);
  });
});

describe('capability sets and spellings', () => {
  it('CAP_FULL_SET and fullCapabilitySet follow cap_last_cap', () => {
    expect(CAP_FULL_SET).toBe(0x1ffffffffffn);
    expect(fullCapabilitySet(37)).toBe(0x3fffffffffn);
    expect(fullCapabilitySet(-1)).toBe(0n);
    expect(fullCapabilitySet(64)).toBe(0n);
  });

  it('encodes the default set to its mask and reports names it cannot place', () => {
    expect(encodeCapabilities(DEFAULT_CONTAINER_CAPABILITIES)).toStrictEqual({
      mask: 0xa80425fbn,
      unknown: [],
    });
    expect(encodeCapabilities(['NET_ADMIN', 'cap_bpf', 'CAP_41', 'FLY'])).toStrictEqual({
      mask: (1n << 12n) | (1n << 39n) | (1n << 41n),
      unknown: ['FLY'],
    });
  });

  it('accepts the pod spec, OCI and lower-case spellings', () => {
    expect(normalizeCapabilityName('NET_ADMIN')).toBe('CAP_NET_ADMIN');
    expect(normalizeCapabilityName(' cap_sys_admin ')).toBe('CAP_SYS_ADMIN');
    expect(capabilityBit('SYS_ADMIN')).toBe(21);
    expect(capabilityBit('CAP_CHECKPOINT_RESTORE')).toBe(40);
    expect(capabilityBit('CAP_64')).toBeUndefined();
    expect(capabilityBit('ALL')).toBeUndefined();
  });
});
