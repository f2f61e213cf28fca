import { parseArgs } from 'node:util';
import type { ConfigOverrides } from '../config/config-loader.js';
import { UsageError } from '../errors.js';
import { natsServers } from '../sinks/nats/nats-connection.js';
import { NODE_FLAG_OPTIONS, nodeFlagOverrides } from './node-flags.js';

export const DOCTOR_USAGE = `Usage: kernwatch doctor [--json] [--config FILE] [--node NAME] [--proc-root DIR] [--sys-root DIR] [--cri-socket PATH]
                        [--kubeconfig FILE] [--nats URL]

Can this node report? Checks, each pass, warn or fail with the facts found and a fix:
  auditd                  whether auditd runs and where it logs (without it: /dev/kmsg, rate-limited)
  audit-status            auditctl -s: enabled, daemon pid, backlog_limit, rate_limit, lost records
  seccomp-actions-logged  kernel.seccomp.actions_logged has kill_process, kill_thread and log
  printk-ratelimit        the kernel log's rate limit, which drops audit records when auditd does not run
  lsm                     AppArmor / SELinux active and enforcing (without either no MAC denial can happen)
  cgroup                  cgroup v1, hybrid or v2
  runc                    runc 1.2 or later logs profiles with SECCOMP_FILTER_FLAG_LOG
  cri                     the CRI socket answers Version
  nats                    NATS JetStream reachable with the sink's settings, and its stream
  api                     the API server reachable, and the verbs the config needs allowed
                          (SelfSubjectAccessReview)

  --json            one JSON object: {"node", "checks": [{"id", "status", "detail", "fix"}]}
  --config FILE     the agent's config: sources, CRI socket, nats sink, kubeconfig, responses rules
  --nats URL        check this NATS (nats://HOST:PORT or tls://HOST:PORT) instead of the config's nats sink
  --node NAME, --proc-root DIR, --cri-socket PATH, --kubeconfig FILE    as for kernwatch run
  --sys-root DIR   the host's /sys (default /sys; /host/sys in the DaemonSet)

Exit 0 when nothing failed (warnings do not fail), 1 when a check failed, 2 for usage or config errors.`;

export interface DoctorArgs {
  json: boolean;
  configPath?: string;
  overrides: ConfigOverrides;
  /** --nats: replaces the url of the config's nats sink, or names one. */
  natsUrl?: string;
}

export function parseDoctorArgs(argv: string[]): DoctorArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: NODE_FLAG_OPTIONS,
      allowPositionals: false,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err), { cause: err });
  }
  const v = parsed.values;
  if (v.help === true) throw new UsageError(DOCTOR_USAGE);
  const overrides = nodeFlagOverrides(v, nonEmpty);
  const out: DoctorArgs = { json: v.json === true, overrides };
  if (v.config !== undefined) out.configPath = nonEmpty('--config', v.config);
  if (v.nats !== undefined) {
    try {
      natsServers(v.nats);
    } catch (err) {
      throw new UsageError(`--nats: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    out.natsUrl = v.nats;
  }
  return out;
}

function nonEmpty(flag: string, value: string): string {
  if (value.trim() === '') throw new UsageError(`${flag} needs a value.`);
  return value;
}
