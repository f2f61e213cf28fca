import { parseArgs } from 'node:util';
import type { ConfigOverrides } from '../config/config-loader.js';
import { sinkFromSpec } from '../config/config-loader.js';
import { UsageError } from '../errors.js';
import { NODE_FLAG_OPTIONS, nodeFlagOverrides } from './node-flags.js';

export const POSTURE_USAGE = `Usage: kernwatch posture [--json] [--config FILE] [--node NAME] [--cri-socket PATH]
                         [--proc-root DIR] [--sys-root DIR] [--kubeconfig FILE] [--nats URL]
       kernwatch posture --manifest FILE [--json]

The confinement of every running container on this node against the container security policy: what the
kernel enforces (seccomp, no_new_privs, capabilities, AppArmor/SELinux label, read-only root, uid, from
/proc) and what the pod spec asks (from the API server: seccomp profile and whether it can log, privilege
escalation, read-only root, non-root, capabilities, NetworkPolicy coverage). Each check is pass, fail or
unknown (never pass when it cannot be known), with the policy section and a fix.
  --json   the report as JSON ({"node", "containers": [{"id", "name", "pid", "pod", "checks": [...]}]})
  --nats   also publish one posture event per container on kernwatch.v1.posture.<node>
  --sys-root  the host's /sys (default /sys; /host/sys in the DaemonSet), for the active LSMs
  --manifest  check the pod specs of a YAML manifest instead (before deploying it): every container of
           every workload against what its spec asks, with the NetworkPolicies of the same manifest;
           no node, runtime or API server is read
Exit 1 when any check fails or is unknown (unknown is not compliance), 0 when all pass.`;

export interface PostureArgs {
  json: boolean;
  /** --manifest: spec checks of a YAML file instead of the node's containers. */
  manifestPath?: string;
  configPath?: string;
  overrides: ConfigOverrides;
}

export function parsePostureArgs(argv: string[]): PostureArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...NODE_FLAG_OPTIONS, manifest: { type: 'string' } },
      allowPositionals: false,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err), { cause: err });
  }
  const v = parsed.values;
  if (v.help === true) throw new UsageError(POSTURE_USAGE);
  const overrides = nodeFlagOverrides(v);
  if (v.nats !== undefined) overrides.sinks = [sinkFromSpec(v.nats)];
  const out: PostureArgs = { json: v.json === true, overrides };
  if (v.manifest !== undefined) {
    if (v.manifest === '') throw new UsageError('--manifest needs a file');
    if (v.nats !== undefined)
      throw new UsageError('--manifest checks a file: there is nothing to publish (--nats)');
    out.manifestPath = v.manifest;
  }
  if (v.config !== undefined) out.configPath = v.config;
  return out;
}
