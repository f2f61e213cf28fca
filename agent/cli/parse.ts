import { createReadStream } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Readable } from 'node:stream';
import { ATTRIBUTION, buildEvent, EVENT_SOURCE, type IdentifiedDenial } from '../events.js';
import { InputUnreadableError, UsageError } from '../errors.js';
import { MALFORMED_REASON } from '../parse/envelope.js';
import { AuditStreamParser } from '../parse/audit-stream-parser.js';
import type { ParseStats } from '../parse/parse-stats.js';
import { LineSplitter } from '../sources/line-splitter.js';
import { eventToJson } from '../sinks/event-json.js';
import { toFalcoAlert } from '../sinks/falco-format.js';
import { tableHeader, tableRow } from './event-table.js';
import { resolveNodeName } from './node-name.js';
import { OutputBuffer } from './output-buffer.js';

export const PARSE_USAGE = `Usage: kernwatch parse [--format ndjson|falco|table] [--node NAME] FILE... | -

Reads audit records in any supported log form (auditd audit.log raw or enriched, /dev/kmsg, dmesg,
syslog, journalctl short/short-iso/short-unix/json, logcat) and writes one event per kernel denial.
A summary of counts goes to stderr. Exit 0, or 1 when a file could not be read, or 2 for usage errors.`;

const FORMATS = ['ndjson', 'falco', 'table'] as const;
type OutputFormat = (typeof FORMATS)[number];

export interface ParseOptions {
  format: OutputFormat;
  node: string;
  inputs: string[];
}

export function parseParseArgs(argv: string[]): ParseOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        format: { type: 'string', short: 'f', default: 'ndjson' },
        node: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err), { cause: err });
  }
  const { values, positionals } = parsed;
  if (values.help === true) throw new UsageError(PARSE_USAGE);
  const format = values.format;
  if (!isFormat(format))
    throw new UsageError(`Unknown --format '${format}' (expected ndjson, falco or table).`);
  if (positionals.length === 0)
    throw new UsageError('No input given: name one or more files, or - for stdin.');
  return { format, node: resolveNodeName(values.node), inputs: positionals };
}

function isFormat(value: string): value is OutputFormat {
  return (FORMATS as readonly string[]).includes(value);
}

export interface ParseRunResult {
  stats: ParseStats;
  events: number;
  unreadable: InputUnreadableError[];
}

/** `kernwatch parse`: every input in turn through one parser; returns counts for the summary. */
export async function runParse(
  options: ParseOptions,
  io: { stdin: Readable; stdout: NodeJS.WritableStream & import('node:stream').Writable },
): Promise<ParseRunResult> {
  const out = new OutputBuffer(io.stdout);
  if (options.format === 'table') out.add(tableHeader());
  let events = 0;
  const ctx = { node: options.node, source: EVENT_SOURCE.file, attribution: ATTRIBUTION.unresolved };
  const onDenial = (d: IdentifiedDenial): void => {
    events++;
    const event = buildEvent(d, ctx);
    if (options.format === 'table') {
      out.add(tableRow(event));
    } else if (options.format === 'falco') {
      out.add(`${JSON.stringify(toFalcoAlert(event))}\n`);
    } else {
      out.add(`${eventToJson(event)}\n`);
    }
  };
  const parser = new AuditStreamParser({ onDenial });
  const unreadable: InputUnreadableError[] = [];
  for (const input of options.inputs) {
    const splitter = new LineSplitter();
    const onLine = (text: string, start: number, end: number): void => {
      parser.pushLine(text, start, end);
    };
    const stream: Readable = input === '-' ? io.stdin : createReadStream(input, { highWaterMark: 1 << 20 });
    try {
      for await (const chunk of stream) {
        splitter.push(chunk as Buffer, onLine);
        if (out.shouldFlush()) await out.flush();
      }
      splitter.end(onLine);
    } catch (err) {
      unreadable.push(new InputUnreadableError(input === '-' ? 'stdin' : input, { cause: err }));
    }
    parser.stats.malformed[MALFORMED_REASON.tooLong] += splitter.oversizedLines;
    parser.stats.lines += splitter.oversizedLines;
    // Events do not span files: what is still waiting for siblings belongs to this input.
    parser.flushAll();
    await out.flush();
  }
  return { stats: parser.stats, events, unreadable };
}

export function formatSummary(result: ParseRunResult): string {
  const s = result.stats;
  const forms = Object.entries(s.byForm)
    .filter(([, n]) => n > 0)
    .map(([f, n]) => `${f} ${String(n)}`)
    .join(', ');
  const malformed = Object.entries(s.malformed)
    .filter(([, n]) => n > 0)
    .map(([r, n]) => `${r} ${String(n)}`)
    .join(', ');
  const notDenial = Object.entries(s.notDenial)
    .filter(([, n]) => n > 0)
    .map(([r, n]) => `${r} ${String(n)}`)
    .join(', ');
  const parts = [
    `kernwatch parse: ${String(s.lines)} lines, ${String(result.events)} events ` +
      `(seccomp ${String(s.denials.seccomp)}, apparmor ${String(s.denials.apparmor)}, selinux ${String(s.denials.selinux)})`,
    `  not relevant ${String(s.notRelevant)}; malformed ${String(s.malformedTotal())}${malformed === '' ? '' : ` (${malformed})`}`,
    `  records that are not denials: ${notDenial === '' ? 'none' : notDenial}`,
    `  siblings joined ${String(s.siblingsJoined)}, dropped ${String(s.siblingsDropped)}`,
    `  line forms: ${forms === '' ? 'none' : forms}`,
  ];
  for (const u of result.unreadable) parts.push(`  error: ${u.message}`);
  return `${parts.join('\n')}\n`;
}
