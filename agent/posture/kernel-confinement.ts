import { join } from 'node:path';
import { ProcFileReader } from '../attribute/proc/proc-file-reader.js';
import { ERROR_CODES, KernwatchError } from '../errors.js';
import { decodeCapabilities } from './capabilities.js';
import type { NodeLsm } from './lsm.js';
import { MAC_READ_STATUS, readMacLabel } from './mac-label.js';
import { isRootReadOnly } from './mountinfo.js';
import type { KernelConfinement } from './posture-types.js';
import { missingStatusFields, parseProcStatus } from './proc-status.js';

/**
 * What the kernel enforces on one process, read from <procRoot>/PID/{status,attr,mountinfo}.
 *
 * A container's main process can exit at any moment between the runtime naming its pid and these
 * reads: that is a normal answer (`gone`), not a failure. A zombie counts as gone too: it still has a
 * status file (credentials of the dead process) but nothing it could do any more, and its mountinfo and
 * attr/current answer EINVAL (kernel 6.18).
 * Anything else that keeps a file from being read (EACCES without CAP_SYS_PTRACE, a status file without
 * the fields) is a ConfinementReadError carrying the errno error as cause.
 */

export const CONFINEMENT_STATUS = { ok: 'ok', gone: 'gone' } as const;

export type KernelConfinementRead =
  | { status: typeof CONFINEMENT_STATUS.ok; pid: number; confinement: KernelConfinement }
  | { status: typeof CONFINEMENT_STATUS.gone; pid: number };

export class ConfinementReadError extends KernwatchError {
  readonly pid: number;
  readonly path: string;

  constructor(pid: number, path: string, detail: string, options?: { cause?: unknown }) {
    super(
      ERROR_CODES.inputUnreadable,
      `Cannot read the confinement of pid ${pid} from ${path}: ${detail}`,
      options,
    );
    this.pid = pid;
    this.path = path;
  }
}

/** ProcFileReader's bound: a mountinfo that long may have been cut before a mount stacked on `/`. */
const MOUNTINFO_MAX = 1 << 20;

export function readKernelConfinement(
  procRoot: string,
  pid: number,
  lsm: NodeLsm,
  reader: ProcFileReader = new ProcFileReader(),
): KernelConfinementRead {
  const dir = join(procRoot, String(pid));
  if (!Number.isInteger(pid) || pid <= 0) throw new ConfinementReadError(pid, dir, 'not a process id');
  const gone: KernelConfinementRead = { status: CONFINEMENT_STATUS.gone, pid };

  const statusPath = join(dir, 'status');
  const statusText = read(reader, statusPath);
  if (statusText instanceof Error) {
    throw new ConfinementReadError(pid, statusPath, statusText.message, { cause: statusText });
  }
  if (statusText === undefined) return gone;
  const status = parseProcStatus(statusText);
  if (status.state === 'Z' || status.state === 'X') return gone;
  const { seccompMode, noNewPrivs, capEff, capPrm, capBnd, capAmb, uid, gid } = status;
  if (
    seccompMode === undefined ||
    noNewPrivs === undefined ||
    capEff === undefined ||
    capPrm === undefined ||
    capBnd === undefined ||
    capAmb === undefined ||
    uid === undefined ||
    gid === undefined
  ) {
    const missing = missingStatusFields(status).join(', ');
    throw new ConfinementReadError(pid, statusPath, `no well-formed ${missing} line`);
  }

  const mac = readMacLabel(procRoot, pid, lsm);
  if (mac.status === MAC_READ_STATUS.gone) return gone;
  if (mac.status === MAC_READ_STATUS.error) {
    if (hasExited(reader, statusPath)) return gone;
    throw new ConfinementReadError(pid, mac.path, mac.error.message, { cause: mac.error });
  }

  const confinement: KernelConfinement = {
    seccompMode,
    noNewPrivs,
    effectiveCapabilities: decodeCapabilities(capEff),
    permittedCapabilities: decodeCapabilities(capPrm),
    boundingCapabilities: decodeCapabilities(capBnd),
    ambientCapabilities: decodeCapabilities(capAmb),
    uid,
    gid,
    mac: mac.label,
  };
  if (status.seccompFilters !== undefined) confinement.seccompFilters = status.seccompFilters;

  const mountinfo = read(reader, join(dir, 'mountinfo'));
  if (mountinfo === undefined) return gone;
  if (typeof mountinfo !== 'string') {
    // A process that died after its status was read answers EINVAL here (and in attr/current, which
    // without a known LSM list read as "no MAC LSM"): only a live process's answers stand.
    if (hasExited(reader, statusPath)) return gone;
  } else if (mountinfo.length < MOUNTINFO_MAX) {
    const readOnly = isRootReadOnly(mountinfo);
    if (readOnly !== undefined) confinement.rootReadOnly = readOnly;
  }
  // Otherwise unreadable or cut short: rootReadOnly stays undefined ("could not be read").
  return { status: CONFINEMENT_STATUS.ok, pid, confinement };
}

/** The process is gone or a zombie now: its other files answer EINVAL, not what it was confined by. */
function hasExited(reader: ProcFileReader, statusPath: string): boolean {
  const text = read(reader, statusPath);
  if (text === undefined) return true;
  if (typeof text !== 'string') return false;
  const state = parseProcStatus(text).state;
  return state === 'Z' || state === 'X';
}

/** The text; undefined when the process (its /proc entry) is gone; the errno error otherwise. */
function read(reader: ProcFileReader, path: string): string | undefined | NodeJS.ErrnoException {
  const before = reader.unexpectedErrors;
  const text = reader.read(path);
  if (text !== undefined) return text;
  if (reader.unexpectedErrors === before) return undefined;
  return reader.lastError ?? new Error(`cannot read ${path}`);
}
