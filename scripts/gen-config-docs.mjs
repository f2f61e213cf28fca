// Rewrites the generated table of docs/configuration.md from the config schema's metadata, leaving the
// hand-written text around it. It imports the compiled generator, so `npm run gen:config-docs` builds first.
// The table is formatted by prettier here, as `npm run lint` will check it, so the file never goes stale
// against its own formatting.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { replaceGeneratedSection } from '../dist/agent/config/config-reference.js';

const path = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));
const doc = await readFile(path, 'utf8');
const options = { ...(await prettier.resolveConfig(path)), filepath: path };
const updated = await prettier.format(replaceGeneratedSection(doc), options);
if (updated === doc) {
  console.log('docs/configuration.md is up to date');
} else {
  await writeFile(path, updated);
  console.log('docs/configuration.md: table regenerated');
}
