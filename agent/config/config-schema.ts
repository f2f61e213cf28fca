import { z } from 'zod';
import { WELL_KNOWN_CRI_SOCKETS } from '../attribute/cri/cri-sockets.js';
import { parseByteSize } from './byte-size.js';
import { parseDuration } from './duration.js';

/**
 * The YAML configuration (a public contract: DESIGN.md's keys are never renamed). Plain data, validated
 * once; unknown keys are errors so a typo never silently turns a setting off.
 *
 * Every key carries its documentation in `.meta()`: docs/configuration.md's table is generated from it
 * (`npm run gen:config-docs`, agent/config/config-reference.ts), and a key without a description fails
 * the generator, so no key ships undocumented.
 */

declare module 'zod' {
  interface GlobalMeta {
    /** The command-line flag that overrides the key (markdown, as the docs show it). */
    flag?: string;
    /** The default in words, for a key whose default is computed at run time rather than held here. */
    defaultText?: string;
    /** What the docs call the type when the schema's structure cannot say it (a transform's input). */
    typeName?: string;
  }
}

const duration = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const ms = typeof value === 'number' ? value : parseDuration(value);
    if (ms === undefined || ms < 0) {
      ctx.addIssue({
        code: 'custom',
        message: `not a duration: '${String(value)}' (e.g. 500ms, 2s, 10m, 1h)`,
      });
      return z.NEVER;
    }
    return ms;
  })
  .meta({ typeName: 'duration' });

/** A duration that must be more than zero (intervals and deadlines). */
const positiveDuration = duration.refine((ms) => ms > 0, { error: 'must be more than 0' });

const byteSize = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const bytes = typeof value === 'number' ? value : parseByteSize(value);
    if (bytes === undefined || bytes <= 0) {
      ctx.addIssue({ code: 'custom', message: `not a size: '${String(value)}' (e.g. 512KiB, 256MiB, 1GiB)` });
      return z.NEVER;
    }
    return bytes;
  })
  .meta({ typeName: 'size' });

const hostPort = z
  .string()
  .refine((s) => /^[^\s:]*:\d{1,5}$/.test(s) || /^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(s), {
    error: 'expected HOST:PORT',
  })
  .meta({ typeName: '`HOST:PORT`' });

export const sourceConfigSchema = z
  .discriminatedUnion('type', [
    z
      .strictObject({
        type: z.literal('auditd'),
        path: z
          .string()
          .min(1)
          .default('/var/log/audit/audit.log')
          .meta({ description: 'the log file auditd writes', flag: '`--source auditd:PATH`' }),
      })
      .meta({ description: "auditd's log, tailed across rotation", flag: '`--source auditd`' }),
    z
      .strictObject({
        type: z.literal('kmsg'),
        path: z.string().min(1).default('/dev/kmsg').meta({ description: 'the kernel log device' }),
      })
      .meta({
        description: 'the kernel log, read live (audit records reach it only while auditd does not run)',
        flag: '`--source kmsg`',
      }),
    z
      .strictObject({
        type: z.literal('journald'),
        directory: z.string().min(1).optional().meta({
          description: "a journal directory (the host's /var/log/journal mounted into the pod)",
          defaultText: 'the system journal',
          flag: '`--source journald:JOURNAL_DIR`',
        }),
        journalctl: z
          .string()
          .min(1)
          .default('journalctl')
          .meta({ description: 'the journalctl program to run: a name looked up in `PATH`, or a path' }),
      })
      .meta({
        description: '`journalctl -f -o json` on the audit and kernel transports, resumed from its cursor',
        flag: '`--source journald`',
      }),
    z
      .strictObject({
        type: z.literal('syslog'),
        path: z.string().min(1).meta({ description: 'the file', flag: '`--source syslog:PATH`' }),
      })
      .meta({ description: "a syslog file the kernel's messages are written to, tailed like auditd's log" }),
  ])
  .meta({ description: 'the kind of source: one of the entries below' });
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

const optionalNonEmpty = z.string().min(1).optional();

export const sinkConfigSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('stdout') }).meta({
      description: 'NDJSON on stdout, one event a line',
      flag: '`--sink stdout`',
    }),
    z
      .strictObject({
        type: z.literal('file'),
        path: z.string().min(1).meta({
          description: 'the file, appended to (its directory is created)',
          flag: '`--sink file:PATH`',
        }),
      })
      .meta({ description: 'NDJSON appended to a file' }),
    z
      .strictObject({
        type: z.literal('nats'),
        url: z.string().min(1).meta({
          description:
            '`nats://HOST:PORT` or `tls://HOST:PORT`, comma-separated for several; credentials in the URL are refused',
          flag: '`--sink nats://HOST:PORT`; `--nats URL` (posture, doctor)',
        }),
        stream: z.string().min(1).default('KERNWATCH').meta({
          description:
            'the JetStream stream; created (subjects `kernwatch.>`, file storage) when missing, never changed when it exists: differences are logged',
        }),
        // Authentication: secrets only from files or named environment variables, never in this file.
        credsFile: optionalNonEmpty.meta({ description: 'a `.creds` file (JWT + seed)' }),
        nkeySeedFile: optionalNonEmpty.meta({ description: 'an nkey seed file' }),
        user: optionalNonEmpty.meta({ description: 'the user name, with `passwordFile` or `passwordEnv`' }),
        userFile: optionalNonEmpty.meta({
          description: 'a file holding the user name, with `passwordFile` or `passwordEnv`',
        }),
        passwordFile: optionalNonEmpty.meta({ description: 'a file holding the password' }),
        passwordEnv: optionalNonEmpty.meta({ description: 'the environment variable holding the password' }),
        tokenFile: optionalNonEmpty.meta({ description: 'a file holding the token' }),
        tokenEnv: optionalNonEmpty.meta({ description: 'the environment variable holding the token' }),
        tls: z
          .strictObject({
            caFile: optionalNonEmpty.meta({ description: "the CA that signed the server's certificate" }),
            certFile: optionalNonEmpty.meta({ description: 'a client certificate (with `keyFile`)' }),
            keyFile: optionalNonEmpty.meta({ description: "the client certificate's key (with `certFile`)" }),
          })
          .optional()
          .meta({ description: 'TLS settings; given, they turn TLS on, also with a `nats://` URL' }),
        maxInFlight: z
          .number()
          .int()
          .min(1)
          .max(65_536)
          .default(1024)
          .meta({ description: 'events awaiting their JetStream ack at once' }),
        ackTimeout: positiveDuration
          .default(5000)
          .meta({ description: 'without any ack this long, the events in flight go to the spool' }),
        duplicateWindow: positiveDuration.default(120_000).meta({
          description:
            'set on the stream when kernwatch creates it: JetStream drops an event re-sent within it',
        }),
        maxAge: duration.default(7 * 86_400_000).meta({
          description: 'set on the stream when kernwatch creates it (`0`: kept until deleted)',
        }),
        spool: z
          .strictObject({
            maxBytes: byteSize.default(256 * 1024 * 1024).meta({
              description:
                'the most the spool holds on disk; beyond it the oldest events are dropped, counted and logged',
            }),
            segmentBytes: byteSize
              .default(8 * 1024 * 1024)
              .meta({ description: 'the unit in which the spool is written and dropped' }),
          })
          .default({ maxBytes: 256 * 1024 * 1024, segmentBytes: 8 * 1024 * 1024 })
          .meta({
            description:
              'where events wait, under `stateDir`, while NATS is unreachable or has not acknowledged them',
          }),
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
      )
      .meta({ description: 'NATS JetStream, the durable path: see [`nats`](#nats-jetstream) below' }),
    z
      .strictObject({
        type: z.literal('falco-http'),
        url: z.string().min(1).meta({
          description: "falcosidekick's address: `http(s)://HOST:PORT/`",
          flag: '`--sink falco+http://HOST:PORT/`',
        }),
        maxQueuedEvents: z.number().int().min(1).default(10_000).meta({
          description: 'alerts held while falcosidekick is away; beyond it the oldest are dropped (counted)',
        }),
      })
      .meta({
        description:
          'Falco alerts POSTed to falcosidekick, best-effort: see [`falco-http`](#falco-http-falcosidekick)',
      }),
  ])
  .meta({ description: 'the kind of sink: one of the entries below' });
export type SinkConfig = z.infer<typeof sinkConfigSchema>;
export type NatsSinkConfig = Extract<SinkConfig, { type: 'nats' }>;

const responseActionSchema = z
  .discriminatedUnion('type', [
    z
      .strictObject({
        type: z.literal('delete_pod'),
        gracePeriodSeconds: z
          .number()
          .int()
          .min(0)
          .default(30)
          .meta({ description: "the deletion's grace period, in seconds" }),
        allowDaemonSet: z.boolean().default(false).meta({
          description:
            '`false` refuses `daemonset`: a DaemonSet starts the same pod again on this node, so deleting it ends nothing',
        }),
        allowStandalone: z.boolean().default(false).meta({
          description: '`false` refuses `standalone`: a pod without a controller is gone for good',
        }),
        allowUnknownOwner: z.boolean().default(false).meta({
          description:
            '`false` refuses `unknown_owner`: an owner whose replicas kernwatch cannot count (a custom controller), or an owner that is gone',
        }),
        minHealthyReplicas: z.number().int().min(0).default(1).meta({
          description:
            'refuses `min_healthy` when the ReplicaSet, StatefulSet or ReplicationController would keep fewer ready replicas than this',
        }),
      })
      .meta({ description: 'delete the pod through the API, with its uid as a precondition' }),
    z
      .strictObject({
        type: z.literal('nft_quarantine'),
        // nft timeouts are whole seconds: anything shorter would be refused when the action runs.
        ttl: duration
          .refine((ms) => ms >= 1000, { error: 'at least 1s' })
          .default(3_600_000)
          .meta({
            description:
              'how long the addresses stay quarantined, at least 1s; the kernel expires them, also while the agent is down',
          }),
      })
      .meta({
        description:
          "drop all traffic to and from the pod's addresses in kernwatch's nftables table `inet kernwatch`",
      }),
    z
      .strictObject({
        type: z.literal('netpol_quarantine'),
        ttl: positiveDuration.optional().meta({
          description:
            'how long until the agent of this node deletes the NetworkPolicy and takes the label off',
          defaultText: 'none: until `kernwatch quarantine release`',
        }),
      })
      .meta({
        description: 'a deny-all NetworkPolicy that selects only the pod, then a label that makes it match',
      }),
    z
      .strictObject({
        type: z.literal('label'),
        labels: z
          .record(z.string().min(1), z.string())
          .refine((labels) => Object.keys(labels).length > 0, { error: 'name at least one label' })
          .default({ 'kernwatch.io/quarantined': 'true' })
          .meta({ description: 'the labels set on the pod; they stay until someone removes them' }),
      })
      .meta({
        description: 'set labels on the pod, for admission policies, a service mesh or people to act on',
      }),
    z
      .strictObject({ type: z.literal('k8s_event') })
      .meta({ description: 'an `events.k8s.io/v1` Event on the pod, reason `KernwatchResponse`' }),
  ])
  .meta({ description: 'the action: one of the entries below (docs/responses.md)' });
export type ResponseActionConfig = z.infer<typeof responseActionSchema>;

const nonEmptyList = z.array(z.string().min(1)).min(1);

const responseRuleSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
        error: 'a rule name is 1-63 letters, digits, ".", "_" or "-" (it goes into action event ids)',
      })
      .meta({ description: '1-63 letters, digits, `.`, `_` or `-`, unique: it goes into action event ids' }),
    match: z
      .strictObject({
        kind: z
          .enum(['seccomp', 'apparmor', 'selinux'])
          .optional()
          .meta({ description: 'the kind of denial' }),
        outcome: z
          .array(z.enum(['killed', 'blocked', 'allowed', 'logged']))
          .min(1)
          .optional()
          .meta({ description: 'any of these outcomes' }),
        namespaces: nonEmptyList.optional().meta({
          description:
            "globs on the pod's namespace: `*` is any run of characters, `?` is one character (`prod-*`, `team-?`)",
        }),
        podLabels: z.record(z.string().min(1), z.string()).optional().meta({
          description:
            'every label present with this value. Labels come from the API server: without one, a rule with `podLabels` matches nothing rather than every pod',
        }),
        syscalls: nonEmptyList
          .optional()
          .meta({ description: 'seccomp: the syscall name (`mount`, `ptrace`, `unshare`)' }),
        operations: nonEmptyList
          .optional()
          .meta({ description: 'AppArmor: the operation (`open`, `exec`, `mount`, `capable`…)' }),
        permissions: nonEmptyList
          .optional()
          .meta({ description: 'SELinux: any of the denied permissions (`read`, `write`, `execute`…)' }),
      })
      .meta({ description: 'which denials count; every field is optional, the ones given must all match' }),
    threshold: z
      .strictObject({
        count: z
          .number()
          .int()
          .min(1)
          .max(10_000)
          .meta({ description: 'matching denials of one pod (a coalesced event counts as all of them)' }),
        within: positiveDuration.meta({ description: 'the window, in audit time' }),
      })
      .default({ count: 1, within: 60_000 })
      .meta({
        description:
          'the rule fires when denials of one pod that match it reach `count` within `within`; then the window starts again',
      }),
    actions: z
      .array(responseActionSchema)
      .min(1)
      .meta({ description: 'what the rule does, in the order given; each action type at most once' }),
  })
  .refine((rule) => new Set(rule.actions.map((a) => a.type)).size === rule.actions.length, {
    error: 'an action type is listed twice in one rule',
  });
export type ResponseRuleConfig = z.infer<typeof responseRuleSchema>;

export const configSchema = z.strictObject({
  node: z.string().optional().meta({
    description: 'the node name events carry and the pod informer selects on',
    defaultText: '`NODE_NAME`, else the host name',
    flag: '`--node`',
  }),
  stateDir: z.string().min(1).default('/var/lib/kernwatch').meta({
    description: 'checkpoints (`checkpoints/<source>.json`) and the NATS spool (`spool/<url>-<stream>/`)',
    flag: '`--state-dir`',
  }),
  procRoot: z
    .string()
    .min(1)
    .default('/proc')
    .meta({ description: "the host's /proc (`/host/proc` inside the DaemonSet)", flag: '`--proc-root`' }),
  sysRoot: z.string().min(1).default('/sys').meta({
    description:
      "the host's /sys (`/host/sys` inside the DaemonSet): securityfs and selinuxfs say which LSMs run (posture, doctor)",
    flag: '`--sys-root` (posture, doctor)',
  }),
  sources: z
    .array(sourceConfigSchema)
    .default([])
    .refine((list) => new Set(list.map(sourceKey)).size === list.length, {
      error: 'the same source is listed twice (each source keeps its own checkpoint)',
    })
    .meta({
      description:
        "the sources to read, each once (it keeps its own checkpoint); empty: auto-detect one live source, auditd's log if auditd runs, else /dev/kmsg, else (where /dev/kmsg cannot be opened, as in a pod) journald's copy of the kernel log in /var/log/journal or /run/log/journal",
      flag: '`--source SPEC` (repeatable)',
    }),
  fromStart: z.boolean().default(false).meta({
    description: 'read files from their start when there is no checkpoint yet (else from their end)',
    flag: '`--from-start`',
  }),
  cri: z
    .strictObject({
      socket: z
        .string()
        .min(1)
        .optional()
        .meta({
          description: 'CRI runtime socket for container names, images and pods',
          defaultText: `first existing of ${WELL_KNOWN_CRI_SOCKETS.map((s) => `\`${s}\``).join(', ')}`,
          flag: '`--cri-socket`',
        }),
      timeout: positiveDuration.default(2000).meta({ description: 'deadline of each CRI call' }),
      minRefreshInterval: positiveDuration.default(1000).meta({
        description: 'at most one container list per interval, whatever the number of misses',
      }),
    })
    .default({ timeout: 2000, minRefreshInterval: 1000 })
    .meta({ description: 'the container runtime (containerd, CRI-O) that names containers and pods' }),
  kubernetes: z
    .strictObject({
      enabled: z.boolean().default(true).meta({
        description: 'use the API server for pod labels and owners when one is configured',
      }),
      kubeconfig: z.string().min(1).optional().meta({
        description: 'kubeconfig file',
        defaultText: 'in-cluster config in a pod, else none',
        flag: '`--kubeconfig`',
      }),
      podRetention: duration
        .default(300_000)
        .meta({ description: 'how long a deleted pod stays known for late records' }),
      events: z
        .strictObject({
          enabled: z.boolean().default(true).meta({
            description: 'Kubernetes Events on the pod of each denial (when an API server is configured)',
          }),
          callsPerSecond: z.number().positive().default(5).meta({
            description:
              "the agent's sustained share of the API server for Events (every node runs one agent)",
          }),
          burst: z
            .number()
            .int()
            .min(1)
            .default(25)
            .meta({ description: 'Event writes allowed at once above `callsPerSecond`' }),
          seriesHeartbeat: positiveDuration
            .default(30_000)
            .meta({ description: "a series' count is written at most this often" }),
        })
        .default({ enabled: true, callsPerSecond: 5, burst: 25, seriesHeartbeat: 30_000 })
        .meta({
          description:
            'Kubernetes Events (`events.k8s.io/v1`) on the pod for its denials, one series per kind of denial',
        }),
    })
    .default({
      enabled: true,
      podRetention: 300_000,
      events: { enabled: true, callsPerSecond: 5, burst: 25, seriesHeartbeat: 30_000 },
    })
    .meta({ description: 'the API server, for pod labels and owners, Events and responses' }),
  attribution: z
    .strictObject({
      scanInterval: positiveDuration.default(20).meta({
        description:
          'how often new pids are read (see docs/benchmarks.md for the rate per process lifetime), so a process killed and reaped before its record is still known',
      }),
      maxProcesses: z
        .number()
        .int()
        .min(1024)
        .default(65_536)
        .meta({ description: 'pids kept in the process table' }),
    })
    .default({ scanInterval: 20, maxProcesses: 65_536 })
    .meta({ description: "finding each denial's process, container and pod" }),
  parse: z
    .strictObject({
      holdTime: duration.default(30).meta({
        description: 'how long an event waits for sibling records (SYSCALL, PATH...) that may never come',
      }),
    })
    .default({ holdTime: 30 })
    .meta({ description: 'assembling audit records into events' }),
  sinks: z
    .array(sinkConfigSchema)
    .min(1)
    .default([{ type: 'stdout' }])
    .meta({ description: 'where events go, every event to each sink', flag: '`--sink SPEC` (repeatable)' }),
  noise: z
    .strictObject({
      coalesceWindow: duration.default(2000).meta({
        description:
          'identical denials within this much audit time are one event with `count`; `0` turns it off',
      }),
      perContainerPerSecond: z.number().min(0).default(50).meta({
        description:
          'events per container per second beyond which a summary event is published; `0` turns it off',
      }),
    })
    .default({ coalesceWindow: 2000, perContainerPerSecond: 50 })
    .meta({
      description:
        'coalescing and rate limits between attribution and the sinks: see [Noise control](#noise-control)',
    }),
  responses: z
    .strictObject({
      enabled: z.boolean().default(false).meta({
        description:
          '`false`: dry-run, every decision is published as `dry_run` and nothing is changed (docs/responses.md)',
      }),
      protectedNamespaces: z
        .array(z.string().min(1))
        .default(['kube-system', 'kernwatch'])
        .meta({ description: 'namespaces whose pods are never responded to' }),
      budgetPerMinute: z.number().int().min(0).default(5).meta({
        description: 'actions per sliding minute on this node; beyond it responses are refused',
      }),
      cooldown: duration.default(600_000).meta({
        description: 'after a response to a pod, further responses to it are refused for this long',
      }),
      queueSize: z.number().int().min(1).max(65_536).default(1024).meta({
        description: 'responses waiting to be decided; beyond it they are refused (`queue_full`)',
      }),
      // After a restart or a backlog, acting on old news hits pods that may be gone or innocent.
      maxTriggerAge: duration.default(120_000).meta({
        description:
          'a denial older than this when its response is decided sets nothing off (`stale`); `0`: no limit',
      }),
      reconcileInterval: positiveDuration.default(10_000).meta({
        description:
          'how often quarantines of pods that are gone and expired NetworkPolicy quarantines are released',
      }),
      rules: z
        .array(responseRuleSchema)
        .default([])
        .refine((rules) => new Set(rules.map((r) => r.name)).size === rules.length, {
          error: 'two rules have the same name',
        })
        .meta({ description: '`{name, match, threshold, actions}`: see docs/responses.md' }),
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
    })
    .meta({ description: 'automated responses to violations (docs/responses.md)' }),
  posture: z
    .strictObject({
      enabled: z.boolean().default(true).meta({
        description:
          "scan every running container's confinement periodically (needs a CRI socket; docs/operations.md)",
      }),
      // Each scan lists the node's pods and its namespaces' NetworkPolicies: minutes suit production.
      interval: duration
        .refine((ms) => ms >= 1000 && ms <= 86_400_000, { error: 'between 1s and 24h' })
        .default(300_000)
        .meta({
          description:
            'how often (1s to 24h); a posture event is published for each container whose checks changed',
        }),
    })
    .default({ enabled: true, interval: 300_000 })
    .meta({ description: "the agent's periodic posture scan of the node's containers" }),
  metrics: z
    .strictObject({
      addr: hostPort.optional().meta({
        description: '`HOST:PORT` for `/metrics`, `/healthz`, `/readyz`',
        flag: '`--metrics-addr`',
      }),
    })
    .default({})
    .meta({ description: 'the HTTP endpoint for Prometheus and probes' }),
  log: z
    .strictObject({
      level: z
        .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info')
        .meta({ description: 'pino level of the stderr log', flag: '`--log-level`' }),
    })
    .default({ level: 'info' })
    .meta({ description: 'the log on stderr' }),
});

/** The file as written (before defaults). */
export type ConfigInput = z.input<typeof configSchema>;
/** The validated configuration with every default filled in. */
export type AgentConfig = z.infer<typeof configSchema>;
export type ResponsesConfig = AgentConfig['responses'];
