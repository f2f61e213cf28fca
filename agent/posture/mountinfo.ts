/**
 * /proc/PID/mountinfo (proc(5), show_mountinfo in fs/proc_namespace.c), parsed from its text. Pure.
 *
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   (1)(2) (3)   (4)   (5)     (6)      (7)   (8) (9)     (10)        (11)
 *
 * mount id, parent id, major:minor, root within the filesystem, mount point (relative to the reading
 * process's root), per-mount options, zero or more optional fields ended by a lone `-`, filesystem
 * type, source, superblock options. The kernel writes space, tab, newline and backslash in paths, type
 * and source as `\ooo` octal escapes (`\040`), so fields never contain a space and a line splits on it.
 * Mount points outside the process's root are not listed at all.
 */

export interface MountInfoEntry {
  mountId: number;
  parentId: number;
  /** The directory of the filesystem mounted here (`/` unless a bind mount of a subtree). */
  root: string;
  /** Unescaped, relative to the process's root. */
  mountPoint: string;
  /** Per-mount options (`ro`/`rw`, nosuid…): what a bind remount changes. */
  mountOptions: string[];
  fsType: string;
  source: string;
  /** Options of the filesystem instance, shared by every mount of it. */
  superOptions: string[];
}

/** Every well-formed line, in the kernel's order; a line not in the format is skipped. */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const entries: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    const entry = parseLine(line);
    if (entry !== undefined) entries.push(entry);
  }
  return entries;
}

/** `\040` → space and the other octal escapes the kernel writes; anything else is kept as is. */
export function unescapeMountField(field: string): string {
  if (!field.includes('\\')) return field;
  return field.replace(/\\([0-3][0-7]{2})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * The mount that is the process's root directory: the one at `/` that is not itself stacked on
 * another mount at `/`.
 *
 * More mounts can sit at `/`: something mounted on top of the root after the process (or its parent)
 * had it as root is listed after it, with the root's mount id as parent. It does not become the root
 * of processes that already have one (their path walks start at the root they hold, below the stack)
 * until they chroot into it, so the last-listed `/` mount is NOT the one that decides. Checked on
 * kernel 6.18: a read-only bind stacked on a writable root leaves the root writable, and a writable
 * bind stacked on a read-only root leaves it read-only (test/fixtures/proc/README.md).
 */
export function rootMount(entries: readonly MountInfoEntry[]): MountInfoEntry | undefined {
  const atRoot = entries.filter((e) => e.mountPoint === '/');
  const ids = new Set(atRoot.map((e) => e.mountId));
  return atRoot.find((e) => e.parentId === e.mountId || !ids.has(e.parentId)) ?? atRoot[0];
}

/** Mounts stacked on top of the process's root (listed at `/` above it): worth a look, never effective. */
export function mountsStackedOnRoot(entries: readonly MountInfoEntry[]): MountInfoEntry[] {
  const root = rootMount(entries);
  return entries.filter((e) => e.mountPoint === '/' && e !== root);
}

/**
 * Whether writes to the process's root are refused: its mount is `ro`, or the filesystem itself is
 * (a read-only superblock refuses writes through every mount of it, whatever the mount says).
 * undefined when no mount at `/` is listed.
 */
export function isRootReadOnly(text: string): boolean | undefined {
  const root = rootMount(parseMountInfo(text));
  if (root === undefined) return undefined;
  return root.mountOptions.includes('ro') || root.superOptions.includes('ro');
}

function parseLine(line: string): MountInfoEntry | undefined {
  const f = line.split(' ');
  const separator = f.indexOf('-', 6);
  if (separator < 0 || f.length < separator + 4) return undefined;
  const [mountId, parentId, devno, root, mountPoint, options] = f;
  if (mountId === undefined || parentId === undefined || root === undefined || mountPoint === undefined) {
    return undefined;
  }
  if (!/^\d+$/.test(mountId) || !/^\d+$/.test(parentId) || !/^\d+:\d+$/.test(devno ?? '')) return undefined;
  const fsType = f[separator + 1] ?? '';
  const source = f[separator + 2] ?? '';
  const superOptions = f[separator + 3] ?? '';
  if (options === undefined || fsType === '') return undefined;
  return {
    mountId: Number(mountId),
    parentId: Number(parentId),
    root: unescapeMountField(root),
    mountPoint: unescapeMountField(mountPoint),
    mountOptions: options.split(','),
    fsType: unescapeMountField(fsType),
    source: unescapeMountField(source),
    superOptions: superOptions.split(','),
  };
}
