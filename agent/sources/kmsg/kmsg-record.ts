/**
 * One /dev/kmsg record as read(2) returns it: `PRI,SEQ,USEC,FLAGS[,more];message\n` followed by zero or
 * more dictionary lines ` KEY=value\n` (SUBSYSTEM=, DEVICE=). The kernel escapes every byte below 0x20,
 * above 0x7e and the backslash as `\xNN`, so a record is plain ASCII and decodes as latin1 without loss.
 */

const NEWLINE = 10;
const COMMA = 44;
const SEMICOLON = 59;

/**
 * The record's first line, without its newline and without the dictionary lines: the form the parser and
 * the corpus files (test/fixtures/corpus/kmsg/) use.
 */
export function kmsgRecordLine(record: Buffer): string {
  const end = record.indexOf(NEWLINE);
  return record.toString('latin1', 0, end < 0 ? record.length : end);
}

/**
 * The SEQ field of a record line (`PRI,SEQ,...;`), or -1 when the line has no kmsg header. SEQ is a u64
 * in the kernel; it grows by one per record since boot, so it stays far below 2^53 in practice.
 */
export function kmsgSeq(line: string): number {
  const firstComma = line.indexOf(',');
  if (firstComma <= 0 || firstComma > 4) return -1;
  for (let i = 0; i < firstComma; i++) {
    const d = line.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
  }
  let seq = 0;
  let i = firstComma + 1;
  for (; i < line.length; i++) {
    const d = line.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    seq = seq * 10 + d;
  }
  if (i === firstComma + 1 || i - firstComma > 21 || line.charCodeAt(i) !== COMMA) return -1;
  // The header must close with ';' before the message; without it this is not a kmsg record.
  const semi = line.indexOf(';', i);
  if (semi < 0 || semi - i > 64 || line.charCodeAt(semi) !== SEMICOLON) return -1;
  return seq;
}
