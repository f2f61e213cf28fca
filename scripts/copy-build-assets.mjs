// tsc emits only JavaScript: copy the non-TypeScript files the agent loads at run time (the CRI .proto)
// next to the compiled modules, keeping their paths under agent/.
import { cpSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const ASSET_SUFFIXES = ['.proto'];

function copyAssets(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const from = join(dir, entry.name);
    if (entry.isDirectory()) copyAssets(from);
    else if (ASSET_SUFFIXES.some((s) => entry.name.endsWith(s))) cpSync(from, join('dist', from));
  }
}

copyAssets('agent');
