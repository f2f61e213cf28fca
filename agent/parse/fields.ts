/**
 * Tokenizer for the key=value body of an audit record, and decoders for its values.
 *
 * Values are kept as written: quoted values keep their quotes so the decoders can tell a quoted string
 * from an unquoted, hex-encoded one (the kernel hex-encodes untrusted strings that contain spaces, quotes
 * or control bytes, and then writes them unquoted). A hostile process name therefore can never end a
 * field early or forge another field.
 */

const SPACE = 32;
const DQUOTE = 34;
const SQUOTE = 39;
const EQUALS = 61;
const LBRACE = 123;
/** auditd's ENRICHED format appends interpreted fields after this byte. */
export const ENRICHED_SEPARATOR = 0x1d;

/** What the builders need of a record's fields: the raw value of a key, first occurrence winning. */
export interface FieldLookup {
  get(key: string): string | undefined;
  has(key: string): boolean;
}

/** Fields kept per record; a kernel record has about 25, an ENRICHED one stops at the separator. */
const MAX_FIELDS = 96;

/**
 * The fields of one record as offsets into its text: tokenising allocates nothing, and only the values
 * a builder asks for become strings. A lookup is a linear scan comparing key lengths first, cheaper than
 * hashing every key of every record into a Map. One instance is reused record after record.
 */
export class RecordFields implements FieldLookup {
  private text = '';
  private count = 0;
  private readonly keyStart = new Int32Array(MAX_FIELDS);
  private readonly keyLength = new Int32Array(MAX_FIELDS);
  private readonly valueStart = new Int32Array(MAX_FIELDS);
  private readonly valueEnd = new Int32Array(MAX_FIELDS);
  /** SELinux AVC `{ read write }`. */
  perms: string[] | undefined = undefined;
  /** SELinux AVC verdict word, `denied` or `granted`. */
  verdict: string | undefined = undefined;
  /** Set when a quote was never closed (a truncated line). */
  truncated = false;

  /** The builders' view; the record itself, kept as a property so call sites read `fields.values.get`. */
  get values(): FieldLookup {
    return this;
  }

  reset(text: string): void {
    this.text = text;
    this.count = 0;
    this.perms = undefined;
    this.verdict = undefined;
    this.truncated = false;
  }

  add(keyStart: number, keyEnd: number, valueStart: number, valueEnd: number): void {
    const n = this.count;
    if (n >= MAX_FIELDS) return;
    this.keyStart[n] = keyStart;
    this.keyLength[n] = keyEnd - keyStart;
    this.valueStart[n] = valueStart;
    this.valueEnd[n] = valueEnd;
    this.count = n + 1;
  }

  private find(key: string): number {
    const length = key.length;
    const text = this.text;
    for (let i = 0; i < this.count; i++) {
      if (this.keyLength[i] === length && text.startsWith(key, this.keyStart[i])) return i;
    }
    return -1;
  }

  get(key: string): string | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : this.text.slice(this.valueStart[i], this.valueEnd[i]);
  }

  has(key: string): boolean {
    return this.find(key) >= 0;
  }
}

/** Tokenises text[start, end) into `into` (reused) or a new RecordFields. */
export function parseFields(
  text: string,
  start: number,
  end: number,
  into = new RecordFields(),
): RecordFields {
  const fields = into;
  fields.reset(text);
  let i = start;
  while (i < end) {
    let c = text.charCodeAt(i);
    while (c === SPACE && ++i < end) c = text.charCodeAt(i);
    if (i >= end || c === ENRICHED_SEPARATOR) break;
    if (c === LBRACE) {
      let close = text.indexOf('}', i + 1);
      if (close < 0 || close >= end) {
        fields.truncated = true;
        close = end;
      }
      fields.perms = splitWords(text, i + 1, close);
      i = close + 1;
      continue;
    }
    const keyStart = i;
    while (i < end) {
      c = text.charCodeAt(i);
      if (c === EQUALS || c === SPACE || c === ENRICHED_SEPARATOR) break;
      i++;
    }
    if (i >= end || c !== EQUALS) {
      // A bare word: `avc:`, `denied`, `for`, `user`, `(enforce)`.
      if (fields.verdict === undefined && i - keyStart >= 6 && i - keyStart <= 7) {
        if (text.startsWith('denied', keyStart) && i - keyStart === 6) fields.verdict = 'denied';
        else if (text.startsWith('granted', keyStart)) fields.verdict = 'granted';
      }
      continue;
    }
    const keyEnd = i;
    i++; // '='
    if (i >= end) {
      fields.add(keyStart, keyEnd, end, end);
      break;
    }
    c = text.charCodeAt(i);
    let valueEnd: number;
    if (c === DQUOTE || c === SQUOTE) {
      const close = text.indexOf(c === DQUOTE ? '"' : "'", i + 1);
      if (close < 0 || close >= end) {
        fields.truncated = true;
        valueEnd = end;
      } else {
        valueEnd = close + 1;
      }
      fields.add(keyStart, keyEnd, i, valueEnd);
      i = valueEnd;
      // ENRICHED fields glued onto a quoted value (`exe="/bin/x"UID="root"`) are parsed as the next key.
      continue;
    }
    valueEnd = i;
    let firstEquals = -1;
    while (valueEnd < end) {
      c = text.charCodeAt(valueEnd);
      if (c === SPACE || c === ENRICHED_SEPARATOR) break;
      if (c === EQUALS && firstEquals < 0) firstEquals = valueEnd;
      valueEnd++;
    }
    if (firstEquals > i) {
      // auditd ENRICHED written without its separator glues the interpreted field onto the value:
      // `code=0x7ffc0000AUID="unset"`, `ouid=0FSUID="root"`, `key=(null)ARCH=x86_64`. Interpreted keys are
      // upper case, raw values never end in an upper-case run followed by '='.
      const split = gluedKeyStart(text, i, firstEquals);
      if (split > i) {
        fields.add(keyStart, keyEnd, i, split);
        i = split;
        continue;
      }
    }
    fields.add(keyStart, keyEnd, i, valueEnd);
    i = valueEnd;
  }
  return fields;
}

/** Start of the upper-case key that ends at `equals`, or `from` when there is none. */
function gluedKeyStart(text: string, from: number, equals: number): number {
  let k = equals;
  while (k > from) {
    const c = text.charCodeAt(k - 1);
    if ((c >= 65 && c <= 90) || c === 95) k--;
    else break;
  }
  return k < equals ? k : from;
}

function splitWords(text: string, start: number, end: number): string[] {
  const words: string[] = [];
  let i = start;
  while (i < end) {
    while (i < end && text.charCodeAt(i) === SPACE) i++;
    const s = i;
    while (i < end && text.charCodeAt(i) !== SPACE) i++;
    if (i > s) words.push(text.slice(s, i));
  }
  return words;
}

/** A value with its quotes removed; `(null)` and `?` mean absent. Not hex-decoded. */
export function plain(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const c = value.charCodeAt(0);
  if (c === DQUOTE || c === SQUOTE) {
    const last = value.length - 1;
    return last > 0 && value.charCodeAt(last) === c ? value.slice(1, last) : value.slice(1);
  }
  if (value === '(null)' || value === '?' || value === '') return undefined;
  return value;
}

/**
 * An untrusted string field (comm, exe, name, path, cwd, profile, proctitle...): quoted as written, or
 * unquoted hex that the kernel encoded because the string holds spaces, quotes or control bytes.
 */
export function untrusted(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const c = value.charCodeAt(0);
  if (c === DQUOTE || c === SQUOTE) return plain(value);
  if (value === '(null)' || value === '?' || value === '') return undefined;
  return isHex(value) ? Buffer.from(value, 'hex').toString('utf8') : value;
}

/** PROCTITLE / EXECVE argv: hex with NUL separators, or a quoted single argument. */
export function commandLine(value: string | undefined): string | undefined {
  const decoded = untrusted(value);
  if (decoded === undefined) return undefined;
  let end = decoded.length;
  while (end > 0 && decoded.charCodeAt(end - 1) === 0) end--;
  return decoded.slice(0, end).replaceAll('\0', ' ');
}

export function isHex(value: string): boolean {
  const n = value.length;
  if (n === 0 || (n & 1) === 1) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** A non-negative decimal integer, unquoted; anything else (interpreted names, garbage) is absent. */
export function uint(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = value.length;
  if (n === 0 || n > 15) return undefined;
  let r = 0;
  for (let i = 0; i < n; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    r = r * 10 + d;
  }
  return r;
}

/** A decimal integer that may be negative (`error=-13`). */
export function int(value: string | undefined): number | undefined {
  const v = plain(value);
  if (v === undefined) return undefined;
  if (v.charCodeAt(0) === 45) {
    const n = uint(v.slice(1));
    return n === undefined ? undefined : -n;
  }
  return uint(v);
}

/** `0x7ffc0000` or `7ffc0000` as an unsigned 32-bit number. */
export function hex32(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const digits = value.startsWith('0x') || value.startsWith('0X') ? value.slice(2) : value;
  if (digits.length === 0 || digits.length > 8) return undefined;
  let r = 0;
  for (let i = 0; i < digits.length; i++) {
    const c = digits.charCodeAt(i);
    let d: number;
    if (c >= 48 && c <= 57) d = c - 48;
    else if (c >= 97 && c <= 102) d = c - 87;
    else if (c >= 65 && c <= 70) d = c - 55;
    else return undefined;
    r = r * 16 + d;
  }
  return r;
}

/**
 * The raw value of one key in text[start, end), as parseFields would store it, without tokenising the
 * whole record: for sibling records only a few keys are wanted. Keys are matched at a word start, so
 * `uid` does not match inside `auid`, and interpreted ENRICHED keys (upper case) never match.
 */
export function findField(text: string, start: number, end: number, key: string): string | undefined {
  const needle = `${key}=`;
  let at = text.indexOf(needle, start);
  while (at >= 0 && at < end) {
    const before = at === start ? SPACE : text.charCodeAt(at - 1);
    if (before === SPACE) return valueAt(text, at + needle.length, end);
    if (before === ENRICHED_SEPARATOR) return undefined;
    at = text.indexOf(needle, at + 1);
  }
  return undefined;
}

function valueAt(text: string, i: number, end: number): string {
  if (i >= end) return '';
  const c = text.charCodeAt(i);
  if (c === DQUOTE || c === SQUOTE) {
    const close = text.indexOf(c === DQUOTE ? '"' : "'", i + 1);
    return text.slice(i, close < 0 || close >= end ? end : close + 1);
  }
  let j = i;
  let firstEquals = -1;
  while (j < end) {
    const d = text.charCodeAt(j);
    if (d === SPACE || d === ENRICHED_SEPARATOR) break;
    if (d === EQUALS && firstEquals < 0) firstEquals = j;
    j++;
  }
  if (firstEquals > i) {
    const split = gluedKeyStart(text, i, firstEquals);
    if (split > i) return text.slice(i, split);
  }
  return text.slice(i, j);
}
