import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';

/** A rate as docs/benchmarks.md shows it: rounded, with thousands separators. */
export function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/**
 * Rewrites the section of docs/benchmarks.md between `<!-- NAME:start -->` and `<!-- NAME:end -->`, then
 * lays the file out as prettier does (the lint checks docs too).
 */
export async function updateBenchDocs(root: string, name: string, table: string): Promise<void> {
  const path = join(root, 'docs/benchmarks.md');
  const startMarker = `<!-- ${name}:start -->`;
  const text = readFileSync(path, 'utf8');
  const start = text.indexOf(startMarker);
  const end = text.indexOf(`<!-- ${name}:end -->`);
  if (start < 0 || end < start) {
    console.log(`note: ${path} has no ${startMarker} section; not updated`);
    return;
  }
  const updated = `${text.slice(0, start + startMarker.length)}\n\n${table}\n\n${text.slice(end)}`;
  const options = (await resolveConfig(path)) ?? {};
  writeFileSync(path, await format(updated, { ...options, filepath: path }));
}
