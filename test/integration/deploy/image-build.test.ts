import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { findRepoRoot } from '../../bench/audit-log-generator.js';
import {
  agentReady,
  eventsIn,
  startProcess,
  waitFor,
  type AgentProcess,
} from '../../helpers/agent-process.js';
import { buildDockerfile, inStage, type BuildResult, type Stage } from '../../helpers/dockerfile-build.js';
import { CORPUS } from '../../helpers/fixtures.js';
import { get, metricsPort } from '../../helpers/metrics-scrape.js';
import { hasCommand, missingPrerequisite } from '../../helpers/prerequisites.js';

// The image, built from the Dockerfile by executing its instructions here (no Docker engine on the test
// machines, see test/helpers/dockerfile-build.ts), then started with its ENTRYPOINT and CMD: what the
// DaemonSet would run. Differences from `docker build`, all stated below: the base image's files are
// absent, so RUN steps use the host's node and npm; the runtime stage's apt-get of nftables and systemd
// is not executed, the host's nft and journalctl stand in (the step's dependencies are checked against
// this host's dpkg database instead); the entrypoint's `node` is the host's.

const REPO = findRepoRoot();
const FIXTURE = 'auditd/kernel618-auditd309-enriched-seccomp-all-actions.log';

const skip = missingPrerequisite([hasCommand('nft', 'nftables'), hasCommand('journalctl', 'systemd')]);
/** The packages the runtime stage's apt step installs, which this host must hold for the dpkg check. */
const APT_PACKAGES = ['nftables', 'systemd'];
const skipDpkg = skip ?? missingPrerequisite([hasDebianPackages(APT_PACKAGES)]);

/**
 * What a builder's environment would offer a RUN step: the network settings npm needs (proxy, CA,
 * registry and its cache) and nothing of this test process, whose npm_* and VITEST variables (`npm test`
 * sets npm_config_local_prefix to the repository) would make the scratch build another build.
 */
function builderEnv(): NodeJS.ProcessEnv {
  const keep = [
    'PATH',
    'HOME',
    'TMPDIR',
    'http_proxy',
    'https_proxy',
    'no_proxy',
    'HTTP_PROXY',
    'HTTPS_PROXY',
    'NO_PROXY',
    'NODE_EXTRA_CA_CERTS',
    'SSL_CERT_FILE',
    'SSL_CERT_DIR',
    'npm_config_registry',
    'npm_config_cache',
    'npm_config_userconfig',
  ];
  const env: NodeJS.ProcessEnv = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  return env;
}

/**
 * The base image's RUN step that installs nftables and systemd (for journalctl) with apt: the one step
 * this build cannot execute.
 */
function skipAptInstall(step: { stage: string; command: string; copiedYet: boolean }): string | undefined {
  if (/\bapt-get install\b[^;&|]*\bnftables\b/.test(step.command) && !step.copiedYet) {
    return 'prepares the base image (apt-get install nftables systemd); no apt here, the host nft and journalctl stand in';
  }
  return undefined;
}

/** The words after `prefix` in a shell command, up to the end of that command (`;`, `&`, `|`). */
function commandWords(command: string, prefix: RegExp): string[] {
  const m = new RegExp(`${prefix.source}([^;&|]*)`).exec(command);
  if (m === null) throw new Error(`no ${prefix.source} in the step`);
  return (m[1] ?? '').split(/\s+/).filter((w) => w !== '' && !w.startsWith('-'));
}

/** Why this host's dpkg database cannot judge the apt step's packages, or undefined when it can. */
function hasDebianPackages(names: readonly string[]) {
  return (): string | undefined => {
    try {
      const out = execFileSync('dpkg-query', ['-W', '-f', '${db:Status-Abbrev}${Package}\n', ...names], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      const installed = out.split('\n').filter((l) => l.startsWith('ii '));
      return installed.length === names.length
        ? undefined
        : `needs the Debian packages ${names.join(' and ')} installed`;
    } catch {
      return `needs dpkg-query and the Debian packages ${names.join(' and ')}`;
    }
  };
}

/**
 * Which of `purged` a package in the dependency closure of `roots` needs (every installed alternative of
 * one of its Depends or Pre-Depends is purged), judged by this host's dpkg database: `dpkg --purge`
 * refuses to remove those, and fails the step. Dependencies this host does not have installed are not
 * judged (the image's base packages are all installed here too, and the roots' closure with them).
 */
function purgeConflicts(roots: readonly string[], purged: readonly string[]): string[] {
  const out = execFileSync(
    'dpkg-query',
    ['-W', '-f', '${db:Status-Abbrev}\t${Package}\t${Provides}\t${Pre-Depends}, ${Depends}\n'],
    { encoding: 'utf8' },
  );
  const depends = new Map<string, string[][]>();
  const providers = new Map<string, string[]>();
  const names = (field: string): string[][] =>
    field
      .split(',')
      .map((group) =>
        group
          .split('|')
          .map((alt) => (alt.trim().split(/[\s(]/)[0] ?? '').replace(/:[a-z0-9]+$/, ''))
          .filter((n) => n !== ''),
      )
      .filter((group) => group.length > 0);
  for (const line of out.split('\n')) {
    const [status, pkg, provides, deps] = line.split('\t');
    if (status?.startsWith('ii') !== true || pkg === undefined) continue;
    depends.set(pkg, names(deps ?? ''));
    for (const [virtual] of names(provides ?? '')) {
      if (virtual !== undefined) providers.set(virtual, [...(providers.get(virtual) ?? []), pkg]);
    }
  }
  const conflicts = new Set<string>();
  const seen = new Set<string>(roots);
  const queue = [...roots];
  for (let pkg = queue.shift(); pkg !== undefined; pkg = queue.shift()) {
    for (const group of depends.get(pkg) ?? []) {
      const installed = [
        ...new Set(group.flatMap((n) => [...(depends.has(n) ? [n] : []), ...(providers.get(n) ?? [])])),
      ];
      const kept = installed.filter((n) => !purged.includes(n));
      if (installed.length > 0 && kept.length === 0)
        conflicts.add(`${pkg} depends on ${installed.join(' | ')}`);
      for (const n of kept) {
        if (!seen.has(n)) {
          seen.add(n);
          queue.push(n);
        }
      }
    }
  }
  return [...conflicts].sort();
}

function filesBelow(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    const rel = prefix === '' ? entry : `${prefix}/${entry}`;
    if (lstatSync(path).isDirectory() && !lstatSync(path).isSymbolicLink())
      out.push(...filesBelow(path, rel));
    else out.push(rel);
  }
  return out;
}

/** Package directories of a node_modules tree, nested ones included (`a/node_modules/b`), as the lockfile names them. */
function installedPackages(nodeModules: string, prefix = 'node_modules'): string[] {
  const out: string[] = [];
  if (!existsSync(nodeModules)) return out;
  for (const entry of readdirSync(nodeModules).sort()) {
    if (entry === '.bin' || entry === '.package-lock.json') continue;
    const path = join(nodeModules, entry);
    if (entry.startsWith('@')) {
      for (const scoped of readdirSync(path).sort()) {
        out.push(`${prefix}/${entry}/${scoped}`);
        out.push(
          ...installedPackages(
            join(path, scoped, 'node_modules'),
            `${prefix}/${entry}/${scoped}/node_modules`,
          ),
        );
      }
    } else {
      out.push(`${prefix}/${entry}`);
      out.push(...installedPackages(join(path, 'node_modules'), `${prefix}/${entry}/node_modules`));
    }
  }
  return out;
}

interface LockedPackage {
  dev?: boolean;
  optional?: boolean;
  os?: string[];
  cpu?: string[];
}

/** Whether npm installs an optional package on this machine (its os and cpu lists allow it). */
function fitsHere(p: LockedPackage): boolean {
  const allows = (list: string[] | undefined, value: string): boolean =>
    list === undefined ||
    (list.some((v) => !v.startsWith('!')) ? list.includes(value) : !list.includes(`!${value}`));
  return allows(p.os, process.platform) && allows(p.cpu, process.arch);
}

/**
 * Starts the built image's ENTRYPOINT and CMD with `args` appended, in its WORKDIR. Adapted in one way
 * only: the ENTRYPOINT's `node` is the host's (the test checks it is the base image's major release), and
 * its absolute paths are the stage's files in the scratch directory.
 */
function startImage(image: Stage, args: readonly string[]): AgentProcess {
  const [program, ...entryArgs] = image.entrypoint ?? [];
  if (program !== 'node') throw new Error(`the ENTRYPOINT starts ${String(program)}, not node`);
  const mapped = entryArgs.map((a) => {
    if (!a.startsWith('/')) return a;
    const path = inStage(image, a);
    if (!existsSync(path)) throw new Error(`the ENTRYPOINT names ${a}, which the image does not hold`);
    return path;
  });
  return startProcess(process.execPath, [...mapped, ...(image.cmd ?? []), ...args], {
    cwd: inStage(image, image.workdir),
    // Nothing of the test's environment: the image's PATH covers node, nft and journalctl, as the host's does.
    env: { PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
    what: 'the image',
  });
}

describe.skipIf(skip)('the Dockerfile, built instruction by instruction and started', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'kw-image-build-'));
  let build: BuildResult | undefined;
  const agents: AgentProcess[] = [];
  const image = (): Stage => {
    if (build === undefined) throw new Error('the build did not finish');
    return build.final;
  };

  beforeAll(async () => {
    build = await buildDockerfile({
      dockerfile: join(REPO, 'Dockerfile'),
      context: REPO,
      scratch: join(scratch, 'stages'),
      skipRun: skipAptInstall,
      env: builderEnv(),
      runTimeoutMs: 150_000,
    });
  }, 240_000);

  afterAll(async () => {
    for (const a of agents) await a.stop('SIGKILL');
    rmSync(scratch, { recursive: true, force: true });
  });

  test('every instruction but the base image package install was executed; nft and journalctl are on this host', () => {
    const steps = build?.steps ?? [];
    const skipped = steps.filter((s) => s.outcome === 'skipped');
    expect(skipped.map((s) => [s.stage, s.keyword])).toEqual([['runtime', 'RUN']]);
    const aptStep = skipped[0]?.args ?? '';
    expect(commandWords(aptStep, /apt-get install/)).toEqual(APT_PACKAGES);
    // What checks the step in the real build: the programs the image needs from it, and node, still run.
    expect(aptStep).toMatch(/; +nft --version; +journalctl --version; +node --version$/);
    // The steps that make the image's contents ran here: the full install and tsc, the production install.
    const ran = steps.filter((s) => s.keyword === 'RUN' && s.outcome === 'executed');
    expect(ran.map((s) => [s.stage, s.args.split(' ').slice(0, 3).join(' ')])).toEqual([
      ['build', 'npm ci --ignore-scripts'],
      ['build', 'npm run build'],
      ['prod-deps', 'npm ci --omit=dev'],
    ]);
    expect(execFileSync('nft', ['--version'], { encoding: 'utf8' })).toMatch(/^nftables v1\./);
    expect(execFileSync('journalctl', ['--version'], { encoding: 'utf8' })).toMatch(/^systemd \d+ /);

    // The host's node stands in for the base image's in RUN steps and in the ENTRYPOINT.
    const bases = new Set(build?.stages.map((s) => s.base));
    expect(bases.size).toBe(1);
    const tag = /^node:(\d+)\.\d+\.\d+-bookworm-slim(?:@sha256:[0-9a-f]{64})?$/.exec([...bases][0] ?? '');
    expect(tag?.[1]).toBe(process.versions.node.split('.')[0]);
  });

  test.skipIf(skipDpkg)(
    "the apt step's dpkg --purge spares every package nftables and systemd need (this host's dpkg database)",
    () => {
      const aptStep = build?.steps.find((s) => s.outcome === 'skipped')?.args ?? '';
      const purged = commandWords(aptStep, /dpkg --purge/);
      expect(purged).toContain('apt');
      expect(purgeConflicts(APT_PACKAGES, purged)).toEqual([]);
      // Not vacuous: mount, which the step purged before it installed systemd, is a dependency of systemd.
      expect(purgeConflicts(APT_PACKAGES, [...purged, 'mount'])).toContain('systemd depends on mount');
    },
  );

  test('the image runs `kernwatch run` as root from /app', () => {
    expect(build?.stages.map((s) => s.name)).toEqual(['build', 'prod-deps', 'runtime']);
    expect(image().entrypoint).toEqual(['node', '/app/dist/agent/cli/main.js']);
    expect(image().cmd).toEqual(['run']);
    expect(image().user).toBe('root');
    expect(image().workdir).toBe('/app');
  });

  test('the runtime tree holds the compiled agent and the production dependencies, nothing else', () => {
    const root = image().root;
    expect(readdirSync(root)).toEqual(['app']);
    const app = join(root, 'app');
    expect(readdirSync(app).sort()).toEqual(['dist', 'node_modules', 'package-lock.json', 'package.json']);
    expect(readdirSync(join(app, 'dist'))).toEqual(['agent']);
    const dist = filesBelow(join(app, 'dist'));
    expect(dist).toContain('agent/cli/main.js');
    expect(dist).toContain('agent/attribute/cri/cri-api.proto');
    expect(dist.filter((f) => !/\.(js|js\.map|proto)$/.test(f))).toEqual([]);

    const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, LockedPackage>;
    };
    const locked = Object.entries(lock.packages).filter(([k]) => k.startsWith('node_modules/'));
    const production = locked
      .filter(([, p]) => p.dev !== true && (p.optional !== true || fitsHere(p)))
      .map(([k]) => k)
      .sort();
    expect(installedPackages(join(app, 'node_modules'))).toEqual(production);
    for (const tool of [
      'typescript',
      'vitest',
      'eslint',
      'prettier',
      'typescript-eslint',
      'esbuild',
      'vite',
    ]) {
      expect(existsSync(join(app, 'node_modules', tool)), tool).toBe(false);
    }
    // Nothing above the image's tree that node's module lookup could fall back on.
    for (let dir = dirname(app); dir !== dirname(dir); dir = dirname(dir)) {
      expect(existsSync(join(dir, 'node_modules')), join(dir, 'node_modules')).toBe(false);
    }
  });

  test('started with its ENTRYPOINT and CMD it reports every denial of an audit.log and answers /healthz', async () => {
    const log = join(scratch, 'audit.log');
    copyFileSync(join(CORPUS, FIXTURE), log);
    const agent = startImage(image(), [
      '--source',
      `auditd:${log}`,
      '--from-start',
      '--sink',
      'stdout',
      '--state-dir',
      join(scratch, 'state'),
      '--metrics-addr',
      '127.0.0.1:0',
      '--node',
      'image-test',
    ]);
    agents.push(agent);
    await agentReady(agent);
    const port = await waitFor('the metrics port', () => metricsPort(agent));

    // The corpus's independent reference for this file, not kernwatch's own parse.
    const expected = readFileSync(join(CORPUS, 'expected-denials.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.file === FIXTURE)
      .map((e) => ({ auditId: e.auditId, pid: e.pid, syscall: e.syscall, action: e.action }));
    expect(expected).toHaveLength(10);
    const events = await waitFor('the denials on stdout', () => {
      const got = eventsIn(agent.stdout());
      return got.length >= expected.length ? got : undefined;
    });
    expect(
      events.map((e) => ({
        auditId: e.auditId,
        pid: e.process.pid,
        syscall: e.seccomp?.syscall,
        action: e.seccomp?.action,
      })),
    ).toEqual(expected);
    expect(events.every((e) => e.node === 'image-test' && e.kind === 'seccomp')).toBe(true);

    expect(await get(port, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    expect(await get(port, '/readyz')).toEqual({ status: 200, body: 'ready\n' });
    expect(await agent.stop('SIGTERM')).toBe(0);
    expect(agent.stderr()).not.toMatch(/^\s+at /m);
  });
});
