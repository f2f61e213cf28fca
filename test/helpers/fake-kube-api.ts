import { randomBytes, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseFieldSelector, parseLabelSelector, type Matcher } from './fake-kube-selectors.js';
import {
  apiVersionOf,
  objectKey,
  ResourceStore,
  ResourceVersionClock,
  WATCH_EVENT,
  type KubeObject,
  type ResourceType,
  type StoredChange,
} from './fake-kube-store.js';

export type { KubeObject, KubeObjectMeta, OwnerReference, ResourceType } from './fake-kube-store.js';

/**
 * A Kubernetes API server for tests, in process, on 127.0.0.1 and a random port (nothing real can run
 * here). It behaves like the real one where a client can tell: bearer-token auth (401), list with
 * fieldSelector / labelSelector / resourceVersion (+ Match) / limit + continue, watch with resourceVersion,
 * allowWatchBookmarks and timeoutSeconds as newline-delimited WatchEvents, 410 Expired for history it no
 * longer holds, 404 / 400 / 405 / 504 Status objects with the real messages, field-selector transitions
 * (an object leaving a watch's selector arrives as DELETED). Resources are declared as data
 * (`ResourceType`); only pods are registered so far, and only GET verbs are served.
 */

export const PODS: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'pods',
  kind: 'Pod',
  listKind: 'PodList',
  namespaced: true,
  // pkg/registry/core/pod strategy: the selectable fields of a pod.
  fields: {
    'metadata.name': (o) => o.metadata.name,
    'metadata.namespace': (o) => o.metadata.namespace ?? '',
    'spec.nodeName': (o) => stringAt(o, 'spec', 'nodeName'),
    'spec.restartPolicy': (o) => stringAt(o, 'spec', 'restartPolicy'),
    'spec.schedulerName': (o) => stringAt(o, 'spec', 'schedulerName'),
    'spec.serviceAccountName': (o) => stringAt(o, 'spec', 'serviceAccountName'),
    'spec.hostNetwork': (o) => String(record(o.spec).hostNetwork === true),
    'status.phase': (o) => stringAt(o, 'status', 'phase'),
    'status.podIP': (o) => stringAt(o, 'status', 'podIP'),
    'status.nominatedNodeName': (o) => stringAt(o, 'status', 'nominatedNodeName'),
  },
  fieldAliases: { 'spec.host': 'spec.nodeName' },
};

/** Verbs as the API server's RequestInfo names them. */
export const KUBE_VERB = {
  get: 'get',
  list: 'list',
  watch: 'watch',
  create: 'create',
  update: 'update',
  patch: 'patch',
  delete: 'delete',
  deletecollection: 'deletecollection',
} as const;
export type KubeVerb = (typeof KUBE_VERB)[keyof typeof KUBE_VERB];

export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: Record<string, unknown>;
  code: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  verb: KubeVerb | undefined;
  resource: string | undefined;
  status: number;
}

export interface FakeKubeApiOptions {
  /** The bearer token clients must send. Default: random. */
  token?: string;
  /** Changes kept for watches; older ones are compacted away (then 410). Default 1000. */
  historyLimit?: number;
}

interface Watcher {
  store: ResourceStore;
  namespace: string | undefined;
  matches: (object: KubeObject) => boolean;
  bookmarks: boolean;
  response: ServerResponse;
  timer?: NodeJS.Timeout;
}

interface InjectedFailure {
  verb: KubeVerb;
  resource: string;
  status: KubeStatus;
}

interface Route {
  type: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
}

export class FakeKubeApi {
  readonly token: string;
  readonly requests: RecordedRequest[] = [];
  private readonly server: Server;
  private readonly clock = new ResourceVersionClock();
  private readonly stores = new Map<string, ResourceStore>();
  private readonly watchers = new Set<Watcher>();
  private readonly failures: InjectedFailure[] = [];
  private readonly historyLimit: number;
  private port = 0;

  private constructor(options: FakeKubeApiOptions) {
    this.token = options.token ?? randomBytes(16).toString('hex');
    this.historyLimit = options.historyLimit ?? 1000;
    this.register(PODS);
    this.server = createServer((req, res) => {
      this.handle(req, res);
    });
  }

  static async start(options: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
    const api = new FakeKubeApi(options);
    await new Promise<void>((resolve, reject) => {
      api.server.once('error', reject);
      api.server.listen(0, '127.0.0.1', () => {
        resolve();
      });
    });
    api.port = (api.server.address() as AddressInfo).port;
    return api;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The current (global) resourceVersion. */
  get resourceVersion(): string {
    return String(this.clock.now);
  }

  /** Open watch streams. */
  get watchCount(): number {
    return this.watchers.size;
  }

  /** Declares another resource type (Events, NetworkPolicies… later). */
  register(type: ResourceType): void {
    const store = new ResourceStore(type);
    store.onChange((change) => {
      this.dispatch(store, change);
    });
    this.stores.set(routeKey(type.group, type.version, type.plural), store);
  }

  // ---- test controls -------------------------------------------------------------------------------

  /** Creates a pod as the API server would store it (uid, resourceVersion, creationTimestamp set). */
  createPod(pod: KubeObject): KubeObject {
    return this.create(PODS, pod);
  }

  updatePod(namespace: string, name: string, mutate: (pod: KubeObject) => void): KubeObject {
    return this.update(PODS, namespace, name, mutate);
  }

  deletePod(namespace: string, name: string): KubeObject {
    return this.delete(PODS, namespace, name);
  }

  getPod(namespace: string, name: string): KubeObject | undefined {
    return this.storeOf(PODS).get(namespace, name);
  }

  create(type: ResourceType, input: KubeObject): KubeObject {
    const store = this.storeOf(type);
    const object = structuredClone(input);
    if (type.namespaced) object.metadata.namespace ??= 'default';
    else delete object.metadata.namespace;
    if (store.get(object.metadata.namespace, object.metadata.name) !== undefined) {
      throw new Error(
        `${type.plural} ${objectKey(object.metadata.namespace, object.metadata.name)} already exists`,
      );
    }
    delete object.apiVersion;
    delete object.kind;
    object.metadata.uid ??= randomUUID();
    object.metadata.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    object.metadata.resourceVersion = String(this.clock.next());
    store.apply({ type: WATCH_EVENT.added, rv: this.clock.now, object });
    this.compactToLimit(store);
    return structuredClone(object);
  }

  update(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    mutate: (o: KubeObject) => void,
  ): KubeObject {
    const store = this.storeOf(type);
    const previous = store.get(namespace, name);
    if (previous === undefined) throw new Error(`${type.plural} ${objectKey(namespace, name)} not found`);
    const object = structuredClone(previous);
    mutate(object);
    // Identity is immutable on a real server.
    object.metadata.name = previous.metadata.name;
    if (previous.metadata.uid !== undefined) object.metadata.uid = previous.metadata.uid;
    if (previous.metadata.namespace === undefined) delete object.metadata.namespace;
    else object.metadata.namespace = previous.metadata.namespace;
    object.metadata.resourceVersion = String(this.clock.next());
    store.apply({ type: WATCH_EVENT.modified, rv: this.clock.now, object, previous });
    this.compactToLimit(store);
    return structuredClone(object);
  }

  delete(type: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const store = this.storeOf(type);
    const previous = store.get(namespace, name);
    if (previous === undefined) throw new Error(`${type.plural} ${objectKey(namespace, name)} not found`);
    const object = structuredClone(previous);
    // The DELETED event carries the deletion's resourceVersion.
    object.metadata.resourceVersion = String(this.clock.next());
    store.apply({ type: WATCH_EVENT.deleted, rv: this.clock.now, object, previous });
    this.compactToLimit(store);
    return structuredClone(object);
  }

  /** Forgets all history up to now, like an etcd compaction: resuming from an older version is 410. */
  compactHistory(): void {
    for (const store of this.stores.values()) store.compact(this.clock.now);
  }

  /** Sends a BOOKMARK at the current resourceVersion to every watch that asked for bookmarks. */
  sendBookmarks(): void {
    for (const watcher of this.watchers) {
      if (!watcher.bookmarks) continue;
      const type = watcher.store.type;
      writeEvent(watcher.response, 'BOOKMARK', {
        kind: type.kind,
        apiVersion: apiVersionOf(type),
        metadata: { resourceVersion: this.resourceVersion },
      });
    }
  }

  /** Ends every watch stream cleanly, as an API server restart or a proxy's idle timeout does. */
  closeWatches(): void {
    for (const watcher of [...this.watchers]) this.endWatch(watcher);
  }

  /** Answers the next request with this verb on this resource with `code` (e.g. 500, 403, 429). */
  failNext(verb: KubeVerb, code: number, reason: string, message: string, resource = PODS.plural): void {
    this.failures.push({ verb, resource, status: kubeStatus(code, reason, message) });
  }

  /** Requests seen with this verb on this resource (failed ones included). */
  count(verb: KubeVerb, resource = PODS.plural): number {
    return this.requests.filter((r) => r.verb === verb && r.resource === resource).length;
  }

  /**
   * A kubeconfig (JSON, which is YAML) that points a client at this server with its token. The fake
   * speaks plain HTTP on loopback; client-node refuses http:// unless TLS verification is switched off.
   */
  kubeconfig(): string {
    return JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'fake', user: { token: this.token } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake', namespace: 'default' } }],
      'current-context': 'fake',
    });
  }

  async writeKubeconfig(path: string): Promise<void> {
    await writeFile(path, this.kubeconfig(), { mode: 0o600 });
  }

  async close(): Promise<void> {
    this.closeWatches();
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
      this.server.closeAllConnections();
    });
  }

  // ---- HTTP ----------------------------------------------------------------------------------------

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      verb: undefined,
      resource: undefined,
      status: 200,
    };
    this.requests.push(recorded);
    const reply = (status: KubeStatus): void => {
      recorded.status = status.code;
      sendJson(res, status.code, status);
    };

    if (req.headers.authorization !== `Bearer ${this.token}`) {
      reply(kubeStatus(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    const route = this.route(url.pathname);
    if (route === undefined) {
      reply(kubeStatus(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    const watch = query.watch !== undefined && parseBool(query.watch);
    const verb = verbOf(req.method ?? 'GET', route.name !== undefined, watch === true);
    recorded.verb = verb;
    recorded.resource = route.type.plural;
    if (watch === undefined) {
      reply(kubeStatus(400, 'BadRequest', `invalid boolean value for watch: ${query.watch ?? ''}`));
      return;
    }
    const injected = this.failures.findIndex((f) => f.verb === verb && f.resource === route.type.plural);
    if (injected >= 0) {
      const [failure] = this.failures.splice(injected, 1);
      if (failure !== undefined) reply(failure.status);
      return;
    }
    if (verb !== KUBE_VERB.get && verb !== KUBE_VERB.list && verb !== KUBE_VERB.watch) {
      reply(
        kubeStatus(
          405,
          'MethodNotAllowed',
          'the server does not allow this method on the requested resource',
        ),
      );
      return;
    }
    const store = this.storeOf(route.type);
    if (verb === KUBE_VERB.get) {
      const object = store.get(route.namespace, route.name ?? '');
      if (object === undefined) {
        reply(
          kubeStatus(404, 'NotFound', `${route.type.plural} "${route.name ?? ''}" not found`, {
            name: route.name,
            kind: route.type.plural,
          }),
        );
        return;
      }
      sendJson(res, 200, withKind(route.type, object));
      return;
    }
    const selector = this.selectorFor(route, query);
    if ('message' in selector) {
      reply(kubeStatus(400, 'BadRequest', selector.message));
      return;
    }
    const failure =
      verb === KUBE_VERB.list
        ? this.list(store, route, selector.matches, query, res)
        : this.watch(store, route, selector.matches, query, res);
    if (failure !== undefined) reply(failure);
  }

  private route(pathname: string): Route | undefined {
    const parts = pathname.split('/').filter((p) => p !== '');
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === 'api' && parts.length >= 2) {
      group = '';
      version = parts[1] ?? '';
      rest = parts.slice(2);
    } else if (parts[0] === 'apis' && parts.length >= 3) {
      group = parts[1] ?? '';
      version = parts[2] ?? '';
      rest = parts.slice(3);
    } else {
      return undefined;
    }
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    if (rest.length < 1 || rest.length > 2) return undefined;
    const store = this.stores.get(routeKey(group, version, rest[0] ?? ''));
    if (store === undefined) return undefined;
    const name = rest[1];
    // A namespaced object is only addressable inside its namespace; the cluster-wide path lists.
    if (name !== undefined && store.type.namespaced && namespace === undefined) return undefined;
    if (!store.type.namespaced && namespace !== undefined) return undefined;
    return { type: store.type, namespace, name };
  }

  private selectorFor(
    route: Route,
    query: Record<string, string>,
  ): { matches: (object: KubeObject) => boolean } | { message: string } {
    const labels = parseLabelSelector(query.labelSelector);
    if (!labels.ok) return { message: labels.message };
    const fields = parseFieldSelector(query.fieldSelector);
    if (!fields.ok) return { message: fields.message };
    const type = route.type;
    for (const field of fields.fields) {
      const canonical = type.fieldAliases?.[field] ?? field;
      if (type.fields[canonical] === undefined) return { message: `field label not supported: ${field}` };
    }
    const namespace = route.namespace;
    // A watch on one object's path (…/pods/NAME?watch=1) sees only that object.
    const name = route.name;
    const matchLabels: Matcher = labels.match;
    const matchFields: Matcher = fields.match;
    return {
      matches: (object) => {
        if (namespace !== undefined && object.metadata.namespace !== namespace) return false;
        if (name !== undefined && object.metadata.name !== name) return false;
        const objectLabels = object.metadata.labels ?? {};
        if (!matchLabels((key) => objectLabels[key])) return false;
        return matchFields((field) => {
          const extract = type.fields[type.fieldAliases?.[field] ?? field];
          return extract === undefined ? undefined : extract(object);
        });
      },
    };
  }

  private list(
    store: ResourceStore,
    route: Route,
    matches: (object: KubeObject) => boolean,
    query: Record<string, string>,
    res: ServerResponse,
  ): KubeStatus | undefined {
    const rvParam = query.resourceVersion ?? '';
    const rvMatch = query.resourceVersionMatch ?? '';
    const continueToken = query.continue ?? '';
    let listRv = this.clock.now;
    let start = '';
    let objects: [string, KubeObject][];

    if (continueToken !== '') {
      if (rvParam !== '') {
        return kubeStatus(
          400,
          'BadRequest',
          'specifying resource version is not allowed when using continue',
        );
      }
      const token = decodeContinue(continueToken);
      if (token === undefined)
        return kubeStatus(400, 'BadRequest', 'continue key is not valid: malformed token');
      if (token.rv < store.compactedResourceVersion) {
        return kubeStatus(410, 'Expired', CONTINUE_EXPIRED_MESSAGE);
      }
      listRv = token.rv;
      start = token.start;
      objects = store.at(token.rv);
    } else {
      if (rvMatch !== '' && rvParam === '') {
        return kubeStatus(
          400,
          'BadRequest',
          'resourceVersionMatch is forbidden unless resourceVersion is provided',
        );
      }
      if (rvMatch !== '' && rvMatch !== 'Exact' && rvMatch !== 'NotOlderThan') {
        return kubeStatus(400, 'BadRequest', `resourceVersionMatch: Unsupported value: "${rvMatch}"`);
      }
      if (rvMatch === 'Exact' && rvParam === '0') {
        return kubeStatus(
          400,
          'BadRequest',
          'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
        );
      }
      const rv = rvParam === '' ? 0 : parseResourceVersion(rvParam);
      if (rv === undefined) return kubeStatus(400, 'BadRequest', `invalid resource version: ${rvParam}`);
      if (rv > this.clock.now) return tooLargeResourceVersion(rv, this.clock.now);
      if (rvMatch === 'Exact') {
        if (rv < store.compactedResourceVersion)
          return tooOldResourceVersion(rv, store.compactedResourceVersion);
        listRv = rv;
        objects = store.at(rv);
      } else {
        objects = store.current();
      }
    }

    const selected = objects.filter(([key, object]) => key > start && matches(object));
    const limit = query.limit === undefined ? 0 : Number(query.limit);
    const page = limit > 0 ? selected.slice(0, limit) : selected;
    const metadata: Record<string, unknown> = { resourceVersion: String(listRv) };
    if (page.length < selected.length) {
      const [lastKey] = page[page.length - 1] ?? [''];
      metadata.continue = encodeContinue(listRv, `${lastKey}\u0000`);
      // The count is unknown to the server when a selector filtered the list.
      if (query.labelSelector === undefined && query.fieldSelector === undefined) {
        metadata.remainingItemCount = selected.length - page.length;
      }
    }
    sendJson(res, 200, {
      kind: route.type.listKind,
      apiVersion: apiVersionOf(route.type),
      metadata,
      // List items carry no kind/apiVersion, as on the real server.
      items: page.map(([, object]) => object),
    });
    return undefined;
  }

  private watch(
    store: ResourceStore,
    route: Route,
    matches: (object: KubeObject) => boolean,
    query: Record<string, string>,
    res: ServerResponse,
  ): KubeStatus | undefined {
    if (query.sendInitialEvents !== undefined) {
      return kubeStatus(400, 'BadRequest', 'sendInitialEvents is not supported by this fake API server');
    }
    const rvParam = query.resourceVersion ?? '';
    const bookmarks = parseBool(query.allowWatchBookmarks ?? 'false') === true;
    const timeoutSeconds = query.timeoutSeconds === undefined ? undefined : Number(query.timeoutSeconds);
    let replay: StoredChange[] | undefined;
    let expired: KubeStatus | undefined;
    if (rvParam !== '' && rvParam !== '0') {
      const rv = parseResourceVersion(rvParam);
      if (rv === undefined) return kubeStatus(400, 'BadRequest', `invalid resource version: ${rvParam}`);
      if (rv > this.clock.now) return tooLargeResourceVersion(rv, this.clock.now);
      if (rv < store.compactedResourceVersion)
        expired = tooOldResourceVersion(rv, store.compactedResourceVersion);
      else replay = store.changesSince(rv);
    }

    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    if (expired !== undefined) {
      // The real server accepts the watch, then sends the 410 as an ERROR event and ends the stream.
      writeEvent(res, 'ERROR', expired);
      res.end();
      return undefined;
    }
    const watcher: Watcher = { store, namespace: route.namespace, matches, bookmarks, response: res };
    if (replay === undefined) {
      // No resourceVersion (or "0"): the current state as synthetic ADDED events, then the changes.
      for (const [, object] of store.current()) {
        if (matches(object)) writeEvent(res, WATCH_EVENT.added, withKind(route.type, object));
      }
    } else {
      for (const change of replay) this.send(watcher, change);
    }
    this.watchers.add(watcher);
    res.on('close', () => {
      clearTimeout(watcher.timer);
      this.watchers.delete(watcher);
    });
    if (timeoutSeconds !== undefined && timeoutSeconds > 0) {
      watcher.timer = setTimeout(() => {
        this.endWatch(watcher);
      }, timeoutSeconds * 1000);
    }
    return undefined;
  }

  private dispatch(store: ResourceStore, change: StoredChange): void {
    for (const watcher of this.watchers) if (watcher.store === store) this.send(watcher, change);
  }

  /** One change as this watcher sees it through its selectors (the cacher's filtering). */
  private send(watcher: Watcher, change: StoredChange): void {
    const type = watcher.store.type;
    const now = watcher.matches(change.object);
    const before = change.previous !== undefined && watcher.matches(change.previous);
    let eventType: string | undefined;
    if (change.type === WATCH_EVENT.added) eventType = now ? WATCH_EVENT.added : undefined;
    else if (change.type === WATCH_EVENT.deleted) eventType = before ? WATCH_EVENT.deleted : undefined;
    else if (now && before) eventType = WATCH_EVENT.modified;
    else if (now) eventType = WATCH_EVENT.added;
    else if (before) eventType = WATCH_EVENT.deleted;
    if (eventType !== undefined) writeEvent(watcher.response, eventType, withKind(type, change.object));
  }

  private endWatch(watcher: Watcher): void {
    clearTimeout(watcher.timer);
    this.watchers.delete(watcher);
    watcher.response.end();
  }

  private storeOf(type: ResourceType): ResourceStore {
    const store = this.stores.get(routeKey(type.group, type.version, type.plural));
    if (store === undefined) throw new Error(`resource ${type.plural} is not registered`);
    return store;
  }

  private compactToLimit(store: ResourceStore): void {
    const keepFrom = this.clock.now - this.historyLimit;
    if (keepFrom > store.compactedResourceVersion) store.compact(keepFrom);
  }
}

/** A pod object for `createPod`, with the fields attribution reads. */
export function fakePod(input: {
  name: string;
  namespace?: string;
  nodeName?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** The controller owner reference (ReplicaSet, StatefulSet, DaemonSet, Job…). */
  owner?: { kind: string; name: string; apiVersion?: string };
  ips?: string[];
  phase?: string;
  hostNetwork?: boolean;
}): KubeObject {
  const metadata: KubeObject['metadata'] = { name: input.name, namespace: input.namespace ?? 'default' };
  if (input.uid !== undefined) metadata.uid = input.uid;
  if (input.labels !== undefined) metadata.labels = input.labels;
  if (input.annotations !== undefined) metadata.annotations = input.annotations;
  if (input.owner !== undefined) {
    metadata.ownerReferences = [
      {
        apiVersion: input.owner.apiVersion ?? 'apps/v1',
        kind: input.owner.kind,
        name: input.owner.name,
        uid: randomUUID(),
        controller: true,
        blockOwnerDeletion: true,
      },
    ];
  }
  const ips = input.ips ?? [];
  return {
    metadata,
    spec: {
      ...(input.nodeName === undefined ? {} : { nodeName: input.nodeName }),
      ...(input.hostNetwork === undefined ? {} : { hostNetwork: input.hostNetwork }),
      containers: [{ name: 'main', image: 'registry.example/app:1' }],
      restartPolicy: 'Always',
      schedulerName: 'default-scheduler',
      serviceAccountName: 'default',
    },
    status: {
      phase: input.phase ?? 'Running',
      ...(ips[0] === undefined ? {} : { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) }),
    },
  };
}

const CONTINUE_EXPIRED_MESSAGE =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list ' +
  'without the continue parameter, or use the continue token in this response to retrieve the remainder of the ' +
  'results. Continuing with the provided token results in an inconsistent list - objects that were created, ' +
  'modified, or deleted between the time the first chunk was returned and now may show up in the list.';

function kubeStatus(
  code: number,
  reason: string,
  message: string,
  details?: Record<string, unknown>,
): KubeStatus {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details === undefined ? {} : { details }),
    code,
  };
}

function tooOldResourceVersion(rv: number, compacted: number): KubeStatus {
  return kubeStatus(410, 'Expired', `too old resource version: ${rv} (${compacted})`);
}

function tooLargeResourceVersion(rv: number, current: number): KubeStatus {
  return kubeStatus(504, 'Timeout', `Too large resource version: ${rv}, current: ${current}`, {
    causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
    retryAfterSeconds: 1,
  });
}

function verbOf(method: string, named: boolean, watch: boolean): KubeVerb {
  switch (method) {
    case 'GET':
      return watch ? KUBE_VERB.watch : named ? KUBE_VERB.get : KUBE_VERB.list;
    case 'POST':
      return KUBE_VERB.create;
    case 'PUT':
      return KUBE_VERB.update;
    case 'PATCH':
      return KUBE_VERB.patch;
    case 'DELETE':
      return named ? KUBE_VERB.delete : KUBE_VERB.deletecollection;
    default:
      return KUBE_VERB.get;
  }
}

/** Go's strconv.ParseBool, which the API server uses for query booleans. */
function parseBool(value: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return undefined;
}

function parseResourceVersion(value: string): number | undefined {
  if (!/^[0-9]+$/.test(value)) return undefined;
  const rv = Number(value);
  return Number.isSafeInteger(rv) ? rv : undefined;
}

function encodeContinue(rv: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start })).toString('base64url');
}

function decodeContinue(token: string): { rv: number; start: string } | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    const value = record(parsed);
    if (value.v !== 'meta.k8s.io/v1' || typeof value.rv !== 'number' || typeof value.start !== 'string') {
      return undefined;
    }
    return { rv: value.rv, start: value.start };
  } catch {
    return undefined;
  }
}

function withKind(type: ResourceType, object: KubeObject): KubeObject {
  return { kind: type.kind, apiVersion: apiVersionOf(type), ...object };
}

function writeEvent(res: ServerResponse, type: string, object: unknown): void {
  res.write(`${JSON.stringify({ type, object })}\n`);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function routeKey(group: string, version: string, plural: string): string {
  return `${group}/${version}/${plural}`;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function stringAt(object: KubeObject, section: string, field: string): string {
  const value = record(object[section])[field];
  return typeof value === 'string' ? value : '';
}
