import type { PodMetadata } from '../attribution-types.js';

/**
 * A pod object (a watch event's raw JSON or a deserialised V1Pod: both use the API's field names) →
 * the fields attribution keeps. Undefined when it lacks uid, name or namespace.
 */
export function podMetadataFromObject(pod: unknown): PodMetadata | undefined {
  const metadata = field(pod, 'metadata');
  const uid = text(metadata, 'uid');
  const name = text(metadata, 'name');
  const namespace = text(metadata, 'namespace');
  if (uid === undefined || name === undefined || namespace === undefined) return undefined;
  const out: PodMetadata = { uid, name, namespace };

  const labels = field(metadata, 'labels');
  if (isRecord(labels)) {
    const copy: Record<string, string> = {};
    for (const [key, value] of Object.entries(labels)) if (typeof value === 'string') copy[key] = value;
    out.labels = copy;
  }

  const owners = field(metadata, 'ownerReferences');
  if (Array.isArray(owners)) {
    // The managing controller (at most one reference has controller=true), not any owner.
    const controller: unknown = owners.find((owner: unknown) => field(owner, 'controller') === true);
    const kind = text(controller, 'kind');
    const ownerName = text(controller, 'name');
    if (kind !== undefined && ownerName !== undefined) out.owner = { kind, name: ownerName };
  }

  const status = field(pod, 'status');
  const ips: string[] = [];
  const podIPs = field(status, 'podIPs');
  if (Array.isArray(podIPs)) {
    for (const entry of podIPs) {
      const ip = text(entry, 'ip');
      if (ip !== undefined && !ips.includes(ip)) ips.push(ip);
    }
  }
  const podIP = text(status, 'podIP');
  if (podIP !== undefined && !ips.includes(podIP)) ips.unshift(podIP);
  if (ips.length > 0) out.ips = ips;

  const nodeName = text(field(pod, 'spec'), 'nodeName');
  if (nodeName !== undefined) out.nodeName = nodeName;
  return out;
}

/** The object's metadata.resourceVersion (watch events carry one, bookmarks only that). */
export function resourceVersionOf(object: unknown): string | undefined {
  return text(field(object, 'metadata'), 'resourceVersion');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field(value: unknown, key: string): unknown {
  return isRecord(value) ? value[key] : undefined;
}

function text(value: unknown, key: string): string | undefined {
  const v = field(value, key);
  return typeof v === 'string' && v !== '' ? v : undefined;
}
