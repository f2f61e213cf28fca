import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { findRepoRoot } from '../../bench/audit-log-generator.js';
import {
  buildDockerfile,
  dockerignoreMatcher,
  parseDockerfile,
  type BuildOptions,
} from '../../helpers/dockerfile-build.js';

// The Dockerfile interpreter of the image test: it must refuse, with the line, whatever it would not
// execute the way Docker does, rather than pass over it.

describe('parseDockerfile', () => {
  test("reads kernwatch's Dockerfile: continuation lines joined, comments dropped even inside them", () => {
    const ins = parseDockerfile(readFileSync(join(findRepoRoot(), 'Dockerfile'), 'utf8'));
    expect(new Set(ins.map((i) => i.keyword))).toEqual(
      new Set(['FROM', 'WORKDIR', 'COPY', 'RUN', 'LABEL', 'USER', 'ENTRYPOINT', 'CMD']),
    );
    const run = ins.find((i) => i.keyword === 'RUN' && i.args.includes('nftables'));
    expect(run?.args).not.toContain('\n');
    expect(run?.args).not.toContain('#');
  });

  test('a comment line inside a continued RUN is dropped, as Docker drops it', () => {
    const [, run] = parseDockerfile('FROM x AS a\nRUN echo a \\\n  # not a command\n  && echo b\n');
    expect(run?.args).toBe('echo a   && echo b');
  });

  test.each([
    ['ADD', 'ADD a.tgz /x'],
    ['ARG', 'ARG VERSION=1'],
    ['ENV', 'ENV A=b'],
    ['EXPOSE', 'EXPOSE 9090'],
    ['HEALTHCHECK', 'HEALTHCHECK CMD true'],
    ['VOLUME', 'VOLUME /data'],
    ['SHELL', 'SHELL ["/bin/bash", "-c"]'],
    ['ONBUILD', 'ONBUILD RUN true'],
    ['STOPSIGNAL', 'STOPSIGNAL SIGINT'],
    ['MAINTAINER', 'MAINTAINER someone'],
    ['FORM', 'FORM typo'],
  ])('refuses the instruction %s with its line', (keyword, line) => {
    expect(() => parseDockerfile(`FROM node:20 AS a\n\n${line}\n`)).toThrow(
      `Dockerfile line 3: instruction ${keyword} is not supported by this build`,
    );
  });

  test.each([
    ['COPY --chown=1:1 a b', 'COPY --chown is not supported'],
    ['COPY --link a b', 'COPY --link is not supported'],
    ['COPY --chmod=755 a b', 'COPY --chmod is not supported'],
    ['RUN --mount=type=cache,target=/root/.npm npm ci', 'RUN --mount is not supported'],
    ['RUN --network=none true', 'RUN --network is not supported'],
    ['COPY --from a b', 'COPY --from needs a value'],
  ])('refuses an unknown or incomplete flag: %s', (line, message) => {
    expect(() => parseDockerfile(`FROM node:20 AS a\n${line}\n`)).toThrow(`Dockerfile line 2: ${message}`);
  });

  test('refuses FROM --platform', () => {
    expect(() => parseDockerfile('FROM --platform=linux/arm64 node:20 AS a\n')).toThrow(
      'FROM --platform is not supported',
    );
  });

  test('refuses the escape directive, here-documents and variable substitution', () => {
    expect(() => parseDockerfile('# escape=`\nFROM node:20\n')).toThrow("parser directive 'escape'");
    expect(() => parseDockerfile('FROM node:20\nRUN <<EOF\ntrue\nEOF\n')).toThrow('here-documents');
    expect(() => parseDockerfile('FROM node:20\nWORKDIR $HOME\n')).toThrow('variable substitution');
  });

  test('refuses a file that does not start with FROM or ends inside a continuation', () => {
    expect(() => parseDockerfile('WORKDIR /a\nFROM node:20\n')).toThrow('the first instruction must be FROM');
    expect(() => parseDockerfile('FROM node:20\nRUN true \\\n')).toThrow('ends in a line continuation');
  });
});

describe('dockerignoreMatcher', () => {
  test('an allowlist: everything excluded, then files and directories admitted again', () => {
    const ignored = dockerignoreMatcher('*\n!package.json\n!scripts/build.mjs\n!agent/\n');
    expect(ignored('package.json')).toBe(false);
    expect(ignored('agent/cli/main.ts')).toBe(false);
    expect(ignored('scripts/build.mjs')).toBe(false);
    expect(ignored('scripts/other.sh')).toBe(true);
    expect(ignored('node_modules/x/index.js')).toBe(true);
    expect(ignored('.git/config')).toBe(true);
  });

  test('** spans directories, the last matching rule wins, a leading / is the context root', () => {
    const ignored = dockerignoreMatcher('**/*.map\n!keep/**/*.map\n/dist\n');
    expect(ignored('a/b/c.js.map')).toBe(true);
    expect(ignored('c.js.map')).toBe(true);
    expect(ignored('keep/x/c.js.map')).toBe(false);
    expect(ignored('dist/agent/main.js')).toBe(true);
    expect(ignored('src/dist/main.js')).toBe(false);
  });

  test('refuses character classes and patterns that leave the context', () => {
    expect(() => dockerignoreMatcher('[ab].txt\n')).toThrow('unsupported pattern');
    expect(() => dockerignoreMatcher('../secret\n')).toThrow('leaves the context');
  });
});

describe('buildDockerfile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-dockerfile-unit-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  let n = 0;
  const setup = (dockerfile: string, files: Record<string, string> = {}): BuildOptions => {
    const base = join(dir, String(n++));
    const context = join(base, 'context');
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(context, path, '..'), { recursive: true });
      writeFileSync(join(context, path), text);
    }
    mkdirSync(context, { recursive: true });
    writeFileSync(join(context, 'Dockerfile'), dockerfile);
    return {
      dockerfile: join(context, 'Dockerfile'),
      context,
      scratch: join(base, 'scratch'),
      env: { PATH: process.env.PATH },
    };
  };

  test('stages in their own directories: COPY from the context and --from a stage, RUN in WORKDIR', async () => {
    const options = setup(
      [
        'FROM node:20 AS build',
        'WORKDIR /src',
        'COPY src/ src/',
        'COPY package.json ./',
        'RUN cat src/a.txt package.json > out.txt',
        'FROM node:20 AS runtime',
        'RUN apt-get install -y something',
        'WORKDIR /app',
        'COPY --from=build /src/out.txt /src/src/ ./',
        'LABEL a="x y" b=z',
        'USER root',
        'ENTRYPOINT ["node", "/app/main.js"]',
        'CMD ["run"]',
      ].join('\n'),
      {
        '.dockerignore': '*\n!src/\n!package.json\nsrc/**/*.secret\n',
        'src/a.txt': 'A\n',
        'src/b.secret': 'S\n',
        'package.json': '{}\n',
        'other.txt': 'O\n',
      },
    );
    const result = await buildDockerfile({
      ...options,
      skipRun: ({ stage, command }) =>
        stage === 'runtime' && command.startsWith('apt-get') ? 'no apt' : undefined,
    });
    expect(result.stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    const app = join(result.final.root, 'app');
    expect(readFileSync(join(app, 'out.txt'), 'utf8')).toBe('A\n{}\n');
    expect(existsSync(join(app, 'a.txt'))).toBe(true);
    expect(existsSync(join(app, 'b.secret'))).toBe(false);
    expect(existsSync(join(result.stages[0]?.root ?? '', 'src/other.txt'))).toBe(false);
    expect(result.final).toMatchObject({
      workdir: '/app',
      user: 'root',
      entrypoint: ['node', '/app/main.js'],
      cmd: ['run'],
      labels: { a: 'x y', b: 'z' },
    });
    expect(result.steps.filter((s) => s.outcome === 'skipped')).toMatchObject([
      { stage: 'runtime', keyword: 'RUN', reason: 'no apt' },
    ]);
  });

  test.each([
    ['RUN rm -rf /usr/local/lib', "RUN names '/usr/local/lib'"],
    ['RUN cat $HOME/x', "RUN names '$HOME/x'"],
    ['RUN cp a ../b', "RUN names '../b'"],
    ['RUN ["npm", "ci"]', 'RUN in exec form is not supported'],
  ])('refuses a RUN step it cannot keep inside the stage: %s', async (line, message) => {
    await expect(buildDockerfile(setup(`FROM node:20 AS a\n${line}\n`))).rejects.toThrow(
      `Dockerfile line 2: ${message}`,
    );
  });

  test('refuses COPY from an unknown stage, of an excluded file, and FROM an earlier stage', async () => {
    await expect(buildDockerfile(setup('FROM node:20 AS a\nCOPY --from=nope /x ./\n'))).rejects.toThrow(
      'COPY --from=nope: no earlier stage has that name',
    );
    await expect(
      buildDockerfile(
        setup('FROM node:20 AS a\nCOPY x.txt ./\n', { '.dockerignore': '*.txt\n', 'x.txt': '' }),
      ),
    ).rejects.toThrow('COPY x.txt: excluded by .dockerignore');
    await expect(buildDockerfile(setup('FROM node:20 AS a\nFROM a AS b\n'))).rejects.toThrow(
      'FROM an earlier stage (a) is not supported',
    );
  });

  test('refuses ENTRYPOINT and CMD in shell form, which would need a shell in the image', async () => {
    await expect(buildDockerfile(setup('FROM node:20 AS a\nENTRYPOINT node main.js\n'))).rejects.toThrow(
      'ENTRYPOINT must be in exec form',
    );
    await expect(buildDockerfile(setup('FROM node:20 AS a\nCMD run\n'))).rejects.toThrow(
      'CMD must be in exec form',
    );
  });

  test("an ENTRYPOINT drops the base image's CMD but keeps one the stage set before it", async () => {
    const after = await buildDockerfile(setup('FROM node:20 AS a\nENTRYPOINT ["node"]\n'));
    expect(after.final.cmd).toEqual([]);
    const before = await buildDockerfile(setup('FROM node:20 AS a\nCMD ["run"]\nENTRYPOINT ["node"]\n'));
    expect(before.final.cmd).toEqual(['run']);
    const neither = await buildDockerfile(setup('FROM node:20 AS a\n'));
    expect(neither.final).toMatchObject({ entrypoint: undefined, cmd: undefined, user: undefined });
  });

  test('a failing RUN step fails the build with its output', async () => {
    await expect(buildDockerfile(setup('FROM node:20 AS a\nRUN echo broken >&2; exit 3\n'))).rejects.toThrow(
      /RUN echo broken >&2; exit 3 exited 3:\nbroken/,
    );
  });
});
