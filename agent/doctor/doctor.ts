import type { AgentConfig, NatsSinkConfig, SinkConfig } from '../config/config-schema.js';
import { detectSource, type DetectedSource } from '../sources/auto-detect.js';
import type { NatsConnectSettings } from '../sinks/nats/nats-connection.js';
import { apiAccessCheck } from './api-access-check.js';
import { auditDaemonRegistered, auditdCheck, auditStatusCheck } from './audit-checks.js';
import { readAuditStatus, type AuditStatusReading } from './audit-status.js';
import {
  CHECK_ID,
  CHECK_STATUS,
  oneLine,
  type CheckId,
  type CheckResult,
  type CheckStatus,
} from './doctor-types.js';
import { cgroupCheck, lsmCheck, printkRatelimitCheck, seccompActionsLoggedCheck } from './kernel-checks.js';
import { natsCheck, type NatsTarget } from './nats-check.js';
import { runCommand, type RunCommand } from './run-command.js';
import { criCheck, runcCheck } from './runtime-checks.js';

/**
 * Runs every check of `kernwatch doctor` at once, each under its own deadline. A check that throws or
 * runs out of time becomes a result of its own (fail for the network checks, warn for the local ones);
 * nothing here throws because of one check.
 */

export interface DoctorOptions {
  config: AgentConfig;
  node: string;
  /** --nats URL: replaces the url of the config's nats sink, or names one when there is none. */
  natsUrl?: string;
  /** Default /sys; tests point it at a fixture tree. */
  sysRoot?: string;
  run?: RunCommand;
  env?: NodeJS.ProcessEnv;
  /** For tests: whether a service account token is mounted (the in-cluster config). */
  tokenMounted?: () => boolean;
  /** Per-check deadlines in ms; defaults in DEFAULT_TIMEOUTS_MS. */
  timeoutsMs?: Partial<Record<CheckId, number>>;
  /** For tests: the CRI sockets looked for when none is configured. */
  criSockets?: readonly string[];
  /** How long an audit log is watched for growth when no auditd process is visible (as `run` does). */
  auditLogGrowthWindowMs?: number;
}

export interface DoctorReport {
  node: string;
  checks: CheckResult[];
}

const DEFAULT_TIMEOUTS_MS: Readonly<Record<CheckId, number>> = {
  [CHECK_ID.auditd]: 5000,
  [CHECK_ID.auditStatus]: 5000,
  [CHECK_ID.seccompActionsLogged]: 2000,
  [CHECK_ID.printkRatelimit]: 5000,
  [CHECK_ID.lsm]: 2000,
  [CHECK_ID.cgroup]: 2000,
  [CHECK_ID.runc]: 5000,
  [CHECK_ID.cri]: 5000,
  [CHECK_ID.nats]: 5000,
  [CHECK_ID.api]: 6000,
};

/** Network checks: an unexpected failure means the thing is not usable. */
const FAIL_ON_ERROR: readonly CheckId[] = [CHECK_ID.cri, CHECK_ID.nats, CHECK_ID.api];

/** What the inner calls may take of a check's deadline, leaving room to report. */
const INNER_SHARE = 0.8;

export async function runDoctorChecks(o: DoctorOptions): Promise<DoctorReport> {
  const { config } = o;
  const run = o.run ?? runCommand;
  const timeout = (id: CheckId): number => o.timeoutsMs?.[id] ?? DEFAULT_TIMEOUTS_MS[id];
  const inner = (id: CheckId): number => Math.max(100, Math.floor(timeout(id) * INNER_SHARE));
  const procRoot = config.procRoot;
  const sysRoot = o.sysRoot ?? config.sysRoot;

  const reading: Promise<AuditStatusReading> = readAuditStatus(run, inner(CHECK_ID.auditStatus));
  const detected: Promise<DetectedSource> = detectSource({
    procRoot,
    growthWindowMs: o.auditLogGrowthWindowMs ?? 1000,
  });
  const registered = async (): Promise<boolean> => auditDaemonRegistered(await detected, await reading);
  // Both are awaited by checks under their own deadlines; a rejection is reported there, not here.
  reading.catch(() => undefined);
  detected.catch(() => undefined);

  const checks: [CheckId, () => Promise<CheckResult>][] = [
    [
      CHECK_ID.auditd,
      async () => auditdCheck({ detected: await detected, reading: await reading, sources: config.sources }),
    ],
    [CHECK_ID.auditStatus, async () => auditStatusCheck(await reading, await registered())],
    [CHECK_ID.seccompActionsLogged, () => seccompActionsLoggedCheck(procRoot)],
    [CHECK_ID.printkRatelimit, async () => printkRatelimitCheck(procRoot, await registered())],
    [CHECK_ID.lsm, () => lsmCheck(sysRoot)],
    [CHECK_ID.cgroup, () => cgroupCheck(sysRoot)],
    [CHECK_ID.runc, () => runcCheck(run, inner(CHECK_ID.runc))],
    [
      CHECK_ID.cri,
      () =>
        criCheck({
          socket: config.cri.socket,
          timeoutMs: inner(CHECK_ID.cri),
          ...(o.criSockets === undefined ? {} : { candidates: o.criSockets }),
        }),
    ],
    [
      CHECK_ID.nats,
      () =>
        natsCheck({
          target: natsTarget(config.sinks, o.natsUrl),
          otherSinks: config.sinks.filter((s) => s.type !== 'nats').map(describeSink),
          timeoutMs: inner(CHECK_ID.nats),
          ...(o.env === undefined ? {} : { env: o.env }),
        }),
    ],
    [
      CHECK_ID.api,
      () =>
        apiAccessCheck({
          config,
          timeoutMs: inner(CHECK_ID.api),
          ...(o.env === undefined ? {} : { env: o.env }),
          ...(o.tokenMounted === undefined ? {} : { tokenMounted: o.tokenMounted }),
        }),
    ],
  ];
  const results = await Promise.all(
    checks.map(([id, check]) =>
      guarded(id, timeout(id), FAIL_ON_ERROR.includes(id) ? CHECK_STATUS.fail : CHECK_STATUS.warn, check),
    ),
  );
  return { node: o.node, checks: results };
}

/** One check under its deadline; a throw or a timeout is its result, never the caller's exception. */
export async function guarded(
  id: CheckId,
  timeoutMs: number,
  onError: CheckStatus,
  check: () => Promise<CheckResult>,
): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => {
      resolve({
        id,
        status: onError,
        detail: `no result within ${timeoutMs} ms`,
        fix: 'run kernwatch doctor again; if it keeps timing out, that part of the node is stuck',
      });
    }, timeoutMs);
  });
  try {
    return await Promise.race([
      check().catch((err: unknown): CheckResult => ({
        id,
        status: onError,
        detail: `the check failed: ${oneLine(err)}`,
        fix: 'see the detail; run kernwatch doctor as root with the host /proc and /sys mounted',
      })),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The NATS to check: --nats over the config's first nats sink, with that sink's authentication and TLS. */
export function natsTarget(
  sinks: readonly SinkConfig[],
  flagUrl: string | undefined,
): NatsTarget | undefined {
  const sink = sinks.find((s): s is NatsSinkConfig => s.type === 'nats');
  if (sink === undefined && flagUrl === undefined) return undefined;
  const settings: NatsConnectSettings = { url: flagUrl ?? sink?.url ?? '' };
  if (sink !== undefined) {
    const { credsFile, nkeySeedFile, user, userFile, passwordFile, passwordEnv, tokenFile, tokenEnv, tls } =
      sink;
    Object.assign(settings, {
      credsFile,
      nkeySeedFile,
      user,
      userFile,
      passwordFile,
      passwordEnv,
      tokenFile,
      tokenEnv,
      tls,
    });
  }
  return {
    settings,
    stream: sink?.stream ?? 'KERNWATCH',
    duplicateWindowMs: sink?.duplicateWindow ?? 120_000,
    maxAgeMs: sink?.maxAge ?? 7 * 86_400_000,
  };
}

function describeSink(sink: SinkConfig): string {
  switch (sink.type) {
    case 'stdout':
      return 'stdout';
    case 'file':
      return `file:${sink.path}`;
    case 'falco-http':
      return `falco+${sink.url}`;
    case 'nats':
      return sink.url;
  }
}
