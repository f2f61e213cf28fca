import { SYSCALL_ARCHES, SYSCALL_TABLES, type SyscallArch } from './tables.generated.js';

export { SYSCALL_ARCHES, type SyscallArch } from './tables.generated.js';

/** x32 syscall numbers carry this bit (kernel __X32_SYSCALL_BIT); audit records show it. */
export const X32_SYSCALL_BIT = 0x4000_0000;

const DENSE_LIMIT = 4096;

/** Offset subtracted before indexing the dense array, so x32 gets a dense table too. */
const DENSE_BASE: Partial<Record<SyscallArch, number>> = { x32: X32_SYSCALL_BIT };

interface ArchLookup {
  readonly base: number;
  readonly dense: readonly (string | undefined)[];
  readonly sparse: ReadonlyMap<number, string>;
}

function buildLookup(arch: SyscallArch): ArchLookup {
  const base = DENSE_BASE[arch] ?? 0;
  const pairs = SYSCALL_TABLES[arch];
  let size = 0;
  for (const [nr] of pairs) {
    const i = nr - base;
    if (i >= 0 && i < DENSE_LIMIT && i >= size) size = i + 1;
  }
  // Array.from yields a packed (hole-free) array, which V8 indexes fastest.
  const dense = Array.from<string | undefined>({ length: size });
  const sparse = new Map<number, string>();
  for (const [nr, name] of pairs) {
    const i = nr - base;
    if (i >= 0 && i < DENSE_LIMIT) dense[i] = name;
    else sparse.set(nr, name);
  }
  return { base, dense, sparse };
}

// Object.fromEntries loses the key type; every SyscallArch is in SYSCALL_ARCHES, so the record is complete.
const LOOKUP = Object.fromEntries(SYSCALL_ARCHES.map((arch) => [arch, buildLookup(arch)])) as Readonly<
  Record<SyscallArch, ArchLookup>
>;

/**
 * Syscall name for a number as it appears in an audit record's syscall= field
 * (x32 numbers include X32_SYSCALL_BIT). Undefined for unknown, negative or non-integer numbers.
 */
// Hot path (called once per denial): tables are built once at load, so a lookup is O(1) and allocation-free.
export function syscallName(arch: SyscallArch, nr: number): string | undefined {
  if (!Number.isInteger(nr) || nr < 0) return undefined;
  const t = LOOKUP[arch];
  const i = nr - t.base;
  if (i >= 0 && i < t.dense.length) return t.dense[i];
  return t.sparse.get(nr);
}
