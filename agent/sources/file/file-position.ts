/**
 * Where a file tailer stands: the file is named by its inode (a path only says where it was last seen, since
 * rotation renames it) and `offset` is the byte offset of the next unread line, always at a line start.
 * The inode is kept as a decimal string: inode numbers are 64 bit and XFS/btrfs use the high bits, past
 * what a JS number holds exactly.
 */
export interface FilePosition {
  path: string;
  inode: string;
  offset: number;
}

export function isFilePosition(value: unknown): value is FilePosition {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.path === 'string' &&
    v.path.length > 0 &&
    typeof v.inode === 'string' &&
    isDecimal(v.inode) &&
    typeof v.offset === 'number' &&
    Number.isSafeInteger(v.offset) &&
    v.offset >= 0
  );
}

function isDecimal(s: string): boolean {
  if (s.length === 0 || s.length > 20) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}
