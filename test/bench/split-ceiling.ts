/**
 * The ceiling for any parser built on kernwatch's reader: read the file in 1 MiB chunks and split it into
 * lines with the same LineSplitter `kernwatch parse` uses, doing nothing with the lines but counting them.
 * Whatever parsing and output cost comes on top of this. Prints the count to stdout.
 *
 * Usage: node dist/test/bench/split-ceiling.js FILE
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { LineSplitter } from '../../agent/sources/line-splitter.js';

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write('usage: split-ceiling FILE\n');
  process.exit(2);
}

let lines = 0;
const count = (): void => {
  lines++;
};
const splitter = new LineSplitter();
const fd = openSync(file, 'r');
const chunk = Buffer.allocUnsafe(1 << 20);
for (
  let n = readSync(fd, chunk, 0, chunk.length, null);
  n > 0;
  n = readSync(fd, chunk, 0, chunk.length, null)
) {
  splitter.push(chunk.subarray(0, n), count);
}
splitter.end(count);
closeSync(fd);
process.stdout.write(`${String(lines)}\n`);
