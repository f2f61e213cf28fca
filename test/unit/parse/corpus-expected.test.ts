import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KernwatchEvent } from '../../../agent/events.js';
import { CORPUS, corpusLogFiles } from '../../helpers/fixtures.js';
import { parseFile } from '../../helpers/parse-text.js';

/**
 * Acceptance: for every file of the corpus, each denial of corpus/expected-denials.jsonl (an independent
 * reference answer) is reported once with those field values, and no other denial is reported.
 */
type Expected = Record<string, unknown> & { file: string; kind: string; optional?: boolean };

const expectedByFile = new Map<string, Expected[]>();
for (const line of readFileSync(join(CORPUS, 'expected-denials.jsonl'), 'utf8').split('\n')) {
  if (line.trim() === '') continue;
  const e = JSON.parse(line) as Expected;
  const list = expectedByFile.get(e.file) ?? [];
  list.push(e);
  expectedByFile.set(e.file, list);
}

/** The value of an expectation key in an event, as SOURCES.md names them. */
function actual(e: KernwatchEvent, key: string): unknown {
  switch (key) {
    case 'kind':
      return e.kind;
    case 'pid':
      return e.process.pid;
    case 'auditId':
      return e.auditId;
    case 'arch':
    case 'syscall':
    case 'action':
      return e.seccomp?.[key];
    case 'mode':
    case 'operation':
    case 'profile':
    case 'name':
      return e.apparmor?.[key];
    case 'permissions':
      return e.selinux === undefined ? undefined : [...e.selinux.permissions].sort();
    case 'scontext':
    case 'tcontext':
    case 'tclass':
    case 'permissive':
      return e.selinux?.[key];
    default:
      throw new Error(`unknown expectation key ${key}`);
  }
}

function matches(e: KernwatchEvent, exp: Expected): boolean {
  for (const [key, value] of Object.entries(exp)) {
    if (key === 'file' || key === 'optional') continue;
    const got = actual(e, key);
    const want = key === 'permissions' ? [...(value as string[])].sort() : value;
    if (JSON.stringify(got) !== JSON.stringify(want)) return false;
  }
  return true;
}

/**
 * SOURCES.md: "dbus-daemon/dbus-broker messages are user-space decisions, not kernel denials (neither
 * required nor wrong to report)". The reference leaves out every record that names them, kernel AVCs of
 * a dbus-daemon process included; kernwatch reports those, which the reference allows.
 */
function userSpaceDbus(e: KernwatchEvent): boolean {
  return e.raw.some((line) => /dbus-(daemon|broker)/.test(line));
}

function describeEvent(e: KernwatchEvent): string {
  return JSON.stringify({
    auditId: e.auditId,
    kind: e.kind,
    pid: e.process.pid,
    raw: e.raw[0]?.slice(0, 160),
  });
}

const files = corpusLogFiles();

describe('the reference answer for the whole corpus', () => {
  it('covers files that exist', () => {
    for (const file of expectedByFile.keys()) expect(files).toContain(file);
  });

  it.each(files)('%s: every expected denial once, and no other', (file) => {
    const { events } = parseFile(join(CORPUS, file));
    const expected = expectedByFile.get(file) ?? [];
    const used = new Set<number>();
    const problems: string[] = [];
    // Most specific expectations first, so one without an auditId cannot take the event another needs.
    const bySpecificity = [...expected].sort((a, b) => Object.keys(b).length - Object.keys(a).length);
    for (const exp of bySpecificity) {
      const i = events.findIndex((e, idx) => !used.has(idx) && matches(e, exp));
      if (i >= 0) used.add(i);
      else if (exp.optional !== true) problems.push(`missing ${JSON.stringify(exp)}`);
    }
    events.forEach((e, idx) => {
      if (!used.has(idx) && !userSpaceDbus(e)) problems.push(`unexpected ${describeEvent(e)}`);
    });
    expect(problems).toEqual([]);
  });
});
