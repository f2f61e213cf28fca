import { readFileSync } from 'node:fs';
import { ATTRIBUTION, buildEvent, EVENT_SOURCE, type KernwatchEvent } from '../../agent/events.js';
import { AuditStreamParser, type AuditStreamParserOptions } from '../../agent/parse/audit-stream-parser.js';
import { splitText } from '../../agent/sources/line-splitter.js';

export interface ParsedText {
  events: KernwatchEvent[];
  parser: AuditStreamParser;
}

/** Runs text through one parser, line by line as the CLI does, and returns the events it emitted. */
export function parseText(
  text: string,
  options: Partial<AuditStreamParserOptions> = {},
  node = 'test-node',
): ParsedText {
  const events: KernwatchEvent[] = [];
  const parser = new AuditStreamParser({
    now: () => new Date('2026-11-28T12:00:00Z'),
    ...options,
    onDenial: (d) => {
      events.push(buildEvent(d, { node, source: EVENT_SOURCE.file, attribution: ATTRIBUTION.unresolved }));
    },
  });
  splitText(text, (t, s, e) => {
    parser.pushLine(t, s, e);
  });
  parser.flushAll();
  return { events, parser };
}

export function parseFile(path: string, options: Partial<AuditStreamParserOptions> = {}): ParsedText {
  return parseText(readFileSync(path, 'utf8'), options);
}
