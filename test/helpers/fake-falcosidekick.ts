import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * falcosidekick's HTTP input for tests, in process on 127.0.0.1 (falcosidekick cannot be installed
 * here). It answers as falcosidekick does (falcosecurity/falcosidekick, main.go routes, handlers.go
 * mainHandler + newFalcoPayload, types/types.go FalcoPayload + Check, types/priority.go):
 *
 * - routes: `/ping`, `/healthz`, `/test`, `/metrics` exactly; every other path is the main handler (a Go
 *   ServeMux "/" pattern matches everything). A path that is not clean (`//`, `/./`, `/../`) gets the
 *   ServeMux's 301 to the cleaned path before any handler runs;
 * - main handler: not POST → 400 "Please send with post http method"; a body that does not decode into
 *   FalcoPayload (not JSON, a wrong type for a known key, `time` not RFC 3339, `priority` not a string)
 *   or fails Check() (priority not one of Debug..Emergency case-insensitively, empty rule, zero time,
 *   no output_fields) → 400 "Please send a valid request body"; otherwise 200 with an empty body. Errors
 *   are written by http.Error: text/plain, the message and a newline. The content type of the request
 *   is not looked at;
 * - a non-string, non-null `k8s.ns.name` / `k8s.pod.name` output field makes the handler panic (a bare
 *   `j.(string)`); Go's server recovers and closes the connection without an answer, and so does this.
 *
 * For the sink's failure paths it also plays what can stand in front of falcosidekick: `frontAnswers`
 * are statuses a proxy answers before falcosidekick sees the request (502/503 while its pod restarts,
 * 429 from a rate limit), and `hold` keeps requests unanswered until `release()`.
 */

export interface ReceivedRequest {
  method: string;
  path: string;
  contentType: string | undefined;
  body: string;
  /** Date.now() when the request had arrived in full. */
  receivedAt: number;
  /** The status answered; 'dropped' when the connection was closed without an answer. */
  answer: number | 'dropped' | 'held';
}

const GO_PRIORITIES = new Set([
  'emergency',
  'alert',
  'critical',
  'error',
  'warning',
  'notice',
  'informational',
  'debug',
]);

/** Go's time.Time.UnmarshalJSON layout: RFC 3339 with optional fractional seconds. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;
/** time.Time{}: a payload without a time decodes to it, and Check() refuses it. */
const GO_ZERO_TIME_MS = Date.parse('0001-01-01T00:00:00Z');

export class FakeFalcosidekick {
  /** Every request, in arrival order. */
  readonly requests: ReceivedRequest[] = [];
  /** The payloads the main handler accepted, parsed, in the order they were accepted. */
  readonly alerts: Record<string, unknown>[] = [];
  /** Statuses answered (FIFO) by the pretend proxy in front, before falcosidekick sees the request. */
  frontAnswers: number[] = [];
  /** While true, requests to the main handler wait for `release()`. */
  hold = false;
  private held: (() => void)[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  /** Listens on 127.0.0.1:`port` (0: any free port). */
  static async start(port = 0): Promise<FakeFalcosidekick> {
    const server = createServer();
    const fake = new FakeFalcosidekick(server);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      fake.handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        resolve();
      });
    });
    return fake;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The base URL, `http://127.0.0.1:PORT/`. */
  get url(): string {
    return `http://127.0.0.1:${String(this.port)}/`;
  }

  /** Requests currently held (see `hold`). */
  get heldCount(): number {
    return this.held.length;
  }

  /** Answers the held requests as falcosidekick would; later ones are answered at once. */
  release(): void {
    this.hold = false;
    for (const answer of this.held.splice(0)) answer();
  }

  async stop(): Promise<void> {
    this.held = [];
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const record: ReceivedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        contentType: req.headers['content-type'],
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
        answer: 'held',
      };
      this.requests.push(record);
      // The client gave up (its timeout) before an answer: what falcosidekick would never see through.
      res.on('close', () => {
        if (record.answer === 'held') record.answer = 'dropped';
      });
      const front = this.frontAnswers.shift();
      if (front !== undefined) {
        record.answer = front;
        res.writeHead(front, { 'content-type': 'text/plain' }).end(`proxy answered ${String(front)}\n`);
        return;
      }
      const answer = (): void => {
        this.route(record, res);
      };
      if (this.hold && isMainHandler(pathOf(record.path))) this.held.push(answer);
      else answer();
    });
  }

  private route(record: ReceivedRequest, res: ServerResponse): void {
    if (record.answer === 'dropped' || res.socket === null || res.socket.destroyed) {
      record.answer = 'dropped';
      return;
    }
    const path = pathOf(record.path);
    const clean = cleanPath(path);
    if (clean !== path) {
      record.answer = 301;
      res.writeHead(301, { location: clean, 'content-type': 'text/html; charset=utf-8' });
      res.end(`<a href="${clean}">Moved Permanently</a>.\n\n`);
      return;
    }
    if (path === '/ping') {
      record.answer = 200;
      res.end('pong\n');
      return;
    }
    if (path === '/healthz') {
      record.answer = 200;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status": "ok"}');
      return;
    }
    if (record.method !== 'POST') {
      record.answer = 400;
      goHttpError(res, 'Please send with post http method', 400);
      return;
    }
    const decoded = decodeFalcoPayload(record.body);
    if (decoded === undefined || !check(decoded.payload)) {
      record.answer = 400;
      goHttpError(res, 'Please send a valid request body', 400);
      return;
    }
    const fields = decoded.payload.output_fields as Record<string, unknown>;
    for (const key of ['k8s.ns.name', 'k8s.pod.name']) {
      const v = fields[key];
      if (v !== undefined && v !== null && typeof v !== 'string') {
        record.answer = 'dropped';
        res.socket?.destroy();
        return;
      }
    }
    record.answer = 200;
    this.alerts.push(decoded.sent);
    res.writeHead(200, { 'content-length': '0' }).end();
  }
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function isMainHandler(path: string): boolean {
  return !['/ping', '/healthz', '/test', '/metrics'].includes(path);
}

/** Go's path.Clean as ServeMux applies it (a trailing slash is kept). */
function cleanPath(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  let clean = `/${out.join('/')}`;
  if (p.endsWith('/') && clean !== '/') clean += '/';
  return clean;
}

function goHttpError(res: ServerResponse, message: string, status: number): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'x-content-type-options': 'nosniff',
  });
  res.end(`${message}\n`);
}

/**
 * What json.Decoder.Decode into types.FalcoPayload accepts (`payload`, keys folded as Go matches them;
 * `sent`, the object as sent); undefined where it returns an error.
 */
function decodeFalcoPayload(
  body: string,
): { payload: Record<string, unknown>; sent: Record<string, unknown> } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  // `null` decodes to the zero payload (which then fails Check); any other non-object is a type error.
  if (value === null) return { payload: {}, sent: {} };
  if (typeof value !== 'object' || Array.isArray(value)) return undefined;
  // encoding/json matches keys case-insensitively.
  const p: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) p[k.toLowerCase()] = v;
  for (const key of ['uuid', 'output', 'rule', 'source', 'hostname', 'priority', 'time']) {
    const v = p[key];
    if (v !== undefined && v !== null && typeof v !== 'string') return undefined;
  }
  const time = p.time;
  if (typeof time === 'string' && !RFC3339.test(time)) return undefined;
  const fields = p.output_fields;
  if (fields !== undefined && fields !== null && (typeof fields !== 'object' || Array.isArray(fields)))
    return undefined;
  const tags = p.tags;
  if (tags !== undefined && tags !== null) {
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) return undefined;
  }
  return { payload: p, sent: value as Record<string, unknown> };
}

/** types.FalcoPayload.Check. */
function check(p: Record<string, unknown>): boolean {
  const priority = p.priority;
  if (typeof priority !== 'string' || !GO_PRIORITIES.has(priority.toLowerCase())) return false;
  if (typeof p.rule !== 'string' || p.rule === '') return false;
  if (typeof p.time !== 'string' || Date.parse(p.time) === GO_ZERO_TIME_MS) return false;
  const fields = p.output_fields;
  return typeof fields === 'object' && fields !== null && Object.keys(fields).length > 0;
}
