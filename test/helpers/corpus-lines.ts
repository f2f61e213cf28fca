import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CORPUS, FIXTURES } from './fixtures.js';

/** Lines built for tests from real corpus lines (see test/fixtures/constructed/README.md). */
export const CONSTRUCTED = join(FIXTURES, 'constructed');

const cache = new Map<string, readonly string[]>();

function linesOf(path: string): readonly string[] {
  let lines = cache.get(path);
  if (lines === undefined) {
    const text = readFileSync(path, 'utf8');
    lines = (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n');
    cache.set(path, lines);
  }
  return lines;
}

/** Every line of a corpus file (path below corpus/), verbatim, without its newline. */
export function corpusLines(file: string): readonly string[] {
  return linesOf(join(CORPUS, file));
}

/** Line `lineNo` (1-based, as `grep -n` counts) of a corpus file, verbatim. */
export function corpusLine(file: string, lineNo: number): string {
  const line = corpusLines(file)[lineNo - 1];
  if (line === undefined) throw new Error(`${file} has no line ${String(lineNo)}`);
  return line;
}

/** Every line of a file in test/fixtures/constructed/. */
export function constructedLines(file: string): readonly string[] {
  return linesOf(join(CONSTRUCTED, file));
}

/**
 * A real line with `from` replaced by `to`; `from` must occur exactly once, so a changed fixture fails
 * loudly instead of silently yielding the unmodified line.
 */
export function derive(line: string, from: string, to: string): string {
  const at = line.indexOf(from);
  if (at < 0 || line.indexOf(from, at + 1) >= 0) {
    throw new Error(`derive: '${from}' does not occur exactly once in: ${line}`);
  }
  return line.slice(0, at) + to + line.slice(at + from.length);
}

/** The fields after the type word of a journald audit-transport line (`... audit[PID]: TYPE fields`). */
export function journaldBody(line: string): string {
  const m = /audit(?:\[\d+\])?: [A-Z_]+ (.*)$/.exec(line);
  if (m?.[1] === undefined) throw new Error(`not a journald audit line: ${line}`);
  return m[1].trim();
}

/** FNV-1a 32 bit over UTF-16 code units, as 8 lower-case hex digits (written independently of agent/). */
export function fnv1a32(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** The bench's seeded PRNG, so the fuzz test and the log generator share one implementation. */
export { mulberry32 } from '../bench/audit-log-generator.js';

/** Hex encoding as the kernel writes untrusted strings (upper case). */
export function kernelHex(s: string): string {
  return Buffer.from(s, 'utf8').toString('hex').toUpperCase();
}
