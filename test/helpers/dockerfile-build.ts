import { spawn } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';

/**
 * Builds a Dockerfile without a Docker engine (there is none on the test machines): its instructions are
 * executed here, each stage in a scratch directory of its own that stands for the stage's root
 * filesystem. Only the instructions and flags kernwatch's Dockerfile uses are understood, and anything
 * else is refused with its line number: an instruction executed differently from Docker, or silently
 * ignored, would make the test's verdict about some other build.
 *
 * What cannot be reproduced is named, never guessed at: the base image's files are not there (RUN steps
 * use the host's programs, e.g. its node and npm), so a RUN step may not name absolute paths, which
 * would reach the host instead of the stage; the caller decides which RUN steps to skip, and says why.
 */

export const INSTRUCTIONS = ['FROM', 'WORKDIR', 'COPY', 'RUN', 'LABEL', 'USER', 'ENTRYPOINT', 'CMD'] as const;
export type InstructionKeyword = (typeof INSTRUCTIONS)[number];

/** The flags each instruction may carry; every other flag is refused. */
const FLAGS: Readonly<Record<InstructionKeyword, readonly string[]>> = {
  FROM: [],
  WORKDIR: [],
  COPY: ['from'],
  RUN: [],
  LABEL: [],
  USER: [],
  ENTRYPOINT: [],
  CMD: [],
};

export interface Instruction {
  /** 1-based line of the instruction's first line. */
  line: number;
  keyword: InstructionKeyword;
  flags: ReadonlyMap<string, string>;
  /** The rest of the instruction, continuation lines joined as Docker joins them. */
  args: string;
}

export class DockerfileError extends Error {
  constructor(line: number, message: string) {
    super(`Dockerfile line ${String(line)}: ${message}`);
    this.name = 'DockerfileError';
  }
}

const isKeyword = (word: string): word is InstructionKeyword =>
  (INSTRUCTIONS as readonly string[]).includes(word);

/** Splits a Dockerfile into instructions; throws on anything outside the understood subset. */
export function parseDockerfile(text: string): Instruction[] {
  const lines = text.split('\n');
  const out: Instruction[] = [];
  let inDirectives = true;
  let pending: { line: number; text: string } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = (lines[i] ?? '').replace(/\r$/, '');
    const trimmed = raw.trim();
    if (inDirectives) {
      const directive = /^#\s*([A-Za-z]+)\s*=\s*(.*)$/.exec(trimmed);
      if (directive !== null && pending === undefined) {
        const name = (directive[1] ?? '').toLowerCase();
        // `syntax` picks the frontend only; `escape` and `check` change how the file is read or checked.
        if (name !== 'syntax')
          throw new DockerfileError(lineNo, `parser directive '${name}' is not supported`);
        continue;
      }
      inDirectives = false;
    }
    // Docker drops comment lines even between continuation lines, and blank lines inside them.
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const continues = /\\\s*$/.test(raw);
    const body = continues ? raw.replace(/\\\s*$/, '') : raw;
    pending =
      pending === undefined
        ? { line: lineNo, text: body.trimStart() }
        : { ...pending, text: pending.text + body };
    if (continues) continue;
    out.push(toInstruction(pending.line, pending.text));
    pending = undefined;
  }
  if (pending !== undefined)
    throw new DockerfileError(pending.line, 'the last instruction ends in a line continuation');
  if (out[0]?.keyword !== 'FROM')
    throw new DockerfileError(out[0]?.line ?? 1, 'the first instruction must be FROM');
  return out;
}

function toInstruction(line: number, text: string): Instruction {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(text);
  const word = (m?.[1] ?? '').toUpperCase();
  if (!isKeyword(word)) throw new DockerfileError(line, `instruction ${word} is not supported by this build`);
  let rest = (m?.[2] ?? '').trim();
  if (/<<-?["']?[A-Za-z_]/.test(rest)) throw new DockerfileError(line, 'here-documents are not supported');
  const flags = new Map<string, string>();
  for (;;) {
    const f = /^--([a-z-]+)(?:=(\S*))?(?:\s+|$)/.exec(rest);
    if (f === null) break;
    const name = f[1] ?? '';
    if (!FLAGS[word].includes(name)) throw new DockerfileError(line, `${word} --${name} is not supported`);
    if (f[2] === undefined || f[2] === '') throw new DockerfileError(line, `${word} --${name} needs a value`);
    flags.set(name, f[2]);
    rest = rest.slice(f[0].length);
  }
  if (rest === '') throw new DockerfileError(line, `${word} has no arguments`);
  if (word !== 'RUN' && rest.includes('$')) {
    throw new DockerfileError(line, `${word}: variable substitution is not supported`);
  }
  return { line, keyword: word, flags, args: rest };
}

// ---- .dockerignore ----------------------------------------------------------------------------------

interface IgnoreRule {
  negate: boolean;
  re: RegExp;
}

/**
 * Docker's .dockerignore semantics for the patterns it understands: `*` and `?` within one path segment,
 * `**` across segments, `!` to re-admit; the last rule matching a path or one of its parent directories
 * decides. Character classes and escapes are refused.
 */
export function dockerignoreMatcher(text: string): (relPath: string) => boolean {
  const rules: IgnoreRule[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    let p = raw.trim();
    if (p === '' || p.startsWith('#')) continue;
    const negate = p.startsWith('!');
    if (negate) p = p.slice(1).trim();
    if (/[[\]\\]/.test(p))
      throw new Error(`.dockerignore line ${String(i + 1)}: '${p}' uses an unsupported pattern`);
    p = posix.normalize(p.replace(/^\/+/, '')).replace(/\/+$/, '');
    if (p === '..' || p.startsWith('../'))
      throw new Error(`.dockerignore line ${String(i + 1)}: '${p}' leaves the context`);
    rules.push({ negate, re: patternRegExp(p) });
  }
  return (relPath) => {
    const parts = relPath.split('/');
    const candidates = parts.map((_, k) => parts.slice(0, k + 1).join('/'));
    let excluded = false;
    for (const rule of rules) {
      if (candidates.some((c) => rule.re.test(c))) excluded = !rule.negate;
    }
    return excluded;
  };
}

function patternRegExp(pattern: string): RegExp {
  const segs = pattern.split('/');
  let re = '';
  segs.forEach((seg, k) => {
    const last = k === segs.length - 1;
    if (seg === '**') {
      re += last ? '.*' : '(?:.*/)?';
      return;
    }
    re += seg
      .split('')
      .map((ch) => (ch === '*' ? '[^/]*' : ch === '?' ? '[^/]' : ch.replace(/[.+^${}()|]/g, '\\$&')))
      .join('');
    if (!last) re += '/';
  });
  return new RegExp(`^${re}$`);
}

// ---- the build --------------------------------------------------------------------------------------

export interface Stage {
  index: number;
  name: string;
  /** The image the stage starts from, as written after FROM. */
  base: string;
  /** The scratch directory standing for the stage's root filesystem. */
  root: string;
  /** The stage's working directory, as an absolute path inside the stage. */
  workdir: string;
  /** What the stage itself sets; undefined: inherited from the base image, which is not known here. */
  user: string | undefined;
  entrypoint: readonly string[] | undefined;
  cmd: readonly string[] | undefined;
  labels: Readonly<Record<string, string>>;
}

export interface Step {
  stage: string;
  line: number;
  keyword: InstructionKeyword;
  args: string;
  outcome: 'executed' | 'skipped';
  /** Why a skipped step was skipped. */
  reason?: string;
  ms: number;
}

export interface BuildOptions {
  dockerfile: string;
  /** The build context (the directory `docker build` is given); its .dockerignore applies. */
  context: string;
  /** An empty directory: each stage gets a sub-directory. */
  scratch: string;
  /** Returns why a RUN step is not executed here, or undefined to execute it. */
  skipRun?: (step: { stage: string; command: string; copiedYet: boolean }) => string | undefined;
  /** The environment of RUN steps. */
  env: NodeJS.ProcessEnv;
  runTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface BuildResult {
  stages: readonly Stage[];
  /** The last stage: the image `docker build` would produce. */
  final: Stage;
  steps: readonly Step[];
}

export async function buildDockerfile(options: BuildOptions): Promise<BuildResult> {
  const instructions = parseDockerfile(readFileSync(options.dockerfile, 'utf8'));
  const ignorePath = join(options.context, '.dockerignore');
  const ignored = dockerignoreMatcher(existsSync(ignorePath) ? readFileSync(ignorePath, 'utf8') : '');
  const stages: Stage[] = [];
  const steps: Step[] = [];
  let stage: Stage | undefined;
  let copiedYet = false;
  for (const ins of instructions) {
    const started = Date.now();
    const record = (outcome: Step['outcome'], reason?: string): void => {
      const step: Step = {
        stage: stage?.name ?? '',
        line: ins.line,
        keyword: ins.keyword,
        args: ins.args,
        outcome,
        ms: Date.now() - started,
      };
      if (reason !== undefined) step.reason = reason;
      steps.push(step);
      options.log?.(
        `[${step.stage}] ${outcome === 'skipped' ? 'SKIPPED ' : ''}${ins.keyword} ${[...ins.flags].map(([k, v]) => `--${k}=${v} `).join('')}${ins.args.slice(0, 120)}` +
          (reason === undefined ? '' : ` (${reason})`) +
          ` ${String(step.ms)} ms`,
      );
    };
    if (ins.keyword === 'FROM') {
      stage = fromStage(ins, stages, options.scratch);
      stages.push(stage);
      copiedYet = false;
      record('executed');
      continue;
    }
    if (stage === undefined) throw new DockerfileError(ins.line, `${ins.keyword} before FROM`);
    switch (ins.keyword) {
      case 'WORKDIR': {
        const dir = ins.args.trim();
        if (!dir.startsWith('/') || /\s/.test(dir)) {
          throw new DockerfileError(ins.line, 'WORKDIR must be one absolute path');
        }
        stage.workdir = posix.normalize(dir);
        mkdirSync(inStage(stage, stage.workdir), { recursive: true });
        break;
      }
      case 'COPY':
        copyStep(ins, stage, stages, options.context, ignored);
        copiedYet = true;
        break;
      case 'RUN': {
        if (ins.args.startsWith('['))
          throw new DockerfileError(ins.line, 'RUN in exec form is not supported');
        const reason = options.skipRun?.({ stage: stage.name, command: ins.args, copiedYet });
        if (reason !== undefined) {
          record('skipped', reason);
          continue;
        }
        refuseHostPaths(ins);
        await runStep(ins, inStage(stage, stage.workdir), options.env, options.runTimeoutMs ?? 180_000);
        break;
      }
      case 'LABEL':
        stage.labels = { ...stage.labels, ...parseLabels(ins) };
        break;
      case 'USER': {
        const user = ins.args.trim();
        if (!/^[a-z_][a-z0-9_-]*$|^\d+$/.test(user))
          throw new DockerfileError(ins.line, `USER '${user}' is not supported`);
        stage.user = user;
        break;
      }
      case 'ENTRYPOINT':
        stage.entrypoint = execForm(ins);
        // As in Docker: an ENTRYPOINT drops the CMD inherited from the base image, not one this stage set.
        stage.cmd ??= [];
        break;
      case 'CMD':
        stage.cmd = execForm(ins);
        break;
    }
    record('executed');
  }
  const final = stages[stages.length - 1];
  if (final === undefined) throw new Error('the Dockerfile has no stage');
  return { stages, final, steps };
}

function fromStage(ins: Instruction, stages: readonly Stage[], scratch: string): Stage {
  const m = /^(\S+)(?:\s+AS\s+([a-z][a-z0-9_.-]*))?$/i.exec(ins.args.trim());
  if (m === null) throw new DockerfileError(ins.line, `FROM '${ins.args}' is not 'IMAGE [AS NAME]'`);
  const base = m[1] ?? '';
  const index = stages.length;
  const name = (m[2] ?? String(index)).toLowerCase();
  if (stages.some((s) => s.name === base.toLowerCase())) {
    throw new DockerfileError(ins.line, `FROM an earlier stage (${base}) is not supported`);
  }
  if (stages.some((s) => s.name === name))
    throw new DockerfileError(ins.line, `stage name ${name} is used twice`);
  const root = join(scratch, `${String(index)}-${name}`);
  mkdirSync(root, { recursive: true });
  return {
    index,
    name,
    base,
    root,
    workdir: '/',
    user: undefined,
    entrypoint: undefined,
    cmd: undefined,
    labels: {},
  };
}

/** A path inside a stage, as a path in its scratch directory; normalizing first keeps `..` inside. */
export function inStage(stage: Pick<Stage, 'root'>, path: string): string {
  return join(stage.root, posix.normalize(`/${path}`));
}

function copyStep(
  ins: Instruction,
  stage: Stage,
  stages: readonly Stage[],
  context: string,
  ignored: (rel: string) => boolean,
): void {
  if (ins.args.startsWith('[')) throw new DockerfileError(ins.line, 'COPY in JSON form is not supported');
  const words = ins.args.split(/\s+/).filter((w) => w !== '');
  const dest = words.pop();
  if (dest === undefined || words.length === 0)
    throw new DockerfileError(ins.line, 'COPY needs a source and a destination');
  if (words.some((w) => /[*?[]/.test(w)))
    throw new DockerfileError(ins.line, 'COPY wildcards are not supported');
  const destIsDir = dest.endsWith('/') || dest === '.' || words.length > 1;
  if (words.length > 1 && !dest.endsWith('/')) {
    throw new DockerfileError(ins.line, 'COPY with several sources needs a destination ending in /');
  }
  const destInStage = posix.normalize(dest.startsWith('/') ? dest : posix.join(stage.workdir, dest));
  const destPath = inStage(stage, destInStage);
  const fromName = ins.flags.get('from');
  const from = fromName === undefined ? undefined : stages.find((s) => s.name === fromName.toLowerCase());
  if (fromName !== undefined && from === undefined) {
    throw new DockerfileError(ins.line, `COPY --from=${fromName}: no earlier stage has that name`);
  }
  for (const src of words) {
    if (from !== undefined) {
      const path = inStage(from, src);
      if (!existsSync(path))
        throw new DockerfileError(ins.line, `COPY --from=${from.name}: ${src} does not exist in that stage`);
      // No .dockerignore between stages: the whole entry, in one call (node_modules is thousands of files).
      const st = lstatSync(path);
      const target = st.isDirectory() || !destIsDir ? destPath : join(destPath, posix.basename(path));
      cpSync(path, target, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    } else {
      const rel = posix.normalize(src.replace(/^\/+/, '')).replace(/\/+$/, '');
      if (rel === '..' || rel.startsWith('../'))
        throw new DockerfileError(ins.line, `COPY ${src} leaves the context`);
      const path = rel === '.' ? context : join(context, rel);
      if (!existsSync(path)) throw new DockerfileError(ins.line, `COPY ${src}: not in the context`);
      const copied = copyEntry(path, destPath, destIsDir, ignored, rel === '.' ? '' : rel);
      if (copied === 0) throw new DockerfileError(ins.line, `COPY ${src}: excluded by .dockerignore`);
    }
  }
}

/**
 * Docker's COPY: a directory's contents go into the destination, a file goes into it when it is a
 * directory and becomes it otherwise; symbolic links are copied as links. Returns the files copied.
 */
function copyEntry(
  src: string,
  dest: string,
  destIsDir: boolean,
  ignored: (rel: string) => boolean,
  rel: string,
): number {
  const st = lstatSync(src);
  if (st.isDirectory()) {
    mkdirSync(dest, { recursive: true });
    let n = 0;
    for (const entry of readdirSync(src)) {
      const childRel = rel === '' ? entry : `${rel}/${entry}`;
      const child = join(src, entry);
      if (lstatSync(child).isDirectory()) {
        n += copyEntry(child, join(dest, entry), true, ignored, childRel);
      } else if (!ignored(childRel)) {
        cpSync(child, join(dest, entry), { verbatimSymlinks: true, preserveTimestamps: true });
        n++;
      }
    }
    return n;
  }
  if (rel !== '' && ignored(rel)) return 0;
  const target = destIsDir ? join(dest, posix.basename(src)) : dest;
  mkdirSync(destIsDir ? dest : join(target, '..'), { recursive: true });
  cpSync(src, target, { verbatimSymlinks: true, preserveTimestamps: true });
  return 1;
}

/**
 * A RUN step runs on the host with the stage's working directory as its current directory: a path it
 * names absolutely (or through a variable, `~` or `..`) would be the host's, not the stage's.
 */
function refuseHostPaths(ins: Instruction): void {
  for (const token of ins.args.split(/[\s;&|()<>'"`=]+/)) {
    if (
      token.startsWith('/') ||
      token.startsWith('~') ||
      token.includes('$') ||
      token.split('/').includes('..')
    ) {
      throw new DockerfileError(
        ins.line,
        `RUN names '${token}', a path this build cannot map into the stage`,
      );
    }
  }
}

function runStep(ins: Instruction, cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    // Its own process group, so that a step past its deadline is stopped with everything it started.
    const child = spawn('/bin/sh', ['-c', ins.args], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    const keep = (d: Buffer): void => {
      output = (output + d.toString('utf8')).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else {
        const why = timedOut ? `timed out after ${String(timeoutMs)} ms` : `exited ${String(code ?? signal)}`;
        reject(new DockerfileError(ins.line, `RUN ${ins.args} ${why}:\n${output}`));
      }
    });
  });
}

function execForm(ins: Instruction): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(ins.args);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((a) => typeof a === 'string')) {
    throw new DockerfileError(ins.line, `${ins.keyword} must be in exec form (a JSON array of strings)`);
  }
  return parsed;
}

function parseLabels(ins: Instruction): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = /\s*([A-Za-z0-9_.-]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))/y;
  let at = 0;
  const text = ins.args.trimEnd();
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (m === null)
      throw new DockerfileError(ins.line, `LABEL: cannot read '${text.slice(at)}' as key=value`);
    labels[m[1] ?? ''] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
    at = re.lastIndex;
  }
  return labels;
}
