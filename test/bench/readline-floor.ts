/**
 * Baseline for the parser benchmark: the cheapest idiomatic way to read a log line by line in Node
 * (readline over fs.createReadStream), doing nothing but counting lines. Prints the count to stdout.
 *
 * Usage: node dist/test/bench/readline-floor.js FILE
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write('usage: readline-floor FILE\n');
  process.exit(2);
}

let lines = 0;
const input = createReadStream(file);
input.on('error', (err) => {
  process.stderr.write(`readline-floor: ${err.message}\n`);
  process.exit(1);
});
const rl = createInterface({ input, crlfDelay: Infinity });
rl.on('line', () => {
  lines++;
});
rl.on('close', () => {
  process.stdout.write(`${lines}\n`);
});
