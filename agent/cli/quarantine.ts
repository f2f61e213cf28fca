import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { loadKubeConfig } from '../attribute/pods/kube-config.js';
import { loadConfig } from '../config/config-loader.js';
import { UsageError } from '../errors.js';
import { parseQuarantineComment } from '../responders/actions/response-action.js';
import { KubeResponderApi } from '../responders/kube-responder-api.js';
import { NetpolQuarantines, type NetpolQuarantine } from '../responders/netpol-quarantines.js';
import { NftCommand } from '../responders/nft/nft-command.js';
import { NftQuarantine, type QuarantineEntry } from '../responders/nft/quarantine-table.js';
import { createLogger } from '../telemetry/logger.js';
import { alignColumns } from '../text-columns.js';

export const QUARANTINE_USAGE = `Usage: kernwatch quarantine list [--json] [--kubeconfig FILE] [--config FILE]
       kernwatch quarantine release POD|IP [--kubeconfig FILE] [--config FILE]

The quarantines kernwatch's responses put in place on this node: addresses in its nftables table
(inet kernwatch, in this network namespace) and, with an API server, its NetworkPolicies.
  list      every quarantine with its pod and the time left
  release   end the quarantines of a pod (NAMESPACE/NAME or its uid) or of one address; exit 1 if none`;

export interface QuarantineArgs {
  command: 'list' | 'release';
  target?: string;
  json: boolean;
  kubeconfig?: string;
  configPath?: string;
}

export function parseQuarantineArgs(argv: string[]): QuarantineArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        json: { type: 'boolean' },
        kubeconfig: { type: 'string' },
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err), { cause: err });
  }
  const v = parsed.values;
  if (v.help === true) throw new UsageError(QUARANTINE_USAGE);
  const [command, target, ...extra] = parsed.positionals;
  if (command !== 'list' && command !== 'release') {
    throw new UsageError(`kernwatch quarantine: expected list or release, got ${command ?? 'nothing'}`);
  }
  if (command === 'release' && (target === undefined || target === '')) {
    throw new UsageError('kernwatch quarantine release: name the pod (NAMESPACE/NAME or uid) or the address');
  }
  if (extra.length > 0 || (command === 'list' && target !== undefined)) {
    throw new UsageError(`kernwatch quarantine ${command}: unexpected argument ${extra[0] ?? target ?? ''}`);
  }
  const out: QuarantineArgs = { command, json: v.json === true };
  if (target !== undefined) out.target = target;
  if (v.kubeconfig !== undefined) out.kubeconfig = v.kubeconfig;
  if (v.config !== undefined) out.configPath = v.config;
  return out;
}

interface Quarantines {
  nft: QuarantineEntry[];
  /** Undefined: no API server to ask. */
  networkPolicies: NetpolQuarantine[] | undefined;
}

/** Lists or releases; the exit code (1: release found nothing to release). */
export async function runQuarantine(
  args: QuarantineArgs,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const config = await loadConfig(args.configPath, {
    ...(args.kubeconfig === undefined ? {} : { kubeconfig: args.kubeconfig }),
  });
  const log = createLogger('warn');
  const table = new NftQuarantine({ nft: new NftCommand({}), log });
  const kubeconfigPath = config.kubernetes.kubeconfig;
  const kubeConfig = config.kubernetes.enabled
    ? loadKubeConfig(kubeconfigPath === undefined ? {} : { kubeconfigPath })
    : undefined;
  const netpols =
    kubeConfig === undefined ? undefined : new NetpolQuarantines(new KubeResponderApi(kubeConfig));
  // Each side on its own: an API server that is down must not keep anyone from releasing an nft quarantine.
  let apiProblem: string | undefined;
  let networkPolicies: NetpolQuarantine[] | undefined;
  try {
    networkPolicies = await netpols?.list();
  } catch (e) {
    apiProblem = e instanceof Error ? e.message : String(e);
  }
  const current: Quarantines = { nft: await table.list(), networkPolicies };
  if (apiProblem !== undefined)
    err.write(`kernwatch: NetworkPolicy quarantines unavailable: ${apiProblem}\n`);
  if (args.command === 'list') {
    out.write(args.json ? `${JSON.stringify(listJson(current))}\n` : listTable(current));
    return 0;
  }
  const target = args.target ?? '';
  let released = 0;
  for (const entry of current.nft.filter((e) => nftMatches(e, target))) {
    // One at a time, so that what is printed is what was removed (the kernel may expire one meanwhile).
    if ((await table.release([entry.address])) === 0) continue;
    released++;
    out.write(`released address ${entry.address}\n`);
  }
  for (const q of (current.networkPolicies ?? []).filter((p) => netpolMatches(p, target))) {
    await netpols?.release(q);
    released++;
    out.write(`released NetworkPolicy ${q.namespace}/${q.policy} of pod ${q.pod.name}\n`);
  }
  if (released === 0) {
    out.write(`no quarantine of ${target}\n`);
    return 1;
  }
  return 0;
}

function nftMatches(entry: QuarantineEntry, target: string): boolean {
  if (isIP(target) !== 0) return sameAddress(entry.address, target);
  const pod = parseQuarantineComment(entry.comment);
  return pod !== undefined && (pod.uid === target || `${pod.namespace}/${pod.name}` === target);
}

function netpolMatches(q: NetpolQuarantine, target: string): boolean {
  return q.pod.uid === target || `${q.namespace}/${q.pod.name}` === target;
}

function sameAddress(a: string, b: string): boolean {
  // IPv6 has several spellings of one address; nft lists the canonical one.
  return (
    a === b ||
    (isIP(a) === 6 && isIP(b) === 6 && new URL(`http://[${a}]`).host === new URL(`http://[${b}]`).host)
  );
}

function listJson(q: Quarantines): Record<string, unknown> {
  return {
    nft: q.nft.map((e) => {
      const pod = parseQuarantineComment(e.comment);
      return {
        address: e.address,
        family: e.family,
        expiresInSeconds: e.expiresInMs === null ? null : Math.round(e.expiresInMs / 1000),
        ...(pod === undefined ? {} : { pod }),
      };
    }),
    networkPolicies:
      q.networkPolicies?.map((p) => ({
        namespace: p.namespace,
        name: p.policy,
        pod: { namespace: p.namespace, ...p.pod },
        ...(p.rule === undefined ? {} : { rule: p.rule }),
        ...(p.node === undefined ? {} : { node: p.node }),
        ...(p.expiresAtMs === undefined ? {} : { expiresAt: new Date(p.expiresAtMs).toISOString() }),
      })) ?? null,
  };
}

function listTable(q: Quarantines): string {
  const rows: string[][] = [['KIND', 'TARGET', 'POD', 'EXPIRES IN']];
  for (const e of q.nft) {
    const pod = parseQuarantineComment(e.comment);
    rows.push([
      'nft',
      e.address,
      pod === undefined ? '-' : `${pod.namespace}/${pod.name}`,
      e.expiresInMs === null ? 'never' : `${String(Math.round(e.expiresInMs / 1000))}s`,
    ]);
  }
  for (const p of q.networkPolicies ?? []) {
    rows.push([
      'netpol',
      `${p.namespace}/${p.policy}`,
      `${p.namespace}/${p.pod.name}`,
      p.expiresAtMs === undefined
        ? 'never'
        : `${String(Math.max(0, Math.round((p.expiresAtMs - Date.now()) / 1000)))}s`,
    ]);
  }
  let text = `${alignColumns(rows).join('\n')}\n`;
  if (q.networkPolicies === undefined) text += '(no API server: NetworkPolicy quarantines not listed)\n';
  return text;
}
