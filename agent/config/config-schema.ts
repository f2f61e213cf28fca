import { z } from 'zod';
import { parseByteSize } from './byte-size.js';
import { parseDuration } from './duration.js';

/**
 * The YAML configuration (a public contract: DESIGN.md's keys are never renamed). Plain data, validated
 * once; unknown keys are errors so a typo never silently turns a setting off. Defaults are documented here
 * and in docs/configuration.md.
 */

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value : parseDuration(value);
  if (ms === undefined || ms < 0) {
    ctx.addIssue({ code: 'custom', message: `not a duration: '${String(value)}' (e.g. 500ms, 2s, 10m, 1h)` });
    return z.NEVER;
  }
  return ms;
});

/** A duration that must be more than zero (intervals and deadlines). */
const positiveDuration = duration.refine((ms) => ms > 0, { error: 'must be more than 0' });

const byteSize = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const bytes = typeof value === 'number' ? value : parseByteSize(value);
  if (bytes === undefined || bytes <= 0) {
    ctx.addIssue({ code: 'custom', message: `not a size: '${String(value)}' (e.g. 512KiB, 256MiB, 1GiB)` });
    return z.NEVER;
  }
  return bytes;
});

const hostPort = z
  .string()
  .refine((s) => /^[^\s:]*:\d{1,5}$/.test(s) || /^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(s), {
    error: 'expected HOST:PORT',
  });

export const sourceConfigSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('auditd'), path: z.string().min(1).default('/var/log/audit/audit.log') }),
  z.strictObject({ type: z.literal('kmsg'), path: z.string().min(1).default('/dev/kmsg') }),
  z.strictObject({
    type: z.literal('journald'),
    /** A journal directory (the host's /var/log/journal mounted into the pod); default: the system journal. */
    directory: z.string().min(1).optional(),
    journalctl: z.string().min(1).default('journalctl'),
  }),
  z.strictObject({ type: z.literal('syslog'), path: z.string().min(1) }),
]);
export type SourceConfig = z.infer<typeof sourceConfigSchema>;

/** What makes two sources the same one: they would read the same records and share a checkpoint. */
export function sourceKey(source: SourceConfig): string {
  switch (source.type) {
    case 'journald':
      return `journald:${source.directory ?? ''}`;
    default:
      return `${source.type}:${source.path}`;
  }
}

export const sinkConfigSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('stdout') }),
  z.strictObject({ type: z.literal('file'), path: z.string().min(1) }),
  z
    .strictObject({
      type: z.literal('nats'),
      /** nats://HOST:PORT or tls://HOST:PORT, several separated by commas. */
      url: z.string().min(1),
      stream: z.string().min(1).default('KERNWATCH'),
      // Authentication: secrets only from files or named environment variables, never in this file.
      credsFile: z.string().min(1).optional(),
      nkeySeedFile: z.string().min(1).optional(),
      user: z.string().min(1).optional(),
      userFile: z.string().min(1).optional(),
      passwordFile: z.string().min(1).optional(),
      passwordEnv: z.string().min(1).optional(),
      tokenFile: z.string().min(1).optional(),
      tokenEnv: z.string().min(1).optional(),
      tls: z
        .strictObject({
          caFile: z.string().min(1).optional(),
          certFile: z.string().min(1).optional(),
          keyFile: z.string().min(1).optional(),
        })
        .optional(),
      /** Events awaiting their JetStream ack at once. */
      maxInFlight: z.number().int().min(1).max(65_536).default(1024),
      ackTimeout: positiveDuration.default(5000),
      /** Set on the stream when kernwatch creates it: JetStream drops a re-sent event within it. */
      duplicateWindow: positiveDuration.default(120_000),
      /** Set on the stream when kernwatch creates it; 0 keeps events until deleted by hand. */
      maxAge: duration.default(7 * 86_400_000),
      spool: z
        .strictObject({
          /** The most the spool may hold while NATS is unreachable; beyond it the oldest events go. */
          maxBytes: byteSize.default(256 * 1024 * 1024),
          segmentBytes: byteSize.default(8 * 1024 * 1024),
        })
        .default({ maxBytes: 256 * 1024 * 1024, segmentBytes: 8 * 1024 * 1024 }),
    })
    .refine(
      (n) =>
        [
          n.credsFile,
          n.nkeySeedFile,
          n.user ?? n.userFile ?? n.passwordFile ?? n.passwordEnv,
          n.tokenFile ?? n.tokenEnv,
        ].filter((v) => v !== undefined).length <= 1,
      { error: 'choose one NATS authentication: credsFile, nkeySeedFile, user+password, or token' },
    ),
  z.strictObject({
    type: z.literal('falco-http'),
    /** falcosidekick's address: http(s)://HOST:PORT/ (from --sink falco+http://HOST:PORT/). */
    url: z.string().min(1),
    /** Alerts held while falcosidekick is away; beyond it the oldest are dropped (counted). */
    maxQueuedEvents: z.number().int().min(1).default(10_000),
  }),
]);
export type SinkConfig = z.infer<typeof sinkConfigSchema>;
export type NatsSinkConfig = Extract<SinkConfig, { type: 'nats' }>;

const responseActionSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('delete_pod'),
    gracePeriodSeconds: z.number().int().min(0).default(30),
    /** Deleting a DaemonSet's pod only makes its controller start the same pod again on this node. */
    allowDaemonSet: z.boolean().default(false),
    /** A pod without a controller is gone for good once deleted. */
    allowStandalone: z.boolean().default(false),
    /** An owner kernwatch cannot count replicas of (a custom controller, a mirror pod's node). */
    allowUnknownOwner: z.boolean().default(false),
    /** Ready replicas the owner (ReplicaSet, StatefulSet, ReplicationController) must keep after the deletion. */
    minHealthyReplicas: z.number().int().min(0).default(1),
  }),
  z.strictObject({
    type: z.literal('nft_quarantine'),
    // nft timeouts are whole seconds: anything shorter would be refused when the action runs.
    ttl: duration.refine((ms) => ms >= 1000, { error: 'at least 1s' }).default(3_600_000),
  }),
  /** Absent ttl: the NetworkPolicy stays until `kernwatch quarantine release`. */
  z.strictObject({ type: z.literal('netpol_quarantine'), ttl: positiveDuration.optional() }),
  z.strictObject({
    type: z.literal('label'),
    labels: z
      .record(z.string().min(1), z.string())
      .refine((labels) => Object.keys(labels).length > 0, { error: 'name at least one label' })
      .default({ 'kernwatch.io/quarantined': 'true' }),
  }),
  z.strictObject({ type: z.literal('k8s_event') }),
]);
export type ResponseActionConfig = z.infer<typeof responseActionSchema>;

const nonEmptyList = z.array(z.string().min(1)).min(1);

const responseRuleSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
      error: 'a rule name is 1-63 letters, digits, ".", "_" or "-" (it goes into action event ids)',
    }),
    match: z.strictObject({
      kind: z.enum(['seccomp', 'apparmor', 'selinux']).optional(),
      outcome: z
        .array(z.enum(['killed', 'blocked', 'allowed', 'logged']))
        .min(1)
        .optional(),
      /** Globs: `*` any run of characters, `?` one character. */
      namespaces: nonEmptyList.optional(),
      /** Every label must be on the pod with this value (the pod's labels come from the API server). */
      podLabels: z.record(z.string().min(1), z.string()).optional(),
      syscalls: nonEmptyList.optional(),
      operations: nonEmptyList.optional(),
      permissions: nonEmptyList.optional(),
    }),
    threshold: z
      .strictObject({
        count: z.number().int().min(1).max(10_000),
        within: positiveDuration,
      })
      .default({ count: 1, within: 60_000 }),
    actions: z.array(responseActionSchema).min(1),
  })
  .refine((rule) => new Set(rule.actions.map((a) => a.type)).size === rule.actions.length, {
    error: 'an action type is listed twice in one rule',
  });
export type ResponseRuleConfig = z.infer<typeof responseRuleSchema>;

export const configSchema = z.strictObject({
  /** Default: the NODE_NAME environment variable, else the host name. */
  node: z.string().optional(),
  stateDir: z.string().min(1).default('/var/lib/kernwatch'),
  procRoot: z.string().min(1).default('/proc'),
  /** The host's /sys (its securityfs and selinuxfs tell which LSMs run): /host/sys inside the DaemonSet. */
  sysRoot: z.string().min(1).default('/sys'),
  /** Empty or absent: auto-detect one live source (auditd if it runs, else /dev/kmsg). */
  sources: z
    .array(sourceConfigSchema)
    .default([])
    .refine((list) => new Set(list.map(sourceKey)).size === list.length, {
      error: 'the same source is listed twice (each source keeps its own checkpoint)',
    }),
  /** Read existing file contents instead of starting at the end on the first start (no checkpoint yet). */
  fromStart: z.boolean().default(false),
  cri: z
    .strictObject({
      /** Absent: the first of the usual containerd / CRI-O sockets that exists. */
      socket: z.string().min(1).optional(),
      timeout: positiveDuration.default(2000),
      minRefreshInterval: positiveDuration.default(1000),
    })
    .default({ timeout: 2000, minRefreshInterval: 1000 }),
  kubernetes: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Absent: in-cluster config when running in a pod, else no API server (CRI metadata only). */
      kubeconfig: z.string().min(1).optional(),
      /** How long a deleted pod's labels and owner stay known, for late records of its processes. */
      podRetention: duration.default(300_000),
      /** Kubernetes Events (events.k8s.io/v1) on the pod for its denials, one series per kind of denial. */
      events: z
        .strictObject({
          enabled: z.boolean().default(true),
          /** The agent's sustained share of the API server for Events (every node runs one agent). */
          callsPerSecond: z.number().positive().default(5),
          burst: z.number().int().min(1).default(25),
          /** A series' count is written at most this often. */
          seriesHeartbeat: positiveDuration.default(30_000),
        })
        .default({ enabled: true, callsPerSecond: 5, burst: 25, seriesHeartbeat: 30_000 }),
    })
    .default({
      enabled: true,
      podRetention: 300_000,
      events: { enabled: true, callsPerSecond: 5, burst: 25, seriesHeartbeat: 30_000 },
    }),
  attribution: z
    .strictObject({
      /** How often new pids are read, so a process killed and reaped before its record is still known. */
      scanInterval: positiveDuration.default(20),
      maxProcesses: z.number().int().min(1024).default(65_536),
    })
    .default({ scanInterval: 20, maxProcesses: 65_536 }),
  parse: z
    .strictObject({
      /** How long an event waits for sibling records (SYSCALL, PATH, ...) that may never come. */
      holdTime: duration.default(30),
    })
    .default({ holdTime: 30 }),
  sinks: z
    .array(sinkConfigSchema)
    .min(1)
    .default([{ type: 'stdout' }]),
  noise: z
    .strictObject({
      coalesceWindow: duration.default(2000),
      perContainerPerSecond: z.number().min(0).default(50),
    })
    .default({ coalesceWindow: 2000, perContainerPerSecond: 50 }),
  responses: z
    .strictObject({
      /** false: every decision is made and published as `dry_run`, and nothing is changed. */
      enabled: z.boolean().default(false),
      protectedNamespaces: z.array(z.string().min(1)).default(['kube-system', 'kernwatch']),
      /** Actions per minute on this node; beyond it responses are refused (a circuit breaker, not a queue). */
      budgetPerMinute: z.number().int().min(0).default(5),
      /** After a response to a pod, further responses to it are refused for this long. */
      cooldown: duration.default(600_000),
      /** Responses waiting for the runner; beyond it they are refused (counted). */
      queueSize: z.number().int().min(1).max(65_536).default(1024),
      /**
       * A denial older than this (audit time) when its response is decided sets nothing off: after a
       * restart or a backlog, acting on old news hits pods that may be gone or innocent. 0: no limit.
       */
      maxTriggerAge: duration.default(120_000),
      /** How often quarantines of pods that are gone, and NetworkPolicy quarantines past their ttl, are released. */
      reconcileInterval: positiveDuration.default(10_000),
      rules: z
        .array(responseRuleSchema)
        .default([])
        .refine((rules) => new Set(rules.map((r) => r.name)).size === rules.length, {
          error: 'two rules have the same name',
        }),
    })
    .default({
      enabled: false,
      protectedNamespaces: ['kube-system', 'kernwatch'],
      budgetPerMinute: 5,
      cooldown: 600_000,
      queueSize: 1024,
      maxTriggerAge: 120_000,
      reconcileInterval: 10_000,
      rules: [],
    }),
  posture: z
    .strictObject({
      /** Scan every running container's confinement periodically and publish what changed. */
      enabled: z.boolean().default(true),
      // Each scan lists the node's pods and its namespaces' NetworkPolicies: minutes suit production.
      interval: duration
        .refine((ms) => ms >= 1000 && ms <= 86_400_000, { error: 'between 1s and 24h' })
        .default(300_000),
    })
    .default({ enabled: true, interval: 300_000 }),
  metrics: z.strictObject({ addr: hostPort.optional() }).default({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .default({ level: 'info' }),
});

/** The file as written (before defaults). */
export type ConfigInput = z.input<typeof configSchema>;
/** The validated configuration with every default filled in. */
export type AgentConfig = z.infer<typeof configSchema>;
export type ResponsesConfig = AgentConfig['responses'];
