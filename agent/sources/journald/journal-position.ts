/**
 * Where a journal reader stands: a journald cursor (`__CURSOR` of an entry). `inclusive` says whether
 * the entry the cursor names is still to be read (`journalctl --cursor`) or was handled
 * (`--after-cursor`): a batch's `from` names its own first entry, its `to` the last entry it holds.
 */
export interface JournalPosition {
  cursor: string;
  inclusive: boolean;
}

export function isJournalPosition(value: unknown): value is JournalPosition {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.cursor === 'string' && v.cursor.length > 0 && typeof v.inclusive === 'boolean';
}
