import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCommand } from './prerequisites.js';
import { stopByPid } from './stop-process.js';
import { waitUntil } from './wait.js';

export const hasNatsServer = hasCommand('nats-server', 'nats-server');

/** How clients must authenticate; at most one scheme per server, as in a real deployment. */
export type NatsServerAuth =
  | { user: string; password: string }
  | { token: string }
  /** The public key (starts with U) of the user nkey whose seed clients sign with. */
  | { nkey: string };

export interface NatsServerTls {
  certFile: string;
  keyFile: string;
  /** Clients must present a certificate signed by this CA. */
  caFile?: string;
  verify?: boolean;
}

export interface NatsServerOptions {
  auth?: NatsServerAuth;
  tls?: NatsServerTls;
  /** JetStream store; a new temp dir by default, removed by `remove()`. */
  storeDir?: string;
  /** Limit of the JetStream file store, e.g. '64M'. */
  maxFileStore?: string;
}

/**
 * Debian's nats-server 2.9 with JetStream on loopback, configured through a file (auth and TLS cannot be
 * given as flags together). The port and store stay the same across `kill()` + `start()`, so a test can
 * take the server away and bring it back with its stream intact, as an operator's restart would.
 */
export class NatsServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private running = false;

  private constructor(
    readonly port: number,
    readonly monitorPort: number,
    readonly dir: string,
    private readonly options: NatsServerOptions,
  ) {}

  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    const dir = await mkdtemp(join(tmpdir(), 'kernwatch-nats-'));
    const server = new NatsServer(await freePort(), await freePort(), dir, options);
    await server.start();
    return server;
  }

  get url(): string {
    return `${this.options.tls === undefined ? 'nats' : 'tls'}://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get storeDir(): string {
    return this.options.storeDir ?? join(this.dir, 'store');
  }

  async start(): Promise<void> {
    if (this.running) return;
    const configPath = join(this.dir, 'nats.conf');
    await writeFile(configPath, this.config());
    const child = spawn('nats-server', ['-c', configPath], { stdio: ['ignore', 'ignore', 'ignore'] });
    this.child = child;
    this.running = true;
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        this.running = false;
        resolve();
      });
    });
    await waitUntil(
      'nats-server to report healthy',
      async () => {
        if (!this.running) throw new Error(`nats-server exited at start:\n${await this.log()}`);
        return this.healthy();
      },
      10_000,
    );
  }

  /** SIGKILL: the server gets no chance to flush or say goodbye, like a crashed pod. */
  async kill(): Promise<void> {
    if (!this.running || this.child?.pid === undefined) return;
    process.kill(this.child.pid, 'SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    await stopByPid(pid, this.exited, () => this.running);
  }

  /** Stops the server and removes its directory. */
  async remove(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  async log(): Promise<string> {
    return readFile(join(this.dir, 'nats.log'), 'utf8').catch(() => '');
  }

  private async healthy(): Promise<boolean> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.monitorPort}/healthz?js-enabled-only=true`);
      return res.ok;
    } catch {
      return false;
    }
  }

  private config(): string {
    const o = this.options;
    const lines = [
      `host: 127.0.0.1`,
      `port: ${this.port}`,
      `http: 127.0.0.1:${this.monitorPort}`,
      `log_file: ${JSON.stringify(join(this.dir, 'nats.log'))}`,
      `jetstream { store_dir: ${JSON.stringify(this.storeDir)}${
        o.maxFileStore === undefined ? '' : `, max_file_store: ${o.maxFileStore}`
      } }`,
    ];
    const auth = o.auth;
    if (auth !== undefined) {
      if ('user' in auth)
        lines.push(
          `authorization { user: ${JSON.stringify(auth.user)}, password: ${JSON.stringify(auth.password)} }`,
        );
      else if ('token' in auth) lines.push(`authorization { token: ${JSON.stringify(auth.token)} }`);
      else lines.push(`authorization { users: [ { nkey: ${JSON.stringify(auth.nkey)} } ] }`);
    }
    const tls = o.tls;
    if (tls !== undefined) {
      const parts = [
        `cert_file: ${JSON.stringify(tls.certFile)}`,
        `key_file: ${JSON.stringify(tls.keyFile)}`,
      ];
      if (tls.caFile !== undefined) parts.push(`ca_file: ${JSON.stringify(tls.caFile)}`);
      if (tls.verify === true) parts.push('verify: true');
      lines.push(`tls { ${parts.join(', ')} }`);
    }
    return `${lines.join('\n')}\n`;
  }
}

/** A loopback port nobody listens on right now (the kernel picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => {
        resolve(port);
      });
    });
  });
}
