import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Container, V1DaemonSet } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { findRepoRoot } from '../bench/audit-log-generator.js';

/** The objects of deploy/*.yaml, as kubectl would send them. */
export type KubeObject = Record<string, unknown> & {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
};

export const DEPLOY_DIR = join(findRepoRoot(), 'deploy');

export function deployObjects(file: string): KubeObject[] {
  const text = readFileSync(join(DEPLOY_DIR, file), 'utf8');
  // YAML 1.1, as kubectl reads it (defaultMode: 0400 is octal there).
  return parseAllDocuments(text, { version: '1.1' }).map((doc, i) => {
    if (doc.errors.length > 0)
      throw new Error(`${file} document ${String(i + 1)}: ${doc.errors[0]?.message ?? ''}`);
    return doc.toJS() as KubeObject;
  });
}

export function objectOf(objects: readonly KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1)
    throw new Error(
      `expected one ${kind}${name === undefined ? '' : ` ${name}`}, found ${String(found.length)}`,
    );
  return found[0] as KubeObject;
}

export function agentContainer(daemonSet: KubeObject): V1Container {
  const containers = (daemonSet as unknown as V1DaemonSet).spec?.template.spec?.containers ?? [];
  const agent = containers.find((c) => c.name === 'kernwatch');
  if (agent === undefined) throw new Error('no kernwatch container');
  return agent;
}

interface JsonPatchOp {
  op: string;
  path: string;
  value?: unknown;
}

/**
 * RFC 6902 `add` and `replace`, the operations deploy/*.patch.json use (what `kubectl patch --type json`
 * applies); anything else is an error so a patch this cannot apply is never half-checked.
 */
export function applyJsonPatch<T>(target: T, ops: readonly JsonPatchOp[]): T {
  const doc = structuredClone(target) as unknown;
  for (const op of ops) {
    if (op.op !== 'add' && op.op !== 'replace') throw new Error(`unsupported patch op ${op.op}`);
    const keys = op.path
      .split('/')
      .slice(1)
      .map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = keys.pop();
    if (last === undefined) throw new Error(`bad path ${op.path}`);
    let node = doc;
    for (const key of keys) {
      const next = Array.isArray(node)
        ? (node as unknown[])[Number(key)]
        : (node as Record<string, unknown>)[key];
      if (typeof next !== 'object' || next === null)
        throw new Error(`path ${op.path}: ${key} does not exist`);
      node = next;
    }
    if (Array.isArray(node)) {
      if (last === '-') node.push(op.value);
      else if (op.op === 'add') node.splice(Number(last), 0, op.value);
      else node[Number(last)] = op.value;
    } else {
      const obj = node as Record<string, unknown>;
      if (op.op === 'replace' && !(last in obj)) throw new Error(`path ${op.path} does not exist`);
      obj[last] = op.value;
    }
  }
  return doc as T;
}

export function deployJsonPatch(file: string): JsonPatchOp[] {
  return JSON.parse(readFileSync(join(DEPLOY_DIR, file), 'utf8')) as JsonPatchOp[];
}
