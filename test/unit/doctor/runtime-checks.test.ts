import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommandResult, RunCommand } from '../../../agent/doctor/run-command.js';
import { criCheck, parseRuncVersion, runcCheck } from '../../../agent/doctor/runtime-checks.js';
import { FIXTURES } from '../../helpers/fixtures.js';

/** runc's version (from its real output on this machine) and the CRI socket check without a runtime. */

const RUNC_115 = readFileSync(join(FIXTURES, 'doctor', 'runc-version-debian12-1.1.5.txt'), 'utf8');

const answering =
  (result: CommandResult): RunCommand =>
  () =>
    Promise.resolve(result);

describe('parseRuncVersion', () => {
  it("reads Debian 12's runc 1.1.5", () => {
    expect(parseRuncVersion(RUNC_115)).toEqual({
      major: 1,
      minor: 1,
      patch: 5,
      text: '1.1.5+ds1',
      commit: '1.1.5+ds1-1+deb12u1',
      libseccomp: '2.5.4',
    });
  });

  it('reads release candidates and upstream builds, refuses anything else', () => {
    // The first line's shape is the same for every runc since 1.0 (`runc version X`); commit, spec, go and
    // libseccomp lines follow.
    const rc = RUNC_115.replace('runc version 1.1.5+ds1', 'runc version 1.2.0-rc.1');
    expect(parseRuncVersion(rc)).toMatchObject({ major: 1, minor: 2, patch: 0, text: '1.2.0-rc.1' });
    const plain = RUNC_115.replace('runc version 1.1.5+ds1', 'runc version 1.3.0');
    expect(parseRuncVersion(plain)).toMatchObject({ major: 1, minor: 3, patch: 0, text: '1.3.0' });
    expect(parseRuncVersion('crun version 1.8.1\ncommit: f8a096be\n')).toBeUndefined();
    expect(parseRuncVersion('')).toBeUndefined();
  });
});

describe('runcCheck', () => {
  it('warns about runc 1.1: profile flags are refused, only LOG and KILL profiles are logged', async () => {
    expect(await runcCheck(answering({ kind: 'exited', code: 0, stdout: RUNC_115, stderr: '' }))).toEqual({
      id: 'runc',
      status: 'warn',
      detail:
        "runc 1.1.5+ds1 (libseccomp 2.5.4) refuses seccomp profile flags: only SCMP_ACT_LOG / SCMP_ACT_KILL_* profiles are logged (ERRNO denials, like RuntimeDefault's, are silent)",
      fix: 'upgrade runc to 1.2 or later (or use crun) so that profiles with SECCOMP_FILTER_FLAG_LOG log their ERRNO denials; until then give containers Localhost profiles with SCMP_ACT_LOG',
    });
  });

  it('passes runc 1.2 and later', async () => {
    const v12 = RUNC_115.replace('runc version 1.1.5+ds1', 'runc version 1.2.4');
    const result = await runcCheck(answering({ kind: 'exited', code: 0, stdout: v12, stderr: '' }));
    expect(result).toMatchObject({ status: 'pass', fix: '' });
    expect(result.detail).toBe(
      'runc 1.2.4 (libseccomp 2.5.4): seccomp profiles may set flags [SECCOMP_FILTER_FLAG_LOG], so their ERRNO denials are logged too',
    );
  });

  it('warns "unknown" when runc is not there (a pod), hangs or fails', async () => {
    const missing = await runcCheck(answering({ kind: 'missing', reason: 'not found on PATH' }));
    expect(missing).toEqual({
      id: 'runc',
      status: 'warn',
      detail: 'unknown: runc is not found on PATH',
      fix: "run `runc --version` on the host (kernwatch's image has no runc): 1.2 or later is needed for profiles with SECCOMP_FILTER_FLAG_LOG",
    });
    expect((await runcCheck(answering({ kind: 'timeout', ms: 4000 }))).detail).toBe(
      'unknown: runc --version gave no answer within 4000 ms',
    );
    const broken = await runcCheck(
      answering({
        kind: 'exited',
        code: 127,
        stdout: '',
        stderr: 'error while loading shared libraries: libseccomp.so.2\n',
      }),
    );
    expect(broken.detail).toBe(
      'unknown: runc --version exited 127: error while loading shared libraries: libseccomp.so.2',
    );
  });
});

describe('criCheck', () => {
  let dir: string;
  let server: Server | undefined;
  const connections = new Set<Socket>();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kernwatch-doctor-cri-'));
  });

  afterEach(async () => {
    const s = server;
    server = undefined;
    if (s !== undefined) {
      for (const conn of connections) conn.destroy();
      await new Promise<void>((resolve) => {
        s.close(() => {
          resolve();
        });
      });
    }
    connections.clear();
    rmSync(dir, { recursive: true, force: true });
  });

  it('warns when no socket is configured and none of the usual ones exists', async () => {
    const candidates = [join(dir, 'containerd.sock'), join(dir, 'crio.sock')];
    expect(await criCheck({ timeoutMs: 1000, candidates })).toEqual({
      id: 'cri',
      status: 'warn',
      detail: `no CRI socket found (looked for ${candidates.join(', ')}): container names and images are unknown, pods come from cgroups and the API only`,
      fix: "mount the runtime's socket into the pod (e.g. /run/containerd/containerd.sock) or give cri.socket / --cri-socket",
    });
  });

  it('fails when the configured socket does not exist', async () => {
    const socket = join(dir, 'gone.sock');
    expect(await criCheck({ socket, timeoutMs: 1000 })).toMatchObject({
      status: 'fail',
      detail: `the configured CRI socket ${socket} does not exist`,
    });
  });

  it('fails when the socket found does not speak CRI', async () => {
    const socket = join(dir, 'containerd.sock');
    const s = createServer((conn) => {
      connections.add(conn);
      conn.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    server = s;
    await new Promise<void>((resolve) => {
      s.listen(socket, () => {
        resolve();
      });
    });
    const result = await criCheck({ timeoutMs: 1000, candidates: [join(dir, 'crio.sock'), socket] });
    expect(result.status).toBe('fail');
    expect(result.detail.startsWith(`${socket} does not answer: CRI Version on ${socket} failed: `)).toBe(
      true,
    );
    expect(result.fix).toBe(
      'check that the runtime runs (systemctl status containerd) and that kernwatch may open its socket (root, the socket mounted)',
    );
  });

  it('fails when the configured path is a plain file', async () => {
    const socket = join(dir, 'not-a-socket');
    writeFileSync(socket, '');
    expect((await criCheck({ socket, timeoutMs: 1000 })).status).toBe('fail');
  });
});
