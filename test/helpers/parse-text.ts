import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { ATTRIBUTION, buildEvent, EVENT_SOURCE, type KernwatchEvent } from '../../agent/events.js';
import { AuditStreamParser, type AuditStreamParserOptions } from '../../agent/parse/audit-stream-parser.js';
import { splitText } from '../../agent/sources/line-splitter.js';

export interface ParsedText {
  events: KernwatchEvent[];
  parser: AuditStreamParser;
}

/** A parser with a fixed clock whose events (as the CLI builds them) collect in `events`. */
export function collectingParser(
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
  return { events, parser };
}

/** Runs text through one parser, line by line as the CLI does, and returns the events it emitted. */
export function parseText(
  text: string,
  options: Partial<AuditStreamParserOptions> = {},
  node = 'test-node',
): ParsedText {
  const parsed = collectingParser(options, node);
  splitText(text, (t, s, e) => {
    parsed.parser.pushLine(t, s, e);
  });
  parsed.parser.flushAll();
  return parsed;
}

export function parseFile(path: string, options: Partial<AuditStreamParserOptions> = {}): ParsedText {
  return parseText(readFileSync(path, 'utf8'), options);
}

/** The one event that text yields; fails the test if it yields none or several. */
export function onlyEvent(text: string): KernwatchEvent {
  const { events } = parseText(text);
  expect(events).toHaveLength(1);
  const [e] = events;
  if (e === undefined) throw new Error('no event');
  return e;
}
