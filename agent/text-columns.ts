/**
 * Rows of cells as aligned text lines: every column but the last padded to its widest cell, two spaces
 * between columns, no trailing blanks. For tables whose rows are all known before printing (posture,
 * quarantines); a streamed table (parse, watch) uses fixed widths instead.
 */
export function alignColumns(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}
