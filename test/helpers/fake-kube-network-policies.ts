/**
 * networking.k8s.io/v1 NetworkPolicies for the fake API server, declared as data: defaulting as
 * pkg/apis/networking/v1/defaults.go does it (policyTypes from the rules, ports' protocol TCP), the
 * registry strategy (generation 1 at creation, bumped when the spec changes; no ReturnDeletedObject, so a
 * DELETE answers with a Success Status), and validation as pkg/apis/networking/validation does it in
 * v1.28-v1.31: the object meta, the pod selector, each rule's ports and peers (selectors, ipBlock CIDRs),
 * policyTypes. An update runs ValidateNetworkPolicy and ValidateNetworkPolicyUpdate, both of which check
 * the spec: each spec error is in details.causes twice (the message shows it once), as on the real server.
 */

import { BlockList, isIP } from 'node:net';
import { KUBE_VERB, type KubeObject, type ResourceType } from './fake-kube-store.js';
import {
  forbidden,
  invalid,
  invalidShown,
  notSupported,
  required,
  validateLabelSelector,
  validateObjectMetaCreate,
  validateObjectMetaUpdate,
  type FieldError,
} from './fake-kube-validation.js';

export const POLICY_TYPE = { ingress: 'Ingress', egress: 'Egress' } as const;
export type PolicyType = (typeof POLICY_TYPE)[keyof typeof POLICY_TYPE];

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

export const NETWORK_POLICIES: ResourceType = {
  group: 'networking.k8s.io',
  version: 'v1',
  plural: 'networkpolicies',
  kind: 'NetworkPolicy',
  listKind: 'NetworkPolicyList',
  namespaced: true,
  verbs: [
    KUBE_VERB.get,
    KUBE_VERB.list,
    KUBE_VERB.watch,
    KUBE_VERB.create,
    KUBE_VERB.patch,
    KUBE_VERB.delete,
  ],
  strategicMergePatch: true,
  // NetworkPolicy has no selectable fields of its own.
  fields: {
    'metadata.name': (o) => o.metadata.name,
    'metadata.namespace': (o) => o.metadata.namespace ?? '',
  },
  decodeError: networkPolicyDecodeError,
  applyDefaults: defaultNetworkPolicy,
  prepareForCreate: (policy) => {
    policy.metadata.generation = 1;
  },
  prepareForUpdate: (policy, previous) => {
    if (JSON.stringify(policy.spec) !== JSON.stringify(previous.spec)) {
      policy.metadata.generation = (previous.metadata.generation ?? 0) + 1;
    }
  },
  validateCreate: (policy) => [
    ...validateObjectMetaCreate(policy.metadata),
    ...validateSpec(record(policy.spec)),
  ],
  validateUpdate: (policy, previous) => [
    ...validateObjectMetaCreate(policy.metadata),
    ...validateSpec(record(policy.spec)),
    ...validateObjectMetaUpdate(policy.metadata, previous.metadata),
    ...validateSpec(record(policy.spec)),
  ],
};

/** A NetworkPolicy as the server stores it after defaulting, for `create(NETWORK_POLICIES, …)`. */
export function fakeNetworkPolicy(input: {
  name: string;
  namespace?: string;
  /** Default `{}`: every pod in the namespace. */
  podSelector?: Record<string, unknown>;
  ingress?: Record<string, unknown>[];
  egress?: Record<string, unknown>[];
  policyTypes?: PolicyType[];
  labels?: Record<string, string>;
}): KubeObject {
  const policy: KubeObject = {
    metadata: {
      name: input.name,
      namespace: input.namespace ?? 'default',
      generation: 1,
      ...(input.labels === undefined ? {} : { labels: input.labels }),
    },
    spec: {
      podSelector: input.podSelector ?? {},
      ...(input.ingress === undefined ? {} : { ingress: input.ingress }),
      ...(input.egress === undefined ? {} : { egress: input.egress }),
      ...(input.policyTypes === undefined ? {} : { policyTypes: input.policyTypes }),
    },
  };
  defaultNetworkPolicy(policy);
  return policy;
}

/**
 * SetDefaults_NetworkPolicy and SetDefaults_NetworkPolicyPort; the spec and its podSelector are not
 * pointers, so they are always present. NetworkPolicy status is no longer part of v1 (dropped as an
 * unknown field).
 */
function defaultNetworkPolicy(policy: KubeObject): void {
  const spec = record(policy.spec);
  policy.spec = spec;
  delete policy.status;
  if (spec.podSelector === undefined || spec.podSelector === null) spec.podSelector = {};
  for (const rules of [spec.ingress, spec.egress]) {
    for (const rule of records(rules)) {
      for (const port of records(rule.ports)) {
        if (port.protocol === undefined || port.protocol === null) port.protocol = 'TCP';
      }
    }
  }
  const types = spec.policyTypes;
  if (!Array.isArray(types) || types.length === 0) {
    spec.policyTypes =
      Array.isArray(spec.egress) && spec.egress.length > 0
        ? [POLICY_TYPE.ingress, POLICY_TYPE.egress]
        : [POLICY_TYPE.ingress];
  }
}

/** The JSON decoder's refusals for the typed fields a client gets wrong most (a 400 on the real server). */
function networkPolicyDecodeError(policy: KubeObject): string | undefined {
  const cannot = (json: unknown, field: string, goType: string): string =>
    `NetworkPolicy in version "v1" cannot be handled as a NetworkPolicy: json: cannot unmarshal ` +
    `${jsonKind(json)} into Go struct field ${field} of type ${goType}`;
  const spec = policy.spec;
  if (spec === undefined || spec === null) return undefined;
  if (!isRecord(spec)) return cannot(spec, 'NetworkPolicy.spec', 'v1.NetworkPolicySpec');
  const selector = spec.podSelector;
  if (selector !== undefined && selector !== null && !isRecord(selector)) {
    return cannot(selector, 'NetworkPolicySpec.spec.podSelector', 'v1.LabelSelector');
  }
  const types = spec.policyTypes;
  if (types !== undefined && types !== null) {
    if (!Array.isArray(types)) return cannot(types, 'NetworkPolicySpec.spec.policyTypes', '[]v1.PolicyType');
    const bad = (types as unknown[]).find((t) => typeof t !== 'string');
    if (bad !== undefined) return cannot(bad, 'NetworkPolicySpec.spec.policyTypes', 'v1.PolicyType');
  }
  for (const [key, goType] of [
    ['ingress', '[]v1.NetworkPolicyIngressRule'],
    ['egress', '[]v1.NetworkPolicyEgressRule'],
  ] as const) {
    const rules = spec[key];
    if (rules !== undefined && rules !== null && !Array.isArray(rules)) {
      return cannot(rules, `NetworkPolicySpec.spec.${key}`, goType);
    }
  }
  return undefined;
}

/** ValidateNetworkPolicySpec. */
function validateSpec(spec: Record<string, unknown>): FieldError[] {
  const errors = validateLabelSelector(spec.podSelector, 'spec.podSelector');
  for (const [key, peers] of [
    ['ingress', 'from'],
    ['egress', 'to'],
  ] as const) {
    records(spec[key]).forEach((rule, i) => {
      const at = `spec.${key}[${i}]`;
      records(rule.ports).forEach((port, j) => errors.push(...validatePort(port, `${at}.ports[${j}]`)));
      records(rule[peers]).forEach((peer, j) => errors.push(...validatePeer(peer, `${at}.${peers}[${j}]`)));
    });
  }
  const types = Array.isArray(spec.policyTypes) ? (spec.policyTypes as unknown[]) : [];
  if (types.length > 2) {
    const shown = `[]networking.PolicyType{${types.map((t) => JSON.stringify(t)).join(', ')}}`;
    errors.push(invalidShown('spec.policyTypes', shown, 'may not specify more than two policyTypes'));
    return errors;
  }
  types.forEach((t, i) => {
    if (t !== POLICY_TYPE.ingress && t !== POLICY_TYPE.egress) {
      errors.push(notSupported(`spec.policyTypes[${i}]`, t, [POLICY_TYPE.ingress, POLICY_TYPE.egress]));
    }
  });
  return errors;
}

/** ValidateNetworkPolicyPort. */
function validatePort(port: Record<string, unknown>, at: string): FieldError[] {
  const errors: FieldError[] = [];
  const protocol = port.protocol;
  if (typeof protocol === 'string' && !(PROTOCOLS as readonly string[]).includes(protocol)) {
    errors.push(notSupported(`${at}.protocol`, protocol, PROTOCOLS));
  }
  const value = port.port;
  const end = port.endPort;
  const hasEnd = typeof end === 'number';
  if (typeof value === 'number') {
    for (const m of portNumberErrors(value)) errors.push(invalid(`${at}.port`, value, m));
    if (hasEnd) {
      if (end < value) errors.push(invalid(`${at}.endPort`, end, 'must be greater than or equal to `port`'));
      for (const m of portNumberErrors(end)) errors.push(invalid(`${at}.endPort`, end, m));
    }
  } else if (typeof value === 'string') {
    if (hasEnd) errors.push(invalid(`${at}.endPort`, end, 'may not be specified when `port` is non-numeric'));
    for (const m of portNameErrors(value)) errors.push(invalid(`${at}.port`, value, m));
  } else if (hasEnd) {
    errors.push(invalid(`${at}.endPort`, end, 'may not be specified when `port` is not specified'));
  }
  return errors;
}

/** ValidateNetworkPolicyPeer: one kind of peer (or pod and namespace selectors together). */
function validatePeer(peer: Record<string, unknown>, at: string): FieldError[] {
  const errors: FieldError[] = [];
  let count = 0;
  const present = (v: unknown): boolean => v !== undefined && v !== null;
  if (present(peer.podSelector)) {
    count++;
    errors.push(...validateLabelSelector(peer.podSelector, `${at}.podSelector`));
  }
  if (present(peer.namespaceSelector)) {
    count++;
    errors.push(...validateLabelSelector(peer.namespaceSelector, `${at}.namespaceSelector`));
  }
  if (present(peer.ipBlock)) {
    count++;
    errors.push(...validateIpBlock(record(peer.ipBlock), `${at}.ipBlock`));
  }
  if (count === 0) errors.push(required(at, 'must specify a peer'));
  else if (count > 1 && present(peer.ipBlock)) {
    errors.push(forbidden(at, 'may not specify both ipBlock and another peer'));
  }
  return errors;
}

/** ValidateIPBlock (v1.28-v1.31): a CIDR, and excepts strictly inside it. */
function validateIpBlock(block: Record<string, unknown>, at: string): FieldError[] {
  const cidr = typeof block.cidr === 'string' ? block.cidr : '';
  if (cidr === '') return [required(`${at}.cidr`)];
  const outer = parseCidr(cidr);
  if (outer === undefined) return [invalid(`${at}.cidr`, cidr, 'not a valid CIDR')];
  const errors: FieldError[] = [];
  const excepts = Array.isArray(block.except) ? (block.except as unknown[]) : [];
  for (const [i, raw] of excepts.entries()) {
    const text = typeof raw === 'string' ? raw : '';
    const inner = parseCidr(text);
    if (inner === undefined) {
      errors.push(invalid(`${at}.except[${i}]`, text, 'not a valid CIDR'));
      return errors;
    }
    const list = new BlockList();
    list.addSubnet(outer.address, outer.prefix, outer.family);
    const inside = inner.family === outer.family && list.check(inner.address, inner.family);
    if (!inside || outer.prefix >= inner.prefix) {
      errors.push(invalid(`${at}.except[${i}]`, text, 'must be a strict subset of `cidr`'));
    }
  }
  return errors;
}

function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', prefix, ...rest] = text.split('/');
  if (prefix === undefined || rest.length > 0 || !/^[0-9]+$/.test(prefix)) return undefined;
  const version = isIP(address);
  const bits = Number(prefix);
  if (version === 4 && bits <= 32) return { address, prefix: bits, family: 'ipv4' };
  if (version === 6 && bits <= 128) return { address, prefix: bits, family: 'ipv6' };
  return undefined;
}

/** validation.IsValidPortNum. */
function portNumberErrors(port: number): string[] {
  return port >= 1 && port <= 65535 ? [] : ['must be between 1 and 65535, inclusive'];
}

/** validation.IsValidPortName (IANA service names). */
function portNameErrors(name: string): string[] {
  const errors: string[] = [];
  if (name.length > 15) errors.push('must be no more than 15 characters');
  if (!/^[-a-z0-9]+$/.test(name))
    errors.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (!/[a-z]/.test(name)) errors.push('must contain at least one letter (a-z)');
  if (name.includes('--')) errors.push('must not contain consecutive hyphens');
  if (name.startsWith('-') || name.endsWith('-')) errors.push('must not begin or end with a hyphen');
  return errors;
}

function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return `number ${String(value)}`;
  return typeof value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? (value as unknown[]).map(record) : [];
}

function record(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}
