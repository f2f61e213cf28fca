import { randomBytes, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeKubeAccess, SELF_SUBJECT_ACCESS_REVIEW_PATH, type AccessRule } from './fake-kube-access.js';
import { DAEMON_SETS, DEPLOYMENTS, REPLICA_SETS, STATEFUL_SETS } from './fake-kube-apps.js';
import {
  parseDeleteOptions,
  planDelete,
  rfc3339,
  shouldDeleteDuringUpdate,
  type DeleteOptions,
} from './fake-kube-delete.js';
import { EVENTS } from './fake-kube-events.js';
import { NETWORK_POLICIES } from './fake-kube-network-policies.js';
import { applyPatch } from './fake-kube-patch.js';
import { PODS } from './fake-kube-pods.js';
import { parseFieldSelector, parseLabelSelector, type Matcher } from './fake-kube-selectors.js';
import {
  conflictStatus,
  groupDetail,
  invalidStatus,
  kubeStatus,
  notFound,
  successStatus,
  type KubeStatus,
} from './fake-kube-status.js';
import {
  apiVersionOf,
  groupResourceOf,
  KUBE_VERB,
  objectKey,
  READ_ONLY_VERBS,
  ResourceStore,
  ResourceVersionClock,
  WATCH_EVENT,
  type KubeObject,
  type KubeVerb,
  type ResourceType,
  type StoredChange,
} from './fake-kube-store.js';

export type { KubeObject, KubeObjectMeta, OwnerReference, ResourceType } from './fake-kube-store.js';
export {
  FakeKubeAccess,
  SELF_SUBJECT_ACCESS_REVIEW_PATH,
  type AccessAttributes,
  type AccessDecision,
  type AccessRule,
} from './fake-kube-access.js';
export { KUBE_VERB, type KubeVerb } from './fake-kube-store.js';
export type { KubeStatus, KubeSuccessStatus } from './fake-kube-status.js';
export type { DeleteOptions } from './fake-kube-delete.js';
export { EVENTS } from './fake-kube-events.js';
export { PODS, fakePod } from './fake-kube-pods.js';
export {
  NETWORK_POLICIES,
  fakeNetworkPolicy,
  POLICY_TYPE,
  type PolicyType,
} from './fake-kube-network-policies.js';
export {
  DAEMON_SETS,
  DEPLOYMENTS,
  REPLICA_SETS,
  STATEFUL_SETS,
  fakeDaemonSet,
  fakeDeployment,
  fakeReplicaSet,
  fakeStatefulSet,
  type DaemonSetInput,
  type ReplicatedInput,
  type WorkloadInput,
} from './fake-kube-apps.js';

/**
 * A Kubernetes API server for tests, in process, on 127.0.0.1 and a random port (nothing real can run
 * here). It behaves like the real one (v1.28-v1.31) where a client can tell: bearer-token auth (401), list
 * with fieldSelector / labelSelector / resourceVersion (+ Match) / limit + continue, watch with
 * resourceVersion, allowWatchBookmarks and timeoutSeconds as newline-delimited WatchEvents, 410 Expired for
 * history it no longer holds, 404 / 400 / 405 / 504 Status objects with the real messages, field-selector
 * transitions (an object leaving a watch's selector arrives as DELETED). Resources are declared as data
 * (`ResourceType`):
 * - core/v1 pods: get, list, watch; PATCH (JSON, merge and strategic merge patch, ValidatePodUpdate:
 *   labels / annotations, images, activeDeadlineSeconds, tolerations, and "pod updates may not change
 *   fields other than …"); DELETE with DeleteOptions from the body or the query (preconditions → 409,
 *   graceful deletion: a pod bound to a node and not finished gets deletionTimestamp and
 *   deletionGracePeriodSeconds and stays until `completePodDeletion`; otherwise MODIFIED then DELETED),
 *   answered with the pod (ReturnDeletedObject).
 * - events.k8s.io/v1 Events: POST (201, 409 AlreadyExists, 422 Invalid from the real validation, 400 for
 *   bodies the decoder refuses) and PATCH (404, 409 Conflict on a stale resourceVersion, 415 for an
 *   unknown patch type; a no-op patch keeps the resourceVersion).
 * - networking.k8s.io/v1 NetworkPolicies: POST, PATCH, DELETE (answered with a Success Status), with the
 *   real defaulting and validation.
 * - apps/v1 ReplicaSets, StatefulSets, Deployments, DaemonSets: get, list, watch (see fake-kube-apps.ts
 *   for builders).
 * - authorization.k8s.io/v1 SelfSubjectAccessReviews: POST (201 with the spec echoed and status {allowed,
 *   reason?, denied?}; 400 / 422 as the real server). What is allowed is RBAC-like rules the test sets
 *   (`allowOnly`, `denyExplicitly`; default: everything), and every other request is authorized by the
 *   same rules: a denied one gets the real 403 Forbidden (see fake-kube-access.ts).
 * DELETE also honours finalizers (an object with finalizers is only marked) and the garbage collector's
 * orphan / foregroundDeletion finalizers for propagationPolicy. Tests can fail the next N requests of a
 * verb (`failRequests`: 500, 429 with Retry-After, 503…) or hold them (`delayRequests`); a held request is
 * still carried out after the delay, as on a slow real server, even if the client gave up on it.
 */

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  verb: KubeVerb | undefined;
  resource: string | undefined;
  status: number;
  /** The Content-Type header, when the request had one (PATCH bodies are told apart by it). */
  contentType?: string;
  /** The request body of a POST, PUT, PATCH or DELETE, as text (DELETE: the DeleteOptions, if any). */
  body?: string;
}

/** A request failure to inject (`failRequests`). reason and message default to the real server's for the code. */
export interface RequestFailure {
  verb: KubeVerb;
  /** The resource's plural. Default pods. */
  resource?: string;
  code: number;
  /** How many of the next matching requests fail. Default 1. */
  times?: number;
  reason?: string;
  message?: string;
  /** 429 and 503: the Retry-After header and details.retryAfterSeconds. Default 1 for 429. */
  retryAfterSeconds?: number;
}

/** Requests to hold before they are served (`delayRequests`). */
export interface RequestDelay {
  verb: KubeVerb;
  resource?: string;
  ms: number;
  times?: number;
}

export interface FakeKubeApiOptions {
  /** The bearer token clients must send. Default: random. */
  token?: string;
  /** Changes kept for watches; older ones are compacted away (then 410). Default 1000. */
  historyLimit?: number;
  /** The server's wall clock in ms (creationTimestamp, deletionTimestamp). Default Date.now. */
  clock?: () => number;
}

/** What a DELETE answered: the status code and the body (the object, or a Status). */
export interface DeleteResult {
  code: number;
  body: unknown;
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
  headers: Record<string, string>;
  remaining: number;
}

interface InjectedDelay {
  verb: KubeVerb;
  resource: string;
  ms: number;
  remaining: number;
}

type Send = (code: number, body: unknown, headers?: Record<string, string>) => void;
type Reply = (status: KubeStatus, headers?: Record<string, string>) => void;

/** One request, routed and read, on its way to its verb's handler. */
interface ServedRequest {
  route: Route;
  verb: KubeVerb;
  query: Record<string, string>;
  body: string;
  contentType: string | undefined;
  res: ServerResponse;
  /** Answers with a body and records the status. */
  send: Send;
  reply: Reply;
}

interface Route {
  type: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
}

export class FakeKubeApi {
  readonly token: string;
  readonly requests: RecordedRequest[] = [];
  /** Who may do what (default: everything); `allowOnly` and `denyExplicitly` change it. */
  readonly access = new FakeKubeAccess();
  private readonly server: Server;
  private readonly clock = new ResourceVersionClock();
  private readonly stores = new Map<string, ResourceStore>();
  private readonly watchers = new Set<Watcher>();
  private readonly failures: InjectedFailure[] = [];
  private readonly delays: InjectedDelay[] = [];
  private readonly heldRequests = new Set<NodeJS.Timeout>();
  private readonly historyLimit: number;
  private readonly wallClock: () => number;
  private closed = false;
  private port = 0;

  private constructor(options: FakeKubeApiOptions) {
    this.token = options.token ?? randomBytes(16).toString('hex');
    this.historyLimit = options.historyLimit ?? 1000;
    this.wallClock = options.clock ?? Date.now;
    for (const type of [
      PODS,
      EVENTS,
      NETWORK_POLICIES,
      REPLICA_SETS,
      STATEFUL_SETS,
      DEPLOYMENTS,
      DAEMON_SETS,
    ]) {
      this.register(type);
    }
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

  /** Declares another resource type. */
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

  /** Removes a pod at once (DELETED), whatever its state: a pod that was never terminating, say. */
  deletePod(namespace: string, name: string): KubeObject {
    return this.delete(PODS, namespace, name);
  }

  /**
   * What the kubelet does once a terminating pod's containers are gone: DELETE with gracePeriodSeconds 0
   * and the pod's uid as precondition. Watches see MODIFIED (deletionGracePeriodSeconds 0, the
   * deletionTimestamp moved back to the time of the first request) then DELETED, as on a real cluster.
   * Throws if the pod does not exist or is not terminating.
   */
  completePodDeletion(namespace: string, name: string): KubeObject {
    const pod = this.storeOf(PODS).get(namespace, name);
    if (pod === undefined) throw new Error(`pods ${objectKey(namespace, name)} not found`);
    if (pod.metadata.deletionTimestamp === undefined) {
      throw new Error(`pods ${objectKey(namespace, name)} is not terminating (no deletionTimestamp)`);
    }
    const result = this.deleteObject(PODS, namespace, name, {
      gracePeriodSeconds: 0,
      preconditions: pod.metadata.uid === undefined ? {} : { uid: pod.metadata.uid },
    });
    return result.body as KubeObject;
  }

  /**
   * A DELETE as the store carries it out (preconditions, graceful deletion, finalizers), without HTTP:
   * what a controller's or the kubelet's request would do. Returns what the server would answer.
   */
  deleteObject(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    options: DeleteOptions = {},
  ): DeleteResult {
    const current = this.storeOf(type).get(namespace, name);
    if (current === undefined) {
      const status = notFound(type, name);
      return { code: status.code, body: status };
    }
    const plan = planDelete(type, current, options, this.wallClock());
    // handlers/delete.go: 202 when the object stays and the client asked for cascading (orphanDependents
    // false); 200 otherwise, including a graceful deletion under way.
    const stays = options.orphanDependents === false ? 202 : 200;
    const answer = (object: KubeObject): unknown =>
      type.returnDeletedObject === true ? withKind(type, object) : successStatus(type, object);
    switch (plan.action) {
      case 'conflict': {
        const status = conflictStatus(type, type.kind, name, plan.message);
        return { code: status.code, body: status };
      }
      case 'pending':
        return { code: stays, body: answer(current) };
      case 'mark': {
        // A marking that changes nothing writes nothing (GuaranteedUpdate skips identical bytes).
        const marked =
          canonicalJson(plan.object) === canonicalJson(current)
            ? current
            : this.writeUpdate(type, current, plan.object);
        // The store answers a deletion that did not remove the object with the object, Status or not.
        return { code: stays, body: withKind(type, marked) };
      }
      case 'remove': {
        const last = plan.update === undefined ? current : this.writeUpdate(type, current, plan.update);
        return { code: 200, body: answer(this.writeDelete(type, last)) };
      }
    }
  }

  getPod(namespace: string, name: string): KubeObject | undefined {
    return this.storeOf(PODS).get(namespace, name);
  }

  /** One stored object as a GET returns it (kind and apiVersion set), or undefined. */
  getObject(type: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const object = this.storeOf(type).get(namespace, name);
    return object === undefined ? undefined : withKind(type, object);
  }

  /** The stored objects of a type (in one namespace, or all), sorted by namespace/name, kind and apiVersion set. */
  objects(type: ResourceType, namespace?: string): KubeObject[] {
    return this.storeOf(type)
      .current()
      .filter(([, o]) => namespace === undefined || o.metadata.namespace === namespace)
      .map(([, o]) => withKind(type, o));
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
    object.metadata.creationTimestamp ??= rfc3339(this.wallClock());
    object.metadata.resourceVersion = String(this.clock.next());
    store.apply({ type: WATCH_EVENT.added, rv: this.clock.now, object });
    this.compactToLimit(store);
    return structuredClone(object);
  }

  /**
   * Stores `mutate`'s change as an update would (name, namespace and uid kept, a new resourceVersion).
   * As in the real store, an update that leaves no finalizers on an object whose deletion is due deletes it.
   */
  update(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    mutate: (o: KubeObject) => void,
  ): KubeObject {
    const previous = this.storeOf(type).get(namespace, name);
    if (previous === undefined) throw new Error(`${type.plural} ${objectKey(namespace, name)} not found`);
    const object = structuredClone(previous);
    mutate(object);
    if (shouldDeleteDuringUpdate(object, previous)) {
      this.writeDelete(type, previous);
      return object;
    }
    return this.writeUpdate(type, previous, object);
  }

  delete(type: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const previous = this.storeOf(type).get(namespace, name);
    if (previous === undefined) throw new Error(`${type.plural} ${objectKey(namespace, name)} not found`);
    return this.writeDelete(type, previous);
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

  /**
   * From now on only what these rules grant is allowed (RBAC-like: '*' wildcards, a rule without a
   * namespace is cluster-wide): other requests get 403, SelfSubjectAccessReviews answer allowed: false.
   */
  allowOnly(rules: readonly AccessRule[]): void {
    this.access.allowOnly(rules);
  }

  /** Everything allowed again (the default). */
  allowAll(): void {
    this.access.allowAll();
  }

  /** An explicit Deny (as a webhook authorizer gives): reviews answer denied: true with this reason. */
  denyExplicitly(rule: AccessRule, reason: string): void {
    this.access.deny(rule, reason);
  }

  /** Answers the next request with this verb on this resource with `code` (e.g. 500, 403, 429). */
  failNext(verb: KubeVerb, code: number, reason: string, message: string, resource = PODS.plural): void {
    this.failRequests({ verb, resource, code, reason, message });
  }

  /**
   * Answers the next `times` requests with this verb on this resource with a failure Status, with the
   * real server's reason and message for the code unless given (429 also carries Retry-After).
   */
  failRequests(failure: RequestFailure): void {
    const standard = STANDARD_FAILURES[failure.code] ?? {
      reason: 'InternalError',
      message: 'injected failure',
    };
    const retryAfter = failure.retryAfterSeconds ?? (failure.code === 429 ? 1 : undefined);
    const details = retryAfter === undefined ? undefined : { retryAfterSeconds: retryAfter };
    this.failures.push({
      verb: failure.verb,
      resource: failure.resource ?? PODS.plural,
      status: kubeStatus(
        failure.code,
        failure.reason ?? standard.reason,
        failure.message ?? standard.message,
        details,
      ),
      headers: retryAfter === undefined ? {} : { 'Retry-After': String(retryAfter) },
      remaining: failure.times ?? 1,
    });
  }

  /** Holds the next `times` requests with this verb on this resource for `ms` before serving them. */
  delayRequests(delay: RequestDelay): void {
    this.delays.push({
      verb: delay.verb,
      resource: delay.resource ?? PODS.plural,
      ms: delay.ms,
      remaining: delay.times ?? 1,
    });
  }

  /** Drops every injected failure and delay not yet used. */
  clearInjected(): void {
    this.failures.splice(0);
    this.delays.splice(0);
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
    this.closed = true;
    for (const timer of this.heldRequests) clearTimeout(timer);
    this.heldRequests.clear();
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
    const contentType = req.headers['content-type'];
    if (contentType !== undefined) recorded.contentType = contentType;
    this.requests.push(recorded);
    const send: Send = (code, body, headers = {}) => {
      recorded.status = code;
      sendJson(res, code, body, headers);
    };
    const reply: Reply = (status, headers = {}) => {
      send(status.code, status, headers);
    };

    if (req.headers.authorization !== `Bearer ${this.token}`) {
      reply(kubeStatus(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    if (url.pathname === SELF_SUBJECT_ACCESS_REVIEW_PATH) {
      this.handleAccessReview(req, recorded, send, reply);
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
    const attributes = {
      verb,
      group: route.type.group,
      resource: route.type.plural,
      namespace: route.namespace ?? '',
      name: route.name ?? '',
    };
    const decision = this.access.decide(attributes);
    if (!decision.allowed) {
      // The authorization filter answers before the handler reads the body or any injection applies.
      reply(this.access.forbidden(attributes, decision.denied === true ? (decision.reason ?? '') : ''));
      return;
    }
    // Injections are taken in arrival order, so "the next N requests" means exactly those.
    const delay = takeInjected(this.delays, verb, route.type.plural);
    const failure = takeInjected(this.failures, verb, route.type.plural);
    const hasBody =
      verb === KUBE_VERB.create ||
      verb === KUBE_VERB.update ||
      verb === KUBE_VERB.patch ||
      verb === KUBE_VERB.delete;
    if (delay === undefined && !hasBody) {
      // Reads stay synchronous: a watch is registered before the request handler returns.
      this.serve({ route, verb, query, body: '', contentType, res, send, reply }, failure);
      return;
    }
    void (async () => {
      const body = hasBody ? await readBody(req) : '';
      if (hasBody) recorded.body = body;
      if (delay !== undefined) await this.hold(delay.ms);
      if (this.closed) return;
      this.serve({ route, verb, query, body, contentType, res, send, reply }, failure);
    })();
  }

  /**
   * POST selfsubjectaccessreviews: not stored, answered from the access rules (201). Other methods are
   * 405; injected failures and delays for `create` on `selfsubjectaccessreviews` apply.
   */
  private handleAccessReview(
    req: IncomingMessage,
    recorded: RecordedRequest,
    send: Send,
    reply: Reply,
  ): void {
    recorded.resource = 'selfsubjectaccessreviews';
    if (req.method !== 'POST') {
      recorded.verb = verbOf(req.method ?? 'GET', false, false);
      reply(
        kubeStatus(
          405,
          'MethodNotAllowed',
          'the server does not allow this method on the requested resource',
        ),
      );
      return;
    }
    recorded.verb = KUBE_VERB.create;
    const delay = takeInjected(this.delays, KUBE_VERB.create, 'selfsubjectaccessreviews');
    const failure = takeInjected(this.failures, KUBE_VERB.create, 'selfsubjectaccessreviews');
    void (async () => {
      const body = await readBody(req);
      recorded.body = body;
      if (delay !== undefined) await this.hold(delay.ms);
      if (this.closed) return;
      if (failure !== undefined) {
        reply(failure.status, failure.headers);
        return;
      }
      const answer = this.access.review(body);
      send(answer.code, answer.body);
    })();
  }

  /** Waits like a slow server; the request is still carried out afterwards unless the fake closed. */
  private hold(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.heldRequests.delete(timer);
        resolve();
      }, ms);
      this.heldRequests.add(timer);
    });
  }

  private serve(request: ServedRequest, failure: InjectedFailure | undefined): void {
    const { route, verb, query, res, send, reply } = request;
    if (failure !== undefined) {
      reply(failure.status, failure.headers);
      return;
    }
    // POST goes to a collection, PATCH to one object: the other paths have no such route (405).
    const misrouted =
      (verb === KUBE_VERB.create && route.name !== undefined) ||
      (verb === KUBE_VERB.patch && route.name === undefined);
    if (misrouted || !(route.type.verbs ?? READ_ONLY_VERBS).includes(verb)) {
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
        reply(notFound(route.type, route.name ?? ''));
        return;
      }
      send(200, withKind(route.type, object));
      return;
    }
    if (verb === KUBE_VERB.create) {
      this.createFromRequest(request);
      return;
    }
    if (verb === KUBE_VERB.patch) {
      this.patchFromRequest(request);
      return;
    }
    if (verb === KUBE_VERB.delete) {
      this.deleteFromRequest(request);
      return;
    }
    if (verb !== KUBE_VERB.list && verb !== KUBE_VERB.watch) {
      reply(
        kubeStatus(
          405,
          'MethodNotAllowed',
          'the server does not allow this method on the requested resource',
        ),
      );
      return;
    }
    const selector = this.selectorFor(route, query);
    if ('message' in selector) {
      reply(kubeStatus(400, 'BadRequest', selector.message));
      return;
    }
    const listFailure =
      verb === KUBE_VERB.list
        ? this.list(store, route, selector.matches, query, res)
        : this.watch(store, route, selector.matches, query, res);
    if (listFailure !== undefined) reply(listFailure);
  }

  /** POST: decode, default the namespace and name, validate, store; 201 with the stored object. */
  private createFromRequest({ route, body, send, reply }: ServedRequest): void {
    const type = route.type;
    if (type.namespaced && route.namespace === undefined) {
      reply(
        kubeStatus(
          405,
          'MethodNotAllowed',
          'the server does not allow this method on the requested resource',
        ),
      );
      return;
    }
    const decoded = decodeObject(type, body);
    if ('message' in decoded) {
      reply(kubeStatus(400, 'BadRequest', decoded.message));
      return;
    }
    const object = decoded.object;
    if (route.namespace !== undefined) {
      if (object.metadata.namespace !== undefined && object.metadata.namespace !== route.namespace) {
        reply(
          kubeStatus(
            400,
            'BadRequest',
            'the namespace of the provided object does not match the namespace sent on the request',
          ),
        );
        return;
      }
      object.metadata.namespace = route.namespace;
    }
    // rest.BeforeCreate: no deletion stamps on a new object, then the strategy's PrepareForCreate.
    delete object.metadata.deletionTimestamp;
    delete object.metadata.deletionGracePeriodSeconds;
    type.prepareForCreate?.(object);
    const generateName = object.metadata.generateName;
    if (object.metadata.name === '' && typeof generateName === 'string' && generateName !== '') {
      object.metadata.name = `${generateName}${randomSuffix()}`;
    }
    const errors = type.validateCreate?.(object) ?? [];
    if (errors.length > 0) {
      reply(invalidStatus(type, object.metadata.name, errors));
      return;
    }
    if (this.storeOf(type).get(object.metadata.namespace, object.metadata.name) !== undefined) {
      reply(
        kubeStatus(
          409,
          'AlreadyExists',
          `${groupResourceOf(type)} "${object.metadata.name}" already exists`,
          {
            name: object.metadata.name,
            ...groupDetail(type),
            kind: type.plural,
          },
        ),
      );
      return;
    }
    const sentVersion = parseResourceVersion(object.metadata.resourceVersion ?? '');
    if (sentVersion !== undefined && sentVersion !== 0) {
      // etcd3 store's Create: a plain error, which the handler answers as a 500.
      reply(
        kubeStatus(
          500,
          'InternalError',
          'Internal error occurred: resourceVersion should not be set on objects to be created',
          {
            causes: [{ message: 'resourceVersion should not be set on objects to be created' }],
          },
        ),
      );
      return;
    }
    // The server assigns identity and version (FillObjectMetaSystemFields); what a client sent is not kept.
    delete object.metadata.uid;
    delete object.metadata.resourceVersion;
    delete object.metadata.creationTimestamp;
    const created = this.create(type, object);
    send(201, withKind(type, created));
  }

  /** PATCH: apply by content type, check preconditions and the update validation; no-op patches keep the version. */
  private patchFromRequest({ route, contentType, body, send, reply }: ServedRequest): void {
    const type = route.type;
    const name = route.name ?? '';
    const current = this.storeOf(type).get(route.namespace, name);
    if (current === undefined) {
      reply(notFound(type, name));
      return;
    }
    const patched = applyPatch(
      withKind(type, current),
      contentType,
      body,
      type.strategicMergePatch === true,
      type.mergeKeys,
    );
    if (!patched.ok) {
      const reason = { 400: 'BadRequest', 415: 'UnsupportedMediaType', 422: 'Invalid' }[patched.code];
      reply(kubeStatus(patched.code, reason, patched.message));
      return;
    }
    const decoded = decodeObject(type, JSON.stringify(patched.object));
    if ('message' in decoded) {
      reply(kubeStatus(400, 'BadRequest', decoded.message));
      return;
    }
    const next = decoded.object;
    if (next.metadata.name !== name) {
      reply(
        kubeStatus(
          400,
          'BadRequest',
          `the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`,
        ),
      );
      return;
    }
    const conflict = (message: string): KubeStatus => conflictStatus(type, type.plural, name, message);
    if (next.metadata.uid !== undefined && next.metadata.uid !== current.metadata.uid) {
      reply(
        conflict(
          `Precondition failed: UID in precondition: ${next.metadata.uid}, UID in object meta: ${current.metadata.uid ?? ''}`,
        ),
      );
      return;
    }
    if (
      next.metadata.resourceVersion !== undefined &&
      next.metadata.resourceVersion !== current.metadata.resourceVersion
    ) {
      reply(
        conflict(
          'the object has been modified; please apply your changes to the latest version and try again',
        ),
      );
      return;
    }
    // rest.BeforeUpdate: identity, version and creation stamp are the server's; a deletion timestamp (and
    // a grace period the patch dropped) cannot be undone; the generation is the server's to bump.
    const meta = current.metadata;
    const { uid, resourceVersion, creationTimestamp, namespace } = meta;
    const serverOwned = Object.entries({ uid, resourceVersion, creationTimestamp, namespace }).filter(
      ([, value]) => value !== undefined,
    );
    next.metadata = { ...next.metadata, ...Object.fromEntries(serverOwned) };
    if (meta.deletionTimestamp !== undefined) next.metadata.deletionTimestamp = meta.deletionTimestamp;
    if (
      meta.deletionGracePeriodSeconds !== undefined &&
      next.metadata.deletionGracePeriodSeconds === undefined
    ) {
      next.metadata.deletionGracePeriodSeconds = meta.deletionGracePeriodSeconds;
    }
    if (meta.generation === undefined) delete next.metadata.generation;
    else next.metadata.generation = meta.generation;
    type.prepareForUpdate?.(next, current);
    const errors = type.validateUpdate?.(next, current) ?? [];
    if (errors.length > 0) {
      reply(invalidStatus(type, name, errors));
      return;
    }
    if (shouldDeleteDuringUpdate(next, current)) {
      // The last finalizer is gone from an object whose deletion is due: the store deletes it and answers
      // with the patched object.
      this.writeDelete(type, current);
      send(200, withKind(type, next));
      return;
    }
    if (canonicalJson(next) === canonicalJson(current)) {
      // Nothing changed: the real server writes nothing and keeps the resourceVersion.
      send(200, withKind(type, current));
      return;
    }
    send(200, withKind(type, this.writeUpdate(type, current, next)));
  }

  /** DELETE: DeleteOptions first (400 / 422 before the object is looked up), then the store's Delete. */
  private deleteFromRequest({ route, query, body, send, reply }: ServedRequest): void {
    const parsed = parseDeleteOptions(body, query);
    if (!parsed.ok) {
      reply(parsed.status);
      return;
    }
    const result = this.deleteObject(route.type, route.namespace, route.name ?? '', parsed.options);
    send(result.code, result.body);
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

  /** One MODIFIED write of `next` over `previous`; identity is kept, as on a real server. */
  private writeUpdate(type: ResourceType, previous: KubeObject, next: KubeObject): KubeObject {
    const store = this.storeOf(type);
    const object = structuredClone(next);
    object.metadata.name = previous.metadata.name;
    if (previous.metadata.uid !== undefined) object.metadata.uid = previous.metadata.uid;
    if (previous.metadata.namespace === undefined) delete object.metadata.namespace;
    else object.metadata.namespace = previous.metadata.namespace;
    object.metadata.resourceVersion = String(this.clock.next());
    store.apply({ type: WATCH_EVENT.modified, rv: this.clock.now, object, previous });
    this.compactToLimit(store);
    return structuredClone(object);
  }

  /** One DELETED write: the last stored state with the deletion's resourceVersion (etcd3 Delete and watch). */
  private writeDelete(type: ResourceType, previous: KubeObject): KubeObject {
    const store = this.storeOf(type);
    const object = structuredClone(previous);
    object.metadata.resourceVersion = String(this.clock.next());
    store.apply({ type: WATCH_EVENT.deleted, rv: this.clock.now, object, previous });
    this.compactToLimit(store);
    return structuredClone(object);
  }

  private compactToLimit(store: ResourceStore): void {
    const keepFrom = this.clock.now - this.historyLimit;
    if (keepFrom > store.compactedResourceVersion) store.compact(keepFrom);
  }
}

const CONTINUE_EXPIRED_MESSAGE =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list ' +
  'without the continue parameter, or use the continue token in this response to retrieve the remainder of the ' +
  'results. Continuing with the provided token results in an inconsistent list - objects that were created, ' +
  'modified, or deleted between the time the first chunk was returned and now may show up in the list.';

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

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    // A client that gave up mid-body: serve what arrived (the decoder then refuses it, as a real server would).
    req.on('error', () => {
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** Takes one use of the first injection for this verb and resource, if any. */
function takeInjected<T extends { verb: KubeVerb; resource: string; remaining: number }>(
  list: T[],
  verb: KubeVerb,
  resource: string,
): T | undefined {
  const at = list.findIndex((entry) => entry.verb === verb && entry.resource === resource);
  const entry = list[at];
  if (entry === undefined) return undefined;
  entry.remaining -= 1;
  if (entry.remaining <= 0) list.splice(at, 1);
  return entry;
}

/** The real reasons and messages of the failures tests inject most. */
const STANDARD_FAILURES: Record<number, { reason: string; message: string }> = {
  429: { reason: 'TooManyRequests', message: 'Too many requests, please try again later.' },
  500: { reason: 'InternalError', message: 'Internal error occurred: etcdserver: request timed out' },
  503: { reason: 'ServiceUnavailable', message: 'the server is currently unable to handle the request' },
  504: { reason: 'Timeout', message: 'the server was unable to return a response in the time allotted' },
};

/** A request body as an object of this type, or the 400 message the real decoder gives. */
function decodeObject(type: ResourceType, body: string): { object: KubeObject } | { message: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    return { message: `couldn't get version/kind; json parse error: ${(err as Error).message}` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { message: `couldn't get version/kind; json parse error: not an object` };
  }
  const object = parsed as Record<string, unknown>;
  const apiVersion = apiVersionOf(type);
  if (object.apiVersion !== undefined && object.apiVersion !== apiVersion) {
    return {
      message: `the API version in the data (${typeof object.apiVersion === 'string' ? object.apiVersion : JSON.stringify(object.apiVersion)}) does not match the expected API version (${apiVersion})`,
    };
  }
  if (object.kind !== undefined && object.kind !== type.kind) {
    return {
      message: `${type.kind} in version "${type.version}" cannot be handled as a ${type.kind}: kind mismatch`,
    };
  }
  const metadata = record(object.metadata);
  const name = typeof metadata.name === 'string' ? metadata.name : '';
  const out = { ...object, metadata: { ...metadata, name } } as KubeObject;
  delete out.apiVersion;
  delete out.kind;
  const refused = type.decodeError?.(out);
  if (refused !== undefined) return { message: refused };
  type.applyDefaults?.(out);
  return { object: out };
}

/** JSON with sorted keys, to tell a no-op patch from a change. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/** The random part of a generateName, from the alphabet apiserver's names.SimpleNameGenerator uses. */
function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const bytes = randomBytes(5);
  let out = '';
  for (const b of bytes) out += alphabet.charAt(b % alphabet.length);
  return out;
}

function routeKey(group: string, version: string, plural: string): string {
  return `${group}/${version}/${plural}`;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}
