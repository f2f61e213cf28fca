import { CHECK_STATUS, type CheckResult } from './doctor-types.js';
import type { DoctorReport } from './doctor.js';

/**
 * The doctor's two outputs: an aligned table for people (the fix of a warn or fail on the next line,
 * under the detail), and one JSON object for scripts: `{"node", "checks": [{"id", "status", "detail",
 * "fix"}]}`.
 */

const HEADER = { status: 'STATUS', check: 'CHECK', detail: 'DETAIL' } as const;
const GAP = '  ';

export function formatDoctorTable(report: DoctorReport): string {
  const statusWidth = Math.max(HEADER.status.length, ...report.checks.map((c) => c.status.length));
  const checkWidth = Math.max(HEADER.check.length, ...report.checks.map((c) => c.id.length));
  const indent = ' '.repeat(statusWidth + checkWidth + 2 * GAP.length);
  const lines = [
    `node ${report.node}`,
    `${HEADER.status.padEnd(statusWidth)}${GAP}${HEADER.check.padEnd(checkWidth)}${GAP}${HEADER.detail}`,
  ];
  for (const c of report.checks) {
    lines.push(`${c.status.padEnd(statusWidth)}${GAP}${c.id.padEnd(checkWidth)}${GAP}${printable(c.detail)}`);
    if (c.status !== CHECK_STATUS.pass && c.fix !== '') lines.push(`${indent}fix: ${printable(c.fix)}`);
  }
  lines.push(summary(report.checks));
  return `${lines.join('\n')}\n`;
}

export function formatDoctorJson(report: DoctorReport): string {
  return `${JSON.stringify({
    node: report.node,
    checks: report.checks.map(({ id, status, detail, fix }) => ({ id, status, detail, fix })),
  })}\n`;
}

/** `1 fail, 2 warn, 7 pass`. */
export function summary(checks: readonly CheckResult[]): string {
  const count = (s: string): number => checks.filter((c) => c.status === s).length;
  return `${count(CHECK_STATUS.fail)} fail, ${count(CHECK_STATUS.warn)} warn, ${count(CHECK_STATUS.pass)} pass`;
}

/** A detail quotes what files and programs said: no control characters reach the terminal. */
function printable(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    out += code < 0x20 || code === 0x7f ? ' ' : ch;
  }
  return out;
}
