import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Compressed generations hold a new inode and cannot be read as text, so they are never candidates. */
const COMPRESSED_SUFFIXES = ['.gz', '.xz', '.bz2', '.zst', '.lz4', '.Z'] as const;

/** More candidates than any rotation scheme keeps; a directory full of look-alikes stays a bounded scan. */
const MAX_CANDIDATES = 64;

export interface RotatedFileMatch {
  /** Where the wanted inode lives now, e.g. `audit.log.2`. */
  path: string;
  /** Rotated files written after it, oldest first (`audit.log.1`), with the inode each had when listed. */
  newer: { path: string; inode: string }[];
}

/**
 * Looks for the file with `inode` among the rotated siblings of `path`: `path.1`..`path.N` as auditd and
 * logrotate name them, and dated names (`path-20240101`, logrotate's dateext). Siblings are ordered newest
 * first, so the files written after the match can be read after it: numbered ones by their number (mtimes
 * of files rotated within one clock tick are equal), others by modification time, which no rotation
 * scheme changes once a file is rotated.
 */
export async function findRotatedFile(path: string, inode: string): Promise<RotatedFileMatch | undefined> {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  const siblings: { path: string; inode: string; mtimeNs: bigint; generation: number }[] = [];
  for (const name of names) {
    if (siblings.length >= MAX_CANDIDATES) break;
    if (!isRotatedName(base, name)) continue;
    const p = join(dir, name);
    try {
      const st = await stat(p, { bigint: true });
      if (!st.isFile()) continue;
      siblings.push({
        path: p,
        inode: String(st.ino),
        mtimeNs: st.mtimeNs,
        generation: generationOf(base, name),
      });
    } catch {
      // Rotated away or deleted between readdir and stat: it is not the file we look for any more.
    }
  }
  siblings.sort((a, b) => {
    if (a.generation !== b.generation) return a.generation - b.generation;
    return a.mtimeNs === b.mtimeNs ? 0 : a.mtimeNs > b.mtimeNs ? -1 : 1;
  });
  const at = siblings.findIndex((s) => s.inode === inode);
  const match = siblings[at];
  if (match === undefined) return undefined;
  return {
    path: match.path,
    newer: siblings
      .slice(0, at)
      .reverse()
      .map((s) => ({ path: s.path, inode: s.inode })),
  };
}

function isRotatedName(base: string, name: string): boolean {
  if (name.length <= base.length + 1 || !name.startsWith(base)) return false;
  const sep = name.charCodeAt(base.length);
  if (sep !== 46 /* . */ && sep !== 45 /* - */) return false;
  for (const suffix of COMPRESSED_SUFFIXES) if (name.endsWith(suffix)) return false;
  // Our own temp files and editors' backups are not generations.
  return !name.endsWith('.tmp') && !name.endsWith('~');
}

/**
 * `audit.log.3` → 3. Dated names (`audit.log-20240101`, or `.20240101` with a custom dateformat) have no
 * generation: they sort after every numbered one, among themselves by mtime. Rotation counts never need
 * more than four digits, dates always have more.
 */
function generationOf(base: string, name: string): number {
  if (name.charCodeAt(base.length) !== 46) return Number.MAX_SAFE_INTEGER;
  const rest = name.slice(base.length + 1);
  if (rest.length === 0 || rest.length > 4) return Number.MAX_SAFE_INTEGER;
  let n = 0;
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charCodeAt(i);
    if (c < 48 || c > 57) return Number.MAX_SAFE_INTEGER;
    n = n * 10 + (c - 48);
  }
  return n;
}
