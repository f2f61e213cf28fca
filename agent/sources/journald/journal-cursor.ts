const CURSOR_KEY = '"__CURSOR":"';

/**
 * The `__CURSOR` of one `journalctl -o json` line, found without parsing the JSON (the parser does that
 * later, once). journald writes cursors as `s=…;i=…;b=…;m=…;t=…;x=…`: hex digits, letters, `=` and `;`,
 * never a quote or a backslash, so the value ends at the next quote.
 */
export function cursorOf(line: string): string | undefined {
  const at = line.indexOf(CURSOR_KEY);
  if (at < 0) return undefined;
  const start = at + CURSOR_KEY.length;
  const end = line.indexOf('"', start);
  if (end <= start) return undefined;
  const cursor = line.slice(start, end);
  return cursor.includes('\\') ? undefined : cursor;
}
