import { existsSync } from 'node:fs';
import { CriClient } from '../attribute/cri/cri-client.js';
import { findCriSocket, WELL_KNOWN_CRI_SOCKETS } from '../attribute/cri/cri-sockets.js';
import { CHECK_ID, fail, oneLine, pass, warn, type CheckResult } from './doctor-types.js';
import type { RunCommand } from './run-command.js';

/**
 * The container runtime: runc's version decides which seccomp profiles can log (SECCOMP_FILTER_FLAG_LOG
 * needs the profile's `flags`, which runc accepts from 1.2 on; 1.1 refuses them), and the CRI socket is
 * where attribution gets container names, images and sandboxes.
 */

export interface RuncVersion {
  major: number;
  minor: number;
  patch: number;
  /** The version as printed, e.g. 1.1.5+ds1. */
  text: string;
  commit?: string;
  libseccomp?: string;
}

/**
 * `runc --version`, as runc 1.1.5 on Debian 12 prints it:
 *
 *   runc version 1.1.5+ds1
 *   commit: 1.1.5+ds1-1+deb12u1
 *   spec: 1.0.2-dev
 *   go: go1.19.8
 *   libseccomp: 2.5.4
 */
export function parseRuncVersion(text: string): RuncVersion | undefined {
  let version: RuncVersion | undefined;
  let commit: string | undefined;
  let libseccomp: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const m = /^runc version v?(\d{1,4})\.(\d{1,4})(?:\.(\d{1,4}))?(\S*)$/.exec(line);
    if (m !== null) {
      version = {
        major: Number(m[1]),
        minor: Number(m[2]),
        patch: Number(m[3] ?? '0'),
        text: line.slice('runc version '.length),
      };
    } else if (line.startsWith('commit:')) {
      commit = line.slice('commit:'.length).trim();
    } else if (line.startsWith('libseccomp:')) {
      libseccomp = line.slice('libseccomp:'.length).trim();
    }
  }
  if (version === undefined) return undefined;
  if (commit !== undefined && commit !== '') version.commit = commit;
  if (libseccomp !== undefined && libseccomp !== '') version.libseccomp = libseccomp;
  return version;
}

/** The first runc that accepts a seccomp profile's `flags` (SECCOMP_FILTER_FLAG_LOG). */
const RUNC_FLAGS_VERSION = { major: 1, minor: 2 } as const;

const RUNC_TIMEOUT_MS = 3000;

export async function runcCheck(run: RunCommand, timeoutMs = RUNC_TIMEOUT_MS): Promise<CheckResult> {
  const id = CHECK_ID.runc;
  const onHost =
    "run `runc --version` on the host (kernwatch's image has no runc): 1.2 or later is needed for profiles with SECCOMP_FILTER_FLAG_LOG";
  const result = await run('runc', ['--version'], timeoutMs);
  if (result.kind === 'missing') return warn(id, `unknown: runc is ${result.reason}`, onHost);
  if (result.kind === 'timeout')
    return warn(id, `unknown: runc --version gave no answer within ${result.ms} ms`, onHost);
  if (result.kind === 'error') return warn(id, `unknown: runc --version failed: ${result.message}`, onHost);
  const version = result.code === 0 ? parseRuncVersion(result.stdout) : undefined;
  if (version === undefined) {
    const said = (result.stderr.trim() || result.stdout.trim()).split('\n')[0] ?? '';
    return warn(id, `unknown: runc --version exited ${result.code}: ${said || '(nothing)'}`, onHost);
  }
  const extra = version.libseccomp === undefined ? '' : ` (libseccomp ${version.libseccomp})`;
  const recent =
    version.major > RUNC_FLAGS_VERSION.major ||
    (version.major === RUNC_FLAGS_VERSION.major && version.minor >= RUNC_FLAGS_VERSION.minor);
  if (recent) {
    return pass(
      id,
      `runc ${version.text}${extra}: seccomp profiles may set flags [SECCOMP_FILTER_FLAG_LOG], so their ERRNO denials are logged too`,
    );
  }
  return warn(
    id,
    `runc ${version.text}${extra} refuses seccomp profile flags: only SCMP_ACT_LOG / SCMP_ACT_KILL_* profiles are logged (ERRNO denials, like RuntimeDefault's, are silent)`,
    'upgrade runc to 1.2 or later (or use crun) so that profiles with SECCOMP_FILTER_FLAG_LOG log their ERRNO denials; until then give containers Localhost profiles with SCMP_ACT_LOG',
  );
}

export interface CriCheckOptions {
  /** cri.socket from the config or --cri-socket; absent: the first well-known socket that exists. */
  socket?: string | undefined;
  timeoutMs: number;
  /** For tests: the sockets to look for. */
  candidates?: readonly string[];
}

export async function criCheck(o: CriCheckOptions): Promise<CheckResult> {
  const id = CHECK_ID.cri;
  const candidates = o.candidates ?? WELL_KNOWN_CRI_SOCKETS;
  const socket = o.socket ?? findCriSocket(candidates);
  if (socket === undefined) {
    return warn(
      id,
      `no CRI socket found (looked for ${candidates.join(', ')}): container names and images are unknown, pods come from cgroups and the API only`,
      "mount the runtime's socket into the pod (e.g. /run/containerd/containerd.sock) or give cri.socket / --cri-socket",
    );
  }
  if (o.socket !== undefined && !existsSync(socket)) {
    return fail(
      id,
      `the configured CRI socket ${socket} does not exist`,
      "fix cri.socket / --cri-socket, or mount the runtime's socket into the pod",
    );
  }
  const client = new CriClient({ socketPath: socket, callTimeoutMs: o.timeoutMs });
  try {
    const v = await client.version();
    const api = v.runtimeApiVersion === '' ? '' : `, CRI ${v.runtimeApiVersion}`;
    return pass(id, `${v.runtimeName || 'runtime'} ${v.runtimeVersion}${api} at ${socket}`);
  } catch (err) {
    return fail(
      id,
      `${socket} does not answer: ${oneLine(err)}`,
      'check that the runtime runs (systemctl status containerd) and that kernwatch may open its socket (root, the socket mounted)',
    );
  } finally {
    client.close();
  }
}
