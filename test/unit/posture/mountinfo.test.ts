import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  isRootReadOnly,
  mountsStackedOnRoot,
  parseMountInfo,
  rootMount,
  unescapeMountField,
} from '../../../agent/posture/mountinfo.js';
import { FIXTURES } from '../../helpers/fixtures.js';

/** Real /proc/PID/mountinfo files (test/fixtures/proc/README.md). */
const fixture = (name: string): string => readFileSync(join(FIXTURES, 'proc', name), 'latin1');

describe('parseMountInfo', () => {
  it('reads every field of a line with an optional field (shared:1) before the separator', () => {
    const entries = parseMountInfo(fixture('kernel618-host.mountinfo'));
    expect(entries).toHaveLength(21);
    expect(entries.find((e) => e.mountId === 42)).toStrictEqual({
      mountId: 42,
      parentId: 27,
      root: '/run/netns',
      mountPoint: '/run/netns',
      mountOptions: ['rw', 'relatime'],
      fsType: 'ext4',
      source: '/dev/vda',
      superOptions: ['rw', 'discard', 'resv_strict', 'resuid=65534', 'resgid=65534'],
    });
  });

  it('unescapes \\040 in mount point and source', () => {
    const entry = parseMountInfo(fixture('kernel618-root-ro-rw-bind-stacked.mountinfo')).find(
      (e) => e.mountId === 67,
    );
    expect([entry?.mountPoint, entry?.source, entry?.fsType]).toStrictEqual([
      '/tmp/kw-mi.6LAC/a b',
      'tmp fs',
      'tmpfs',
    ]);
    expect(unescapeMountField('a\\011b\\012c\\134d\\040')).toBe('a\tb\nc\\d ');
    expect(unescapeMountField('no\\escape\\9')).toBe('no\\escape\\9');
  });

  it('skips lines that are not in the format instead of failing', () => {
    const text = [
      '',
      'garbage',
      '27 1 254:0 / / rw,relatime ext4 /dev/vda rw',
      'x 1 254:0 / / rw - ext4 /dev/vda rw',
      '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
    ].join('\n');
    expect(parseMountInfo(text).map((e) => e.mountId)).toStrictEqual([27]);
  });

  it('keeps an empty source (two spaces after the type) as an empty field', () => {
    const [entry] = parseMountInfo('30 27 0:40 / /mnt rw - tmpfs  rw,size=4k');
    expect([entry?.source, entry?.superOptions]).toStrictEqual(['', ['rw', 'size=4k']]);
  });
});

describe('the root mount', () => {
  it('is the host root on a plain host: writable', () => {
    const text = fixture('kernel618-host.mountinfo');
    expect(rootMount(parseMountInfo(text))?.mountId).toBe(27);
    expect(isRootReadOnly(text)).toBe(false);
    expect(mountsStackedOnRoot(parseMountInfo(text))).toStrictEqual([]);
  });

  it('is the read-only root below a writable bind stacked on / (listed last, not in effect)', () => {
    const text = fixture('kernel618-root-ro-rw-bind-stacked.mountinfo');
    const entries = parseMountInfo(text);
    expect(rootMount(entries)?.mountId).toBe(45);
    expect(mountsStackedOnRoot(entries).map((e) => [e.mountId, e.parentId, e.mountOptions[0]])).toStrictEqual(
      [[68, 45, 'rw']],
    );
    expect(isRootReadOnly(text)).toBe(true);
  });

  it('is the writable root below a read-only bind stacked on / (writes went through there)', () => {
    const text = fixture('kernel618-root-rw-ro-bind-stacked.mountinfo');
    const entries = parseMountInfo(text);
    expect(rootMount(entries)?.mountId).toBe(119);
    expect(mountsStackedOnRoot(entries).map((e) => [e.mountId, e.parentId, e.mountOptions[0]])).toStrictEqual(
      [[223, 119, 'ro']],
    );
    expect(isRootReadOnly(text)).toBe(false);
  });

  it("is a containerd container's rootfs overlay: ro with readonlyRootfs, rw without", () => {
    const confined = fixture('containerd16-confined.mountinfo');
    expect(rootMount(parseMountInfo(confined))).toMatchObject({
      mountId: 99,
      parentId: 62,
      fsType: 'overlay',
    });
    expect(isRootReadOnly(confined)).toBe(true);
    expect(isRootReadOnly(fixture('containerd16-plain.mountinfo'))).toBe(false);
  });

  it('counts a read-only superblock as read-only whatever the mount says', () => {
    expect(isRootReadOnly('1 0 7:0 / / rw,relatime - squashfs /dev/loop0 ro,errors=continue')).toBe(true);
  });

  it('is unknown when no mount at / is listed (a chrooted process sees none)', () => {
    expect(isRootReadOnly('30 27 0:40 / /mnt rw - tmpfs tmpfs rw')).toBeUndefined();
    expect(isRootReadOnly('')).toBeUndefined();
  });
});
