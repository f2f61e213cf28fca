import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { configSchema, type AgentConfig } from './config-schema.js';

/** Values given on the command line; each one present replaces the file's value. */
export interface ConfigOverrides {
  node?: string;
  stateDir?: string;
  procRoot?: string;
  sysRoot?: string;
  criSocket?: string;
  kubeconfig?: string;
  metricsAddr?: string;
  sources?: unknown[];
  sinks?: unknown[];
  fromStart?: boolean;
  logLevel?: string;
}

export async function loadConfig(
  path: string | undefined,
  overrides: ConfigOverrides,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AgentConfig> {
  let input: Record<string, unknown> = {};
  if (path !== undefined) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`Cannot read config file ${path}: ${(err as Error).message}`, { cause: err });
    }
    input = parseConfigText(text, path, env);
  }
  return validateConfig(applyOverrides(input, overrides), path ?? 'command line');
}

export function parseConfigText(
  text: string,
  origin: string,
  env: NodeJS.ProcessEnv,
): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${origin} is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(`${origin} must hold a mapping of settings at its top level.`);
  }
  return expandEnv(doc, env) as Record<string, unknown>;
}

export function validateConfig(input: unknown, origin: string): AgentConfig {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map(describeIssue);
    throw new ConfigError(`Invalid configuration (${origin}):\n  ${lines.join('\n  ')}`, {
      cause: result.error,
    });
  }
  return result.data;
}

/** "message (at a.b.0.c)", the shape users can search their file for. */
function describeIssue(issue: z.core.$ZodIssue): string {
  const at = issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') {
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')} (at ${at})`;
  }
  return `${issue.message} (at ${at})`;
}

function applyOverrides(input: Record<string, unknown>, o: ConfigOverrides): Record<string, unknown> {
  const out: Record<string, unknown> = { ...input };
  if (o.node !== undefined) out.node = o.node;
  if (o.stateDir !== undefined) out.stateDir = o.stateDir;
  if (o.procRoot !== undefined) out.procRoot = o.procRoot;
  if (o.sysRoot !== undefined) out.sysRoot = o.sysRoot;
  if (o.sources !== undefined && o.sources.length > 0) out.sources = o.sources;
  if (o.sinks !== undefined && o.sinks.length > 0) out.sinks = o.sinks;
  if (o.fromStart !== undefined) out.fromStart = o.fromStart;
  if (o.criSocket !== undefined) out.cri = { ...asObject(out.cri), socket: o.criSocket };
  if (o.kubeconfig !== undefined) out.kubernetes = { ...asObject(out.kubernetes), kubeconfig: o.kubeconfig };
  if (o.metricsAddr !== undefined) out.metrics = { ...asObject(out.metrics), addr: o.metricsAddr };
  if (o.logLevel !== undefined) out.log = { ...asObject(out.log), level: o.logLevel };
  return out;
}

function asObject(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/**
 * `${NAME}` and `${NAME:-default}` in string values, as in the DaemonSet's `node: ${NODE_NAME}`. An unset
 * variable without a default becomes '' (for `node`, that means "use the default").
 */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') return expandString(value, env);
  if (Array.isArray(value)) return value.map((v) => expandEnv(v, env));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandEnv(v, env);
    return out;
  }
  return value;
}

function expandString(s: string, env: NodeJS.ProcessEnv): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const open = s.indexOf('${', i);
    if (open < 0) break;
    const close = s.indexOf('}', open + 2);
    if (close < 0) break;
    out += s.slice(i, open);
    const expr = s.slice(open + 2, close);
    const sep = expr.indexOf(':-');
    const name = sep < 0 ? expr : expr.slice(0, sep);
    const fallback = sep < 0 ? '' : expr.slice(sep + 2);
    const v = env[name];
    out += v !== undefined && v !== '' ? v : fallback;
    i = close + 1;
  }
  return out + s.slice(i);
}

/** `auditd:PATH | kmsg | journald[:DIR] | syslog:PATH` → a source entry of the config. */
export function sourceFromSpec(spec: string): Record<string, unknown> {
  const colon = spec.indexOf(':');
  const type = colon < 0 ? spec : spec.slice(0, colon);
  const arg = colon < 0 ? undefined : spec.slice(colon + 1);
  switch (type) {
    case 'auditd':
      return arg === undefined || arg === '' ? { type } : { type, path: arg };
    case 'kmsg':
      return arg === undefined || arg === '' ? { type } : { type, path: arg };
    case 'journald':
      return arg === undefined || arg === '' ? { type } : { type, directory: arg };
    case 'syslog':
      if (arg === undefined || arg === '') throw new ConfigError(`--source syslog needs a path: syslog:PATH`);
      return { type, path: arg };
    default:
      throw new ConfigError(
        `Unknown --source '${spec}' (expected auditd:PATH, kmsg, journald or syslog:PATH).`,
      );
  }
}

/** `stdout | file:PATH | nats://HOST:PORT | falco+http://HOST:PORT/` → a sink entry of the config. */
export function sinkFromSpec(spec: string): Record<string, unknown> {
  if (spec === 'stdout') return { type: 'stdout' };
  if (spec.startsWith('file:') && spec.length > 5) return { type: 'file', path: spec.slice(5) };
  if (spec.startsWith('nats://') || spec.startsWith('tls://')) return { type: 'nats', url: spec };
  if (spec.startsWith('falco+http://') || spec.startsWith('falco+https://')) {
    return { type: 'falco-http', url: spec.slice('falco+'.length) };
  }
  throw new ConfigError(
    `Unknown --sink '${spec}' (expected stdout, file:PATH, nats://HOST:PORT or falco+http://HOST:PORT/).`,
  );
}
