import type { KernwatchEvent } from '../events.js';
import { deciderOf, deniedWhat } from '../sinks/event-summary.js';

const COLUMNS = ['TIME', 'KIND', 'OUTCOME', 'PID', 'COMM', 'DENIED', 'BY'] as const;
/** Rows are aligned in blocks of this many so a huge input never has to be held in memory. */
const BLOCK_ROWS = 2000;
const MAX_CELL = 80;

/** An aligned, human-readable table of events, written block by block. */
export class EventTable {
  private rows: string[][] = [];
  private widths: number[] = COLUMNS.map((c) => c.length);
  private headerDone = false;

  add(e: KernwatchEvent): void {
    const row = [
      e.time.replace('T', ' ').replace('Z', ''),
      e.kind,
      e.count > 1 ? `${e.outcome} x${String(e.count)}` : e.outcome,
      String(e.process.pid),
      e.process.comm ?? '?',
      deniedWhat(e),
      deciderOf(e),
    ].map(cell);
    this.rows.push(row);
  }

  isBlockFull(): boolean {
    return this.rows.length >= BLOCK_ROWS;
  }

  /** The rows so far as text; column widths only grow, so later blocks stay aligned with earlier ones. */
  drain(): string {
    for (const row of this.rows) {
      row.forEach((c, i) => {
        if (c.length > (this.widths[i] ?? 0)) this.widths[i] = c.length;
      });
    }
    const lines: string[] = [];
    if (!this.headerDone) {
      lines.push(this.format([...COLUMNS]));
      this.headerDone = true;
    }
    for (const row of this.rows) lines.push(this.format(row));
    this.rows = [];
    return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  }

  private format(row: string[]): string {
    return row
      .map((c, i) => (i === row.length - 1 ? c : c.padEnd(this.widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  }
}

function cell(value: string): string {
  // Control characters from decoded process names must not reach the terminal.
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > MAX_CELL ? `${clean.slice(0, MAX_CELL - 1)}…` : clean;
}
