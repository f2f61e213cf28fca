/**
 * Deterministic generator of a large, realistic, mixed auditd `audit.log` for the parser benchmark.
 *
 * Every line is built from a REAL line shape taken from the fixture corpus under
 * `test/fixtures/corpus/auditd/` (read at run time). Only the `msg=audit(<ts>:<serial>)` stamp and a few
 * numeric fields (`pid=`/`ppid=`, and for SECCOMP `syscall=`/`code=`/`sig=`) are rewritten; everything
 * else, including the ENRICHED suffix after the 0x1d byte, is kept byte-identical. Output is driven by a
 * seeded mulberry32 PRNG, so the same seed + corpus always yields the same bytes.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The seccomp action codes the kernel writes in `code=` (action bits only, data masked off). */
export const SECCOMP_CODES = [
  '0x7ffc0000', // LOG
  '0x50000', // ERRNO
  '0x80000000', // KILL_PROCESS
  '0x0', // KILL_THREAD
  '0x30000', // TRAP
  '0x7ff00000', // TRACE
  '0x7fc00000', // USER_NOTIF
] as const;
export type SeccompCode = (typeof SECCOMP_CODES)[number];

export const DenialKind = { Seccomp: 'seccomp', AppArmor: 'apparmor', SELinux: 'selinux' } as const;
export type DenialKind = (typeof DenialKind)[keyof typeof DenialKind];

export interface GenerateOptions {
  /** Number of lines to write (default 1,000,000). */
  readonly lines?: number;
  /** PRNG seed (default 0x6b776174). */
  readonly seed?: number;
  /** Directory with the `*.log` fixture files (default: test/fixtures/corpus/auditd of this repo). */
  readonly corpusDir?: string;
  /** Target share of denial records among all lines (default 0.10). */
  readonly denialRatio?: number;
  /** Relative weights of the denial kinds (default seccomp 5, apparmor 3, selinux 2). */
  readonly denialMix?: Readonly<Record<DenialKind, number>>;
  /** Epoch milliseconds of the first event (default 2026-01-01T00:00:00Z). */
  readonly startTimeMs?: number;
  /** Serial of the first event (default 100000 + a seeded offset). */
  readonly startSerial?: number;
  /** If set, every line is prefixed with `node=<node> ` (template `node=` prefixes are always dropped). */
  readonly node?: string;
}

export interface GenerateResult {
  readonly lines: number;
  /** File size in bytes (output is written as latin1, one byte per character). */
  readonly bytes: number;
  /** Number of distinct `msg=audit(ts:serial)` events. */
  readonly events: number;
  readonly denials: {
    readonly total: number;
    readonly seccomp: number;
    readonly apparmor: number;
    readonly selinux: number;
  };
  /** Number of SECCOMP records per `code=`. */
  readonly seccompCodes: Readonly<Record<string, number>>;
  /** Number of lines per record type. */
  readonly recordTypes: Readonly<Record<string, number>>;
  /** Lines carrying the ENRICHED 0x1d suffix. */
  readonly enrichedLines: number;
  readonly firstStamp: string;
  readonly lastStamp: string;
  readonly corpus: {
    readonly files: number;
    readonly templateLines: number;
    /** Lines that are not auditd record lines (e.g. `type=UNKNOWN[1329] msg=?`). */
    readonly skippedLines: number;
    /** Lines whose ENRICHED 0x1d separator was lost in the sample; not used. */
    readonly mangledLines: number;
  };
}

const DEFAULTS = {
  lines: 1_000_000,
  seed: 0x6b776174,
  denialRatio: 0.1,
  startTimeMs: Date.UTC(2026, 0, 1),
  denialMix: { seccomp: 5, apparmor: 3, selinux: 2 },
} as const;

/** Share of non-denial events that are syscall events (SYSCALL + CWD/PATH/PROCTITLE/EXECVE/EOE ...). */
const SYSCALL_EVENT_SHARE = 0.55;
/** Share of AppArmor denials that carry SYSCALL/PROCTITLE/EOE siblings (the rest are standalone). */
const APPARMOR_WITH_CONTEXT_SHARE = 0.5;
/** Groups of same-stamp lines larger than this are placeholder stamps, not one event: use lines singly. */
const MAX_EVENT_LINES = 12;
const PID_MAX = 4_194_304;
const ENRICHED_SEPARATOR = '\x1d';
/**
 * ENRICHED field names (auditd writes them in upper case after a 0x1d byte). Seeing one in a body without
 * the 0x1d means the separator was lost when the sample was copied (e.g. `key=(null)ARCH=x86_64`):
 * auditd never writes that, so such lines (and their events) are not used as templates.
 */
const ENRICHED_WITHOUT_SEPARATOR_RE =
  /(?:^|[^A-Za-z_])(?:AUID|UID|GID|EUID|FSUID|OUID|OGID|ARCH|SYSCALL)="?[A-Za-z0-9_(]/;

const SECCOMP_CODE_WEIGHTS: readonly (readonly [SeccompCode, number])[] = [
  ['0x7ffc0000', 30],
  ['0x50000', 30],
  ['0x7fc00000', 12],
  ['0x80000000', 10],
  ['0x0', 6],
  ['0x30000', 6],
  ['0x7ff00000', 6],
];
const KILL_CODES: ReadonlySet<string> = new Set<SeccompCode>(['0x80000000', '0x0']);

/** Syscalls typically blocked by container seccomp profiles, per audit arch. */
const SECCOMP_SYSCALLS: Readonly<Record<string, readonly number[]>> = {
  // x86_64: ptrace mount umount2 pivot_root reboot init_module delete_module kexec_load keyctl unshare
  // perf_event_open process_vm_readv bpf userfaultfd io_uring_setup clone3 getppid close socket
  // open_by_handle_at name_to_handle_at acct swapon
  c000003e: [
    101, 165, 166, 155, 169, 175, 176, 246, 250, 272, 298, 310, 321, 323, 425, 435, 110, 3, 41, 304, 303, 163,
    167,
  ],
  // i386: mount ptrace umount2 reboot init_module delete_module getpgid unshare bpf
  '40000003': [21, 26, 52, 88, 128, 129, 132, 310, 357],
};

/** mulberry32: tiny, fast, good-enough 32-bit PRNG. Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LINE_RE = /^(?:node=\S+ )?type=([A-Z][A-Z_0-9]*) msg=audit\((\d+\.\d{3}:\d+)\):(?: (.*))?$/;
const STAMPED_LINE_RE = /^(?:node=\S+ )?type=([A-Z][A-Z_0-9]*) msg=audit\([^)]*\): (.*)$/;

/** Which denial a line is (kernel SECCOMP / AppArmor AVC DENIED|ALLOWED / SELinux `avc:  denied`), if any. */
export function classifyDenial(line: string): DenialKind | undefined {
  const m = STAMPED_LINE_RE.exec(line);
  if (m === null) return undefined;
  return classifyRecord(m[1] ?? '', m[2] ?? '');
}

function classifyRecord(type: string, body: string): DenialKind | undefined {
  if (type === 'SECCOMP') return DenialKind.Seccomp;
  if (type !== 'AVC') return undefined;
  if (body.startsWith('apparmor="DENIED"') || body.startsWith('apparmor="ALLOWED"'))
    return DenialKind.AppArmor;
  if (body.startsWith('avc:  denied')) return DenialKind.SELinux;
  return undefined;
}

interface Template {
  readonly type: string;
  /** Everything after `msg=audit(<stamp>): ` (possibly empty, e.g. EOE). */
  readonly body: string;
}

interface SeccompUnit {
  readonly seccomp: Template;
  /** The ANOM_ABEND the kernel logged right after a kill action for the same pid, if the corpus has it. */
  readonly abend: Template | undefined;
}

export interface TemplateCorpus {
  readonly files: number;
  readonly templateLines: number;
  readonly skippedLines: number;
  readonly mangledLines: number;
  readonly byType: ReadonlyMap<string, readonly Template[]>;
  readonly seccomp: readonly SeccompUnit[];
  readonly apparmor: readonly Template[];
  /** SELinux AVC events as found in the corpus: AVC lines plus their AVC_PATH/SYSCALL siblings. */
  readonly selinux: readonly (readonly Template[])[];
  /** Real non-denial events that contain a SYSCALL record. */
  readonly syscallEvents: readonly (readonly Template[])[];
  /** Real non-denial events without SYSCALL (USER_*, CRED_*, LOGIN, BPF, SERVICE_*, CONFIG_CHANGE ...). */
  readonly otherEvents: readonly (readonly Template[])[];
  /** Single-line non-denial events: used to fill up the last few lines exactly. */
  readonly singleLineEvents: readonly (readonly Template[])[];
  readonly failedSyscalls: readonly Template[];
}

/** Finds the repository root (the directory holding test/fixtures/corpus/auditd) from this module. */
export function findRepoRoot(start: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'test', 'fixtures', 'corpus', 'auditd'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find test/fixtures/corpus/auditd above ${start}`);
    dir = parent;
  }
}

export function defaultCorpusDir(): string {
  return join(findRepoRoot(), 'test', 'fixtures', 'corpus', 'auditd');
}

function pidOf(body: string): string | undefined {
  const head = body.split(ENRICHED_SEPARATOR, 1)[0] ?? '';
  return /(?:^|[ '])pid=(\d+)/.exec(head)?.[1];
}

/** Reads every `*.log` file of the corpus (sorted by name, read as latin1 to keep bytes intact). */
export function loadTemplateCorpus(corpusDir: string = defaultCorpusDir()): TemplateCorpus {
  const names = readdirSync(corpusDir)
    .filter((n) => n.endsWith('.log'))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const byType = new Map<string, Template[]>();
  const seccomp: SeccompUnit[] = [];
  const apparmor: Template[] = [];
  const selinux: Template[][] = [];
  const syscallEvents: Template[][] = [];
  const otherEvents: Template[][] = [];
  let templateLines = 0;
  let skippedLines = 0;
  let mangledLines = 0;

  for (const name of names) {
    const text = readFileSync(join(corpusDir, name), 'latin1');
    const parsed: { stamp: string; t: Template; mangled: boolean }[] = [];
    for (const raw of text.split('\n')) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line === '') continue;
      const m = LINE_RE.exec(line);
      if (m === null) {
        skippedLines++; // e.g. `type=UNKNOWN[1329] msg=?` or `msg=audit(...) config changed`
        continue;
      }
      const t: Template = { type: m[1] ?? '', body: m[3] ?? '' };
      const mangled = !t.body.includes(ENRICHED_SEPARATOR) && ENRICHED_WITHOUT_SEPARATOR_RE.test(t.body);
      parsed.push({ stamp: m[2] ?? '', t, mangled });
      if (mangled) {
        mangledLines++;
        continue;
      }
      templateLines++;
      let pool = byType.get(t.type);
      if (pool === undefined) byType.set(t.type, (pool = []));
      pool.push(t);
    }

    // SECCOMP records (plus the ANOM_ABEND the kernel logs right after a kill for the same pid).
    parsed.forEach(({ t, mangled }, i) => {
      if (t.type !== 'SECCOMP' || mangled) return;
      const next = parsed[i + 1];
      const abend =
        next !== undefined &&
        !next.mangled &&
        next.t.type === 'ANOM_ABEND' &&
        pidOf(next.t.body) === pidOf(t.body)
          ? next.t
          : undefined;
      seccomp.push({ seccomp: t, abend });
    });

    // Group consecutive same-stamp lines into events.
    // An event with a mangled line is dropped whole, so that no event loses one of its records.
    const groups: Template[][] = [];
    let current: { t: Template; mangled: boolean }[] = [];
    let currentStamp = '';
    const flush = (): void => {
      if (current.length > MAX_EVENT_LINES) {
        for (const x of current) if (!x.mangled) groups.push([x.t]);
      } else if (current.length > 0 && !current.some((x) => x.mangled)) {
        groups.push(current.map((x) => x.t));
      }
      current = [];
    };
    for (const x of parsed) {
      if (x.stamp !== currentStamp) flush();
      currentStamp = x.stamp;
      current.push(x);
    }
    flush();

    for (const group of groups) {
      const kinds = group.map((t) => classifyRecord(t.type, t.body));
      for (const [i, t] of group.entries()) if (kinds[i] === DenialKind.AppArmor) apparmor.push(t);
      if (kinds.includes(DenialKind.SELinux)) {
        selinux.push(
          group.filter(
            (t, i) => kinds[i] === DenialKind.SELinux || t.type === 'AVC_PATH' || t.type === 'SYSCALL',
          ),
        );
      }
      // Anything touching AVC/SECCOMP/USER_AVC is kept out of the non-denial pools so that the denial
      // counts stay exact (AppArmor STATUS and USER_AVC records are therefore not generated at all).
      if (group.some((t) => t.type === 'AVC' || t.type === 'SECCOMP' || t.type === 'USER_AVC')) continue;
      if (group.some((t) => t.type === 'SYSCALL')) syscallEvents.push(group);
      else otherEvents.push(group);
    }
  }

  const failedSyscalls = (byType.get('SYSCALL') ?? []).filter((t) => t.body.includes(' success=no '));
  const singleLineEvents = otherEvents.filter((e) => e.length === 1);
  const need: readonly [string, number][] = [
    ['SECCOMP', seccomp.length],
    ['AppArmor AVC', apparmor.length],
    ['SELinux AVC', selinux.length],
    ['syscall event', syscallEvents.length],
    ['single-line event', singleLineEvents.length],
    ['failed SYSCALL', failedSyscalls.length],
    ['CWD', byType.get('CWD')?.length ?? 0],
    ['PATH', byType.get('PATH')?.length ?? 0],
    ['PROCTITLE', byType.get('PROCTITLE')?.length ?? 0],
  ];
  for (const [what, n] of need) {
    if (n === 0) throw new Error(`audit corpus ${corpusDir} has no ${what} template`);
  }
  return {
    files: names.length,
    templateLines,
    skippedLines,
    mangledLines,
    byType,
    seccomp,
    apparmor,
    selinux,
    syscallEvents,
    otherEvents,
    singleLineEvents,
    failedSyscalls,
  };
}

/** One record of a generated event, before stamping. */
interface OutRecord {
  readonly type: string;
  readonly body: string;
  readonly denial: DenialKind | undefined;
}

class Generator {
  private readonly rng: () => number;
  private nextPidValue: number;

  constructor(
    private readonly corpus: TemplateCorpus,
    seed: number,
  ) {
    this.rng = mulberry32(seed);
    this.nextPidValue = 1000 + this.int(50_000);
  }

  int(n: number): number {
    return Math.floor(this.rng() * n);
  }

  chance(p: number): boolean {
    return this.rng() < p;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error('pick from empty template pool');
    return item;
  }

  weighted<T>(items: readonly (readonly [T, number])[]): T {
    const total = items.reduce((s, [, w]) => s + w, 0);
    let r = this.rng() * total;
    for (const [item, w] of items) {
      r -= w;
      if (r < 0) return item;
    }
    const last = items[items.length - 1];
    if (last === undefined) throw new Error('weighted pick from empty list');
    return last[0];
  }

  /** A fresh pid from a rolling counter, like the kernel's pid allocator (wraps at pid_max). */
  freshPid(): string {
    this.nextPidValue += 1 + this.int(6);
    if (this.nextPidValue >= PID_MAX) this.nextPidValue = 300 + this.int(1000);
    return String(this.nextPidValue);
  }

  typePool(type: string): readonly Template[] {
    const pool = this.corpus.byType.get(type);
    if (pool === undefined) throw new Error(`no ${type} template`);
    return pool;
  }

  /**
   * Rewrites `pid=`/`ppid=` values consistently within one event (same old value -> same new value) and,
   * for SECCOMP, `syscall=`/`code=`/`sig=`. The ENRICHED suffix after 0x1d is left untouched.
   */
  rewrite(
    t: Template,
    pids: Map<string, string>,
    seccomp?: { syscall: number; code: string; sig: number },
  ): OutRecord {
    const sep = t.body.indexOf(ENRICHED_SEPARATOR);
    let head = sep < 0 ? t.body : t.body.slice(0, sep);
    const tail = sep < 0 ? '' : t.body.slice(sep);
    head = head.replace(
      /(^|[ '])(ppid|pid)=(\d+)(?=[ ']|$)/g,
      (_m, pre: string, key: string, old: string) => {
        let pid = pids.get(old);
        if (pid === undefined) pids.set(old, (pid = this.freshPid()));
        return `${pre}${key}=${pid}`;
      },
    );
    if (seccomp !== undefined) {
      head = head
        .replace(/ syscall=\d+(?= |$)/, ` syscall=${seccomp.syscall}`)
        .replace(/ code=0x[0-9a-f]+(?= |$)/, ` code=${seccomp.code}`)
        .replace(/ sig=\d+(?= |$)/, ` sig=${seccomp.sig}`);
    }
    const body = head + tail;
    return { type: t.type, body, denial: classifyRecord(t.type, body) };
  }

  /** Maps the `pid=` of each given template to one shared fresh pid (the process that hit the denial). */
  samePid(pids: Map<string, string>, templates: readonly Template[]): void {
    const pid = this.freshPid();
    for (const t of templates) {
      const old = pidOf(t.body);
      if (old !== undefined && !pids.has(old)) pids.set(old, pid);
    }
  }

  normalEvent(): OutRecord[] {
    const pool = this.chance(SYSCALL_EVENT_SHARE) ? this.corpus.syscallEvents : this.corpus.otherEvents;
    const pids = new Map<string, string>();
    return this.pick(pool).map((t) => this.rewrite(t, pids));
  }

  singleLineEvent(): OutRecord[] {
    const pids = new Map<string, string>();
    return this.pick(this.corpus.singleLineEvents).map((t) => this.rewrite(t, pids));
  }

  /** Returns one or two events (a kill action is followed by its ANOM_ABEND with the next serial). */
  seccompEvents(): OutRecord[][] {
    const unit = this.pick(this.corpus.seccomp);
    const code = this.weighted(SECCOMP_CODE_WEIGHTS);
    const kill = KILL_CODES.has(code);
    const arch = /(?:^| )arch=([0-9a-f]+)/.exec(unit.seccomp.body)?.[1] ?? '';
    const syscalls = SECCOMP_SYSCALLS[arch];
    const original = Number(/ syscall=(\d+)/.exec(unit.seccomp.body)?.[1] ?? '0');
    const syscall = syscalls === undefined ? original : this.pick(syscalls);
    const pids = new Map<string, string>();
    const events = [[this.rewrite(unit.seccomp, pids, { syscall, code, sig: kill ? 31 : 0 })]];
    if (kill && unit.abend !== undefined) events.push([this.rewrite(unit.abend, pids)]);
    return events;
  }

  apparmorEvent(): OutRecord[] {
    const avc = this.pick(this.corpus.apparmor);
    const pids = new Map<string, string>();
    if (!this.chance(APPARMOR_WITH_CONTEXT_SHARE)) return [this.rewrite(avc, pids)];
    const syscall = this.pick(this.corpus.failedSyscalls);
    this.samePid(pids, [avc, syscall]);
    return [
      this.rewrite(avc, pids),
      this.rewrite(syscall, pids),
      this.rewrite(this.pick(this.typePool('PROCTITLE')), pids),
      { type: 'EOE', body: '', denial: undefined },
    ];
  }

  /** SELinux AVC(s) followed by SYSCALL, CWD, PATH, PROCTITLE and EOE with the same stamp. */
  selinuxEvent(): OutRecord[] {
    const group = this.pick(this.corpus.selinux);
    const hasSyscall = group.some((t) => t.type === 'SYSCALL');
    const records: Template[] = [...group];
    if (!hasSyscall) records.push(this.pick(this.corpus.failedSyscalls));
    const pids = new Map<string, string>();
    this.samePid(
      pids,
      records.filter((t) => t.type === 'AVC' || t.type === 'SYSCALL'),
    );
    records.push(
      this.pick(this.typePool('CWD')),
      this.pick(this.typePool('PATH')),
      this.pick(this.typePool('PROCTITLE')),
    );
    const out = records.map((t) => this.rewrite(t, pids));
    out.push({ type: 'EOE', body: '', denial: undefined });
    return out;
  }

  denialEvents(mix: Readonly<Record<DenialKind, number>>): OutRecord[][] {
    const kind = this.weighted<DenialKind>([
      [DenialKind.Seccomp, mix.seccomp],
      [DenialKind.AppArmor, mix.apparmor],
      [DenialKind.SELinux, mix.selinux],
    ]);
    switch (kind) {
      case DenialKind.Seccomp:
        return this.seccompEvents();
      case DenialKind.AppArmor:
        return [this.apparmorEvent()];
      case DenialKind.SELinux:
        return [this.selinuxEvent()];
    }
  }
}

function checkCount(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(`${name} must be a non-negative integer, got ${n}`);
}

/**
 * Generates the log and hands it to `write` in chunks of roughly 1 MiB (latin1 strings: one char per byte).
 */
export function generateAuditLogChunks(
  write: (chunk: string) => void,
  options: GenerateOptions = {},
  corpus: TemplateCorpus = loadTemplateCorpus(options.corpusDir),
): GenerateResult {
  const target = options.lines ?? DEFAULTS.lines;
  checkCount('lines', target);
  const ratio = options.denialRatio ?? DEFAULTS.denialRatio;
  const mix = options.denialMix ?? DEFAULTS.denialMix;
  const seed = options.seed ?? DEFAULTS.seed;
  const gen = new Generator(corpus, seed);
  const prefix = options.node === undefined ? '' : `node=${options.node} `;

  let ms = options.startTimeMs ?? DEFAULTS.startTimeMs;
  let serial = options.startSerial ?? 100_000 + gen.int(900_000);
  checkCount('startTimeMs', ms);
  checkCount('startSerial', serial);

  let lines = 0;
  let bytes = 0;
  let events = 0;
  const denials = { total: 0, seccomp: 0, apparmor: 0, selinux: 0 };
  const seccompCodes: Record<string, number> = {};
  const recordTypes: Record<string, number> = {};
  let enrichedLines = 0;
  let firstStamp = '';
  let stamp = '';

  let buf: string[] = [];
  let bufLen = 0;
  const CHUNK = 1 << 20;

  while (lines < target) {
    const wantDenial = denials.total < ratio * (lines + 1) && gen.chance(0.5);
    let batch = wantDenial ? gen.denialEvents(mix) : [gen.normalEvent()];
    // Never cut an event in half: fill the last few lines with single-line events instead.
    if (batch.reduce((n, e) => n + e.length, 0) > target - lines) batch = [gen.singleLineEvent()];

    for (const event of batch) {
      ms += gen.int(4);
      serial += gen.chance(0.03) ? 2 + gen.int(4) : 1;
      events++;
      const sec = Math.floor(ms / 1000);
      stamp = `${sec}.${String(ms - sec * 1000).padStart(3, '0')}:${serial}`;
      if (firstStamp === '') firstStamp = stamp;
      for (const r of event) {
        const line = `${prefix}type=${r.type} msg=audit(${stamp}): ${r.body}\n`;
        buf.push(line);
        bufLen += line.length;
        lines++;
        recordTypes[r.type] = (recordTypes[r.type] ?? 0) + 1;
        if (r.body.includes(ENRICHED_SEPARATOR)) enrichedLines++;
        if (r.denial !== undefined) {
          denials.total++;
          denials[r.denial]++;
          if (r.denial === DenialKind.Seccomp) {
            const code = / code=(0x[0-9a-f]+)/.exec(r.body)?.[1] ?? '?';
            seccompCodes[code] = (seccompCodes[code] ?? 0) + 1;
          }
        }
      }
    }
    if (bufLen >= CHUNK) {
      write(buf.join(''));
      bytes += bufLen;
      buf = [];
      bufLen = 0;
    }
  }
  if (bufLen > 0) {
    write(buf.join(''));
    bytes += bufLen;
  }

  return {
    lines,
    bytes,
    events,
    denials,
    seccompCodes,
    recordTypes,
    enrichedLines,
    firstStamp,
    lastStamp: stamp,
    corpus: {
      files: corpus.files,
      templateLines: corpus.templateLines,
      skippedLines: corpus.skippedLines,
      mangledLines: corpus.mangledLines,
    },
  };
}

/** Writes a generated audit.log to `outFile` (created or truncated) and returns what it contains. */
export function generateAuditLog(outFile: string, options: GenerateOptions = {}): GenerateResult {
  const fd = openSync(outFile, 'w');
  try {
    return generateAuditLogChunks((chunk) => {
      writeSync(fd, chunk, null, 'latin1');
    }, options);
  } finally {
    closeSync(fd);
  }
}

/** Generates the log in memory as a Buffer (for tests and small sizes). */
export function generateAuditLogBuffer(options: GenerateOptions = {}): {
  data: Buffer;
  result: GenerateResult;
} {
  const chunks: Buffer[] = [];
  const result = generateAuditLogChunks((chunk) => {
    chunks.push(Buffer.from(chunk, 'latin1'));
  }, options);
  return { data: Buffer.concat(chunks), result };
}
