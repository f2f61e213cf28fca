import { parseArgs } from 'node:util';
import { sinkFromSpec, sourceFromSpec, type ConfigOverrides } from '../config/config-loader.js';
import { UsageError } from '../errors.js';

export const RUN_USAGE = `Usage: kernwatch run [--config FILE] [--node NAME] [--source SPEC]... [--sink SPEC]...
                     [--state-dir DIR] [--proc-root DIR] [--cri-socket PATH] [--kubeconfig FILE]
                     [--metrics-addr HOST:PORT] [--from-start] [--log-level LEVEL]

The agent: reads the kernel's denials live, attributes each to its process, container and pod, and
delivers one event per denial to every sink. With nothing given it picks the live source itself (auditd's
log if auditd runs, else /dev/kmsg) and prints events as NDJSON on stdout. Flags override the config file.

  source SPEC  auditd:PATH | kmsg | journald[:JOURNAL_DIR] | syslog:PATH    (repeatable)
  sink SPEC    stdout | file:PATH | nats://HOST:PORT | falco+http://HOST:PORT/    (repeatable)
  --from-start read files from their beginning when there is no checkpoint yet (default: the end)

Logs go to stderr. SIGTERM or SIGINT: stop reading, deliver what was read, save checkpoints, exit 0.`;

export interface RunArgs {
  configPath?: string;
  overrides: ConfigOverrides;
}

export function parseRunArgs(argv: string[]): RunArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        node: { type: 'string' },
        source: { type: 'string', multiple: true },
        sink: { type: 'string', multiple: true },
        'state-dir': { type: 'string' },
        'proc-root': { type: 'string' },
        'cri-socket': { type: 'string' },
        kubeconfig: { type: 'string' },
        'metrics-addr': { type: 'string' },
        'from-start': { type: 'boolean' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err), { cause: err });
  }
  const v = parsed.values;
  if (v.help === true) throw new UsageError(RUN_USAGE);
  const overrides: ConfigOverrides = {};
  if (v.node !== undefined) overrides.node = v.node;
  if (v['state-dir'] !== undefined) overrides.stateDir = v['state-dir'];
  if (v['proc-root'] !== undefined) overrides.procRoot = v['proc-root'];
  if (v['cri-socket'] !== undefined) overrides.criSocket = v['cri-socket'];
  if (v.kubeconfig !== undefined) overrides.kubeconfig = v.kubeconfig;
  if (v['metrics-addr'] !== undefined) overrides.metricsAddr = v['metrics-addr'];
  if (v['from-start'] !== undefined) overrides.fromStart = v['from-start'];
  if (v['log-level'] !== undefined) overrides.logLevel = v['log-level'];
  if (v.source !== undefined) overrides.sources = v.source.map(sourceFromSpec);
  if (v.sink !== undefined) overrides.sinks = v.sink.map(sinkFromSpec);
  const out: RunArgs = { overrides };
  if (v.config !== undefined) out.configPath = v.config;
  return out;
}
