import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { ERROR_CODES, KernwatchError } from '../errors.js';

export interface Readiness {
  /** Undefined when ready; otherwise why not, in a sentence. */
  notReadyBecause(): string | undefined;
}

/**
 * /metrics (Prometheus text), /healthz (the process answers) and /readyz (sources open, sinks accepting)
 * on `--metrics-addr`. Plain node:http: three fixed routes need no framework.
 */
export class HealthServer {
  private readonly server: Server;

  constructor(
    private readonly registry: Registry,
    private readonly readiness: Readiness,
  ) {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        const why = this.readiness.notReadyBecause();
        res
          .writeHead(why === undefined ? 200 : 503, { 'content-type': 'text/plain' })
          .end(`${why ?? 'ready'}\n`);
      } else if (path === '/metrics') {
        this.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
          (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
        );
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      }
    });
  }

  /** Listens on HOST:PORT (port 0 picks a free one); resolves with the address actually bound. */
  async listen(addr: string): Promise<{ host: string; port: number }> {
    const colon = addr.lastIndexOf(':');
    const host = addr.slice(0, colon).replace(/^\[(.*)\]$/, '$1') || '0.0.0.0';
    const port = Number(addr.slice(colon + 1));
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', (err) => {
        reject(
          new KernwatchError(ERROR_CODES.config, `Cannot serve metrics on ${addr}: ${err.message}`, {
            cause: err,
          }),
        );
      });
      this.server.listen(port, host, () => {
        resolve();
      });
    });
    const bound = this.server.address();
    return { host, port: typeof bound === 'object' && bound !== null ? bound.port : port };
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => {
        resolve();
      });
      this.server.closeAllConnections();
    });
  }
}
