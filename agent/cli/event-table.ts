import type { KernwatchEvent } from '../events.js';
import { deciderOf, deniedWhat } from '../sinks/event-summary.js';

/**
 * Fixed column widths: every row lines up with the header however many rows and files come, and each
 * row can be written at once. TIME is always 23 characters; a comm is at most 15 (TASK_COMM_LEN - 1);
 * longer cells are cut with an ellipsis. The last column is not padded.
 */
const COLUMNS = [
  ['TIME', 23],
  ['KIND', 8],
  ['OUTCOME', 14],
  ['PID', 7],
  ['COMM', 15],
  ['DENIED', 48],
  ['BY', 0],
] as const;

export function tableHeader(): string {
  return formatRow(COLUMNS.map(([name]) => name));
}

export function tableRow(e: KernwatchEvent): string {
  return formatRow([
    e.time.replace('T', ' ').replace('Z', ''),
    e.kind,
    e.count > 1 ? `${e.outcome} x${String(e.count)}` : e.outcome,
    String(e.process.pid),
    e.process.comm ?? '?',
    deniedWhat(e),
    deciderOf(e),
  ]);
}

function formatRow(cells: readonly string[]): string {
  let line = '';
  for (let i = 0; i < cells.length; i++) {
    const width = COLUMNS[i]?.[1] ?? 0;
    const value = printable(cells[i] ?? '');
    if (width === 0) line += value;
    else line += `${fit(value, width)}  `;
  }
  return `${line.trimEnd()}\n`;
}

function fit(value: string, width: number): string {
  return value.length > width ? `${value.slice(0, width - 1)}…` : value.padEnd(width);
}

/** Control characters from decoded process names must not reach the terminal. */
function printable(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u001f\u007f]/g, '?');
}
