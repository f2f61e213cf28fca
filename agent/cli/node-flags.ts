import type { ConfigOverrides } from '../config/config-loader.js';

/** The flags `posture` and `doctor` share with `run`: which node, and where its pieces are. */
export const NODE_FLAG_OPTIONS = {
  json: { type: 'boolean' },
  config: { type: 'string', short: 'c' },
  node: { type: 'string' },
  'cri-socket': { type: 'string' },
  'proc-root': { type: 'string' },
  'sys-root': { type: 'string' },
  kubeconfig: { type: 'string' },
  nats: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface NodeFlagValues {
  node?: string | undefined;
  'cri-socket'?: string | undefined;
  'proc-root'?: string | undefined;
  'sys-root'?: string | undefined;
  kubeconfig?: string | undefined;
}

/** The config overrides those flags give; `value` may check a flag's value (doctor refuses empty ones). */
export function nodeFlagOverrides(
  v: NodeFlagValues,
  value: (flag: string, given: string) => string = (_flag, given) => given,
): ConfigOverrides {
  const overrides: ConfigOverrides = {};
  if (v.node !== undefined) overrides.node = value('--node', v.node);
  if (v['proc-root'] !== undefined) overrides.procRoot = value('--proc-root', v['proc-root']);
  if (v['sys-root'] !== undefined) overrides.sysRoot = value('--sys-root', v['sys-root']);
  if (v['cri-socket'] !== undefined) overrides.criSocket = value('--cri-socket', v['cri-socket']);
  if (v.kubeconfig !== undefined) overrides.kubeconfig = value('--kubeconfig', v.kubeconfig);
  return overrides;
}
