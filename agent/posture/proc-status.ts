/**
 * The confinement fields of /proc/PID/status (fs/proc/array.c), parsed from its text. Pure.
 *
 * Each line is `Key:\tvalue`. A field that is absent or not in the kernel's format stays undefined
 * rather than turning into a default: a missing `Seccomp:` must read "unknown", never "disabled".
 * Fields read:
 *   State:            the state letter (`Z` zombie: the process has exited, only its entry is left)
 *   Uid:, Gid:        real, effective, saved, filesystem ids (all four: a saved 0 is root within reach)
 *   CapEff:, CapPrm:, CapBnd:, CapAmb:   16 hex digits each: effective, permitted, bounding, ambient sets
 *   NoNewPrivs:       0/1 (kernel >= 4.10)
 *   Seccomp:          0 disabled, 1 strict, 2 filter (absent without CONFIG_SECCOMP)
 *   Seccomp_filters:  number of attached filters (kernel >= 5.9)
 */

export type SeccompMode = 0 | 1 | 2;

/** `Uid:`/`Gid:` of /proc/PID/status: real, effective, saved and filesystem ids. */
export interface IdPair {
  real: number;
  effective: number;
  saved: number;
  fs: number;
}

export interface ProcStatus {
  state?: string;
  seccompMode?: SeccompMode;
  seccompFilters?: number;
  noNewPrivs?: boolean;
  capEff?: bigint;
  capPrm?: bigint;
  capBnd?: bigint;
  capAmb?: bigint;
  uid?: IdPair;
  gid?: IdPair;
}

/** Names of the status lines a KernelConfinement cannot do without. */
export const REQUIRED_STATUS_FIELDS = [
  'Seccomp',
  'NoNewPrivs',
  'CapEff',
  'CapPrm',
  'CapBnd',
  'CapAmb',
  'Uid',
  'Gid',
] as const;
export type RequiredStatusField = (typeof REQUIRED_STATUS_FIELDS)[number];

/** The status file is a few KiB; anything far longer is not one and is not scanned to its end. */
const MAX_SCAN = 64 * 1024;

export function parseProcStatus(text: string): ProcStatus {
  const out: ProcStatus = {};
  const end = Math.min(text.length, MAX_SCAN);
  let start = 0;
  while (start < end) {
    let nl = text.indexOf('\n', start);
    if (nl < 0 || nl > end) nl = end;
    const colon = text.indexOf(':', start);
    if (colon > start && colon < nl) {
      const key = text.slice(start, colon);
      const value = text.slice(colon + 1, nl).trim();
      applyField(out, key, value);
    }
    start = nl + 1;
  }
  return out;
}

/** The required fields `status` lacks, in REQUIRED_STATUS_FIELDS order (empty: all there). */
export function missingStatusFields(status: ProcStatus): RequiredStatusField[] {
  const missing: RequiredStatusField[] = [];
  if (status.seccompMode === undefined) missing.push('Seccomp');
  if (status.noNewPrivs === undefined) missing.push('NoNewPrivs');
  if (status.capEff === undefined) missing.push('CapEff');
  if (status.capPrm === undefined) missing.push('CapPrm');
  if (status.capBnd === undefined) missing.push('CapBnd');
  if (status.capAmb === undefined) missing.push('CapAmb');
  if (status.uid === undefined) missing.push('Uid');
  if (status.gid === undefined) missing.push('Gid');
  return missing;
}

function applyField(out: ProcStatus, key: string, value: string): void {
  switch (key) {
    case 'State': {
      // `S (sleeping)`: the letter is what the kernel means, the word is decoration.
      const letter = value.charAt(0);
      if (/^[A-Za-z]$/.test(letter)) out.state = letter;
      return;
    }
    case 'Uid': {
      const ids = idPair(value);
      if (ids !== undefined) out.uid = ids;
      return;
    }
    case 'Gid': {
      const ids = idPair(value);
      if (ids !== undefined) out.gid = ids;
      return;
    }
    case 'CapEff':
    case 'CapPrm':
    case 'CapBnd':
    case 'CapAmb': {
      // Always 16 hex digits (render_cap_t prints the two 32-bit words of kernel_cap_t).
      if (!/^[0-9a-f]{16}$/i.test(value)) return;
      const set = BigInt(`0x${value}`);
      if (key === 'CapEff') out.capEff = set;
      else if (key === 'CapPrm') out.capPrm = set;
      else if (key === 'CapBnd') out.capBnd = set;
      else out.capAmb = set;
      return;
    }
    case 'NoNewPrivs':
      if (value === '0' || value === '1') out.noNewPrivs = value === '1';
      return;
    case 'Seccomp':
      if (value === '0') out.seccompMode = 0;
      else if (value === '1') out.seccompMode = 1;
      else if (value === '2') out.seccompMode = 2;
      return;
    case 'Seccomp_filters': {
      const n = decimal(value);
      if (n !== undefined) out.seccompFilters = n;
      return;
    }
    default:
      return;
  }
}

/** `real\teffective\tsaved\tfs`: all four must be there, or the line is not the kernel's. */
function idPair(value: string): IdPair | undefined {
  const fields = value.split(/\s+/);
  if (fields.length !== 4) return undefined;
  const ids = fields.map(decimal);
  const [real, effective, saved, fs] = ids;
  if (real === undefined || effective === undefined || saved === undefined || fs === undefined)
    return undefined;
  return { real, effective, saved, fs };
}

/** A u32 as the kernel prints it: decimal digits only. */
function decimal(value: string): number | undefined {
  if (!/^\d{1,10}$/.test(value)) return undefined;
  const n = Number(value);
  return n <= 0xffffffff ? n : undefined;
}
