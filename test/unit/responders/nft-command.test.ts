import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  NftCommand,
  NftCommandError,
  parseNftListing,
  type NftBatchCommand,
} from '../../../agent/responders/nft/nft-command.js';

/**
 * NftCommand against stand-in binaries (shell scripts in a temp dir): what it runs, and how each way of
 * failing is reported. The real nft is in test/integration/responders/nft-quarantine.test.ts.
 */

const dir = mkdtempSync(join(tmpdir(), 'kw-nft-command-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let scripts = 0;
/** An executable `#!/bin/sh` script with `body`; returns its path. */
function script(body: string): string {
  const path = join(dir, `fake-${String(++scripts)}`);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** A script that writes its arguments, NUL-separated, to a file; and a reader of that file. */
function recorder(stdout = ''): { path: string; args: () => string[] } {
  const out = join(dir, `args-${String(scripts + 1)}`);
  const path = script(`printf '%s\\0' "$@" > '${out}'\nprintf '%s' '${stdout}'`);
  return { path, args: () => readFileSync(out, 'utf8').split('\0').slice(0, -1) };
}

/** `nft -j list tables inet` as nft 1.0.6 printed it on the test machine. */
const TABLES_LISTING =
  '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, ' +
  '{"table": {"family": "inet", "name": "kernwatch", "handle": 1}}]}';

const failureOf = (promise: Promise<unknown>): Promise<NftCommandError> =>
  promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: unknown) => {
      expect(err).toBeInstanceOf(NftCommandError);
      return err as NftCommandError;
    },
  );

describe('NftCommand', () => {
  it('passes a batch on the command line as one JSON text, one command per argument', async () => {
    const nft = recorder();
    const commands: NftBatchCommand[] = [
      { add: { table: { family: 'inet', name: 'kernwatch' } } },
      {
        delete: { element: { family: 'inet', table: 'kernwatch', name: 'quarantine4', elem: ['192.0.2.2'] } },
      },
    ];
    await new NftCommand({ binary: nft.path }).apply(commands);
    const args = nft.args();
    expect(args).toHaveLength(5);
    expect(args[0]).toBe('-j');
    // nft joins its arguments with spaces before parsing them.
    expect(JSON.parse(args.slice(1).join(' '))).toEqual({ nftables: commands });
  });

  it('runs nothing for an empty batch', async () => {
    await expect(new NftCommand({ binary: join(dir, 'missing') }).apply([])).resolves.toBeUndefined();
  });

  it('refuses a batch too large for a command line before running anything', async () => {
    const big = 'x'.repeat(130 * 1024);
    const failure = await failureOf(
      new NftCommand({ binary: join(dir, 'missing') }).apply([{ add: { table: { name: big } } }]),
    );
    expect(failure.message).toMatch(/too large for a command line/);
    expect(failure.argv).toEqual([join(dir, 'missing'), '-j', '<batch of 1 commands>']);
  });

  it('runs the prefix first, then nft with its arguments', async () => {
    const prefix = recorder(TABLES_LISTING);
    await new NftCommand({ prefix: [prefix.path, '--net=/var/run/netns/x'] }).list(['tables', 'inet']);
    expect(prefix.args()).toEqual(['--net=/var/run/netns/x', 'nft', '-j', 'list', 'tables', 'inet']);
  });

  it('parses a listing without its metainfo', async () => {
    const nft = recorder(TABLES_LISTING);
    expect(await new NftCommand({ binary: nft.path }).list(['tables', 'inet'])).toEqual([
      { kind: 'table', body: { family: 'inet', name: 'kernwatch', handle: 1 } },
    ]);
    expect(nft.args()).toEqual(['-j', 'list', 'tables', 'inet']);
  });

  it('reports output that is not a listing', async () => {
    const failure = await failureOf(
      new NftCommand({ binary: script('echo "table inet x {}"') }).list(['ruleset']),
    );
    expect(failure.message).toMatch(/^nft -j list ruleset wrote no JSON listing: /);
    expect(failure.code).toBe('response');
  });

  it("carries nft's stderr and exit status when it refuses", async () => {
    const binary = script(
      'echo "Error: No such file or directory" >&2; echo "list table inet nope" >&2; exit 1',
    );
    const failure = await failureOf(new NftCommand({ binary }).list(['table', 'inet', 'nope']));
    expect(failure.exitCode).toBe(1);
    expect(failure.stderr).toBe('Error: No such file or directory\nlist table inet nope');
    expect(failure.message).toBe(
      'nft -j list table inet nope failed (exit 1): Error: No such file or directory\nlist table inet nope',
    );
    expect(failure.argv).toEqual([binary, '-j', 'list', 'table', 'inet', 'nope']);
    expect(failure.cause).toBeInstanceOf(Error);
  });

  it('says so when the nft binary does not exist', async () => {
    const missing = join(dir, 'no-such-nft');
    const failure = await failureOf(new NftCommand({ binary: missing }).list(['tables']));
    expect(failure.message).toBe(
      `Cannot run nft -j list tables: ${missing} not found (is nftables installed and on PATH?)`,
    );
    expect(failure.exitCode).toBeUndefined();
  });

  it('ends a call that runs past its timeout', async () => {
    const failure = await failureOf(
      new NftCommand({ binary: script('exec sleep 30'), timeoutMs: 200 }).list(['ruleset']),
    );
    expect(failure.message).toBe('nft -j list ruleset did not finish within 200 ms');
  });

  it('ends a call that writes more than its output bound', async () => {
    const failure = await failureOf(
      new NftCommand({
        binary: script("head -c 100000 /dev/zero | tr '\\0' a"),
        maxOutputBytes: 1000,
      }).list(['ruleset']),
    );
    expect(failure.message).toBe('nft -j list ruleset wrote more than 1000 bytes');
  });
});

describe('parseNftListing', () => {
  it.each([
    ['not JSON', 'table inet x'],
    ['no nftables array', '{"tables": []}'],
    ['an array at the top', '[]'],
    ['an object of two keys', '{"nftables": [{"table": {}, "set": {}}]}'],
    ['a body that is not an object', '{"nftables": [{"table": "kernwatch"}]}'],
    ['an item that is not an object', '{"nftables": ["kernwatch"]}'],
  ])('rejects %s', (_what, text) => {
    expect(() => parseNftListing(text)).toThrow();
  });

  it('accepts an empty listing', () => {
    expect(parseNftListing('{"nftables": [{"metainfo": {"json_schema_version": 1}}]}')).toEqual([]);
  });
});
