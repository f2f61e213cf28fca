import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KernwatchEvent } from '../../../agent/events.js';
import { CORPUS } from '../../helpers/fixtures.js';
import { parseFile } from '../../helpers/parse-text.js';

/**
 * An independent oracle: elastic/go-libaudit's golden parse of its own test logs
 * (corpus/auditd/expected/go-libaudit-auparse-<name>.golden.json for corpus/auditd/go-libaudit-auparse-<name>).
 * For every golden seccomp or avc record, kernwatch's event of the same audit id agrees on the fields both
 * report; for every golden record of another type, kernwatch reports no denial.
 */

interface GoldenRecord {
  record_type: string;
  sequence: number;
  raw_msg: string;
  data?: Record<string, string>;
}

/**
 * go-libaudit prints auditd's interpreted arch names; kernwatch prints libseccomp's (docs/events.md).
 * Where they differ: i386 → x86 (ppc64le and others are spelled alike).
 */
const ARCH_ALIAS: Readonly<Record<string, string>> = {
  i386: 'x86',
  i686: 'x86',
  x86_64: 'x86_64',
  aarch64: 'aarch64',
  armeb: 'arm',
  arm: 'arm',
  ppc64le: 'ppc64le',
  ppc64: 'ppc64',
  ppc: 'ppc',
  s390x: 's390x',
  s390: 's390',
};

/** go-libaudit prints signal names; kernwatch reports the number (generic Linux numbering). */
const SIGNAL_NUMBER: Readonly<Record<string, number>> = { SIGKILL: 9, SIGSEGV: 11, SIGSYS: 31 };

const DIR = join(CORPUS, 'auditd', 'expected');
const pairs = readdirSync(DIR)
  .filter((f) => f.endsWith('.golden.json'))
  .sort()
  .map((golden) => [golden.replace(/\.golden\.json$/, ''), golden] as const);

function goldenRecords(golden: string): GoldenRecord[] {
  // One entry of audit-rhel7's golden file is null: a line go-libaudit itself could not parse.
  const all = JSON.parse(readFileSync(join(DIR, golden), 'utf8')) as (GoldenRecord | null)[];
  return all.filter((r): r is GoldenRecord => r !== null);
}

function auditIdOf(r: GoldenRecord): string {
  const m = /^audit\((\d+\.\d{3}:\d+)\)/.exec(r.raw_msg);
  if (m?.[1] === undefined) throw new Error(`no audit id in ${r.raw_msg}`);
  return m[1];
}

const isDenial = (r: GoldenRecord): boolean => r.record_type === 'seccomp' || r.record_type === 'avc';

/** The fields a golden record shares with a kernwatch event, as `path → value` in kernwatch's terms. */
function sharedFromGolden(r: GoldenRecord): Record<string, unknown> {
  const d = r.data ?? {};
  const out: Record<string, unknown> = {};
  const num = (k: string, path: string): void => {
    const v = d[k];
    if (v !== undefined) out[path] = Number(v);
  };
  const str = (k: string, path: string): void => {
    const v = d[k];
    if (v !== undefined) out[path] = v;
  };
  num('pid', 'process.pid');
  str('comm', 'process.comm');
  str('exe', 'process.exe');
  num('auid', 'process.auid');
  num('uid', 'process.uid');
  num('gid', 'process.gid');
  num('ses', 'process.ses');
  if (r.record_type === 'seccomp') {
    out.kind = 'seccomp';
    if (d.arch !== undefined) out['seccomp.arch'] = ARCH_ALIAS[d.arch] ?? d.arch;
    str('syscall', 'seccomp.syscall');
    if (d.sig !== undefined) out['seccomp.signal'] = SIGNAL_NUMBER[d.sig] ?? Number(d.sig);
    str('code', 'seccomp.code');
    if (d.compat !== undefined) out['seccomp.compat'] = d.compat === '1';
  } else if (d.apparmor !== undefined) {
    out.kind = 'apparmor';
    str('apparmor', 'apparmor.mode');
    str('operation', 'apparmor.operation');
    str('profile', 'apparmor.profile');
    str('name', 'apparmor.name');
    str('requested_mask', 'apparmor.requestedMask');
    str('denied_mask', 'apparmor.deniedMask');
    str('peer', 'apparmor.peer');
  } else {
    out.kind = 'selinux';
    if (d.seperms !== undefined) out['selinux.permissions'] = d.seperms.split(/[ ,]+/);
    str('scontext', 'selinux.scontext');
    str('tcontext', 'selinux.tcontext');
    str('tclass', 'selinux.tclass');
    str('name', 'selinux.name');
    // seresult=denied: kernwatch reports only denials (a granted record would have no event at all).
    if (d.seresult !== undefined) out.verdict = d.seresult;
  }
  return out;
}

/** The same paths read from a kernwatch event. */
function pick(e: KernwatchEvent, paths: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const path of paths) {
    if (path === 'verdict') {
      out.verdict = e.kind === 'selinux' ? 'denied' : undefined;
      continue;
    }
    let v: unknown = e;
    for (const part of path.split('.')) v = (v as Record<string, unknown> | undefined)?.[part];
    out[path] = v;
  }
  return out;
}

describe('go-libaudit golden files', () => {
  it('are paired with their logs, and hold seccomp and avc records to compare', () => {
    expect(pairs.map(([log]) => log)).toEqual([
      'go-libaudit-auparse-audit-rhel6.log',
      'go-libaudit-auparse-audit-rhel7.log',
      'go-libaudit-auparse-audit-ubuntu14.log',
      'go-libaudit-auparse-audit-ubuntu16.log',
      'go-libaudit-auparse-audit-ubuntu17.log',
      'go-libaudit-auparse-test2.log',
      'go-libaudit-auparse-test3.log',
    ]);
    const denials = pairs.flatMap(([, golden]) => goldenRecords(golden).filter(isDenial));
    expect(denials.map((r) => [r.record_type, auditIdOf(r)])).toEqual([
      ['avc', '1524662933.080:61207'],
      ['avc', '1170021493.977:293'],
      ['seccomp', '1433785727.186:10262'],
    ]);
  });

  it.each(pairs)('%s: kernwatch agrees with every golden seccomp and avc record', (log, golden) => {
    const { events } = parseFile(join(CORPUS, 'auditd', log));
    const denials = goldenRecords(golden).filter(isDenial);
    // Denial records of one audit id are matched in order.
    const seen = new Map<string, number>();
    for (const r of denials) {
      const auditId = auditIdOf(r);
      const n = seen.get(auditId) ?? 0;
      seen.set(auditId, n + 1);
      const e = events.filter((x) => x.auditId === auditId)[n];
      const want = sharedFromGolden(r);
      expect(e === undefined ? undefined : pick(e, Object.keys(want)), `${log} ${auditId}`).toEqual(want);
    }
  });

  it.each(pairs)('%s: kernwatch reports no denial for golden records of other types', (log, golden) => {
    const { events } = parseFile(join(CORPUS, 'auditd', log));
    const records = goldenRecords(golden);
    const denialIds = new Set(records.filter(isDenial).map(auditIdOf));
    // Other records of a denial's own event (its SYSCALL, CWD, PATH) share its audit id: not counted here.
    const otherIds = new Set(records.filter((r) => !isDenial(r)).map(auditIdOf));
    for (const id of denialIds) otherIds.delete(id);
    expect(events.filter((e) => e.auditId !== undefined && otherIds.has(e.auditId)).map((e) => e.id)).toEqual(
      [],
    );
    expect(events).toHaveLength(records.filter(isDenial).length);
  });
});
