import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KernwatchEvent } from '../../../agent/events.js';
import { eventToJson } from '../../../agent/sinks/event-json.js';
import { CORPUS, corpusLogFiles } from '../../helpers/fixtures.js';
import { EVENT_KEY_ORDER } from '../../helpers/event-schema.js';
import { parseFile } from '../../helpers/parse-text.js';

const events: KernwatchEvent[] = corpusLogFiles().flatMap((f) => parseFile(join(CORPUS, f)).events);

describe('the hand-written event JSON', () => {
  it('has events from the whole corpus to check', () => {
    expect(events.length).toBeGreaterThan(600);
  });

  it('parses back to exactly the event it was written from, for every corpus event', () => {
    for (const e of events) expect(JSON.parse(eventToJson(e))).toStrictEqual(e);
  });

  it('writes the top-level keys in the documented order', () => {
    for (const e of events) {
      const keys = Object.keys(JSON.parse(eventToJson(e)) as object);
      expect(keys).toEqual(EVENT_KEY_ORDER.filter((k) => keys.includes(k)));
    }
  });

  it('escapes the ENRICHED separator and quotes of raw lines as JSON requires', () => {
    const e = events.find((x) => x.raw.some((l) => l.includes('\u001d')));
    expect(e).toBeDefined();
    const json = eventToJson(e as KernwatchEvent);
    expect(json).toContain('\\u001d');
    expect(json).not.toContain('\u001d');
  });
});
