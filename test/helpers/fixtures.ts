import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const CORPUS = join(FIXTURES, 'corpus');

/** Every file of the corpus but its documentation, the reference answer and the AppArmor suite's .out files. */
export function corpusLogFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) {
        walk(p);
      } else if (!name.endsWith('.md') && !name.endsWith('.out') && name !== 'expected-denials.jsonl') {
        out.push(relative(CORPUS, p));
      }
    }
  };
  walk(CORPUS);
  return out;
}
