import type { DenialKind } from '../../events.js';

/** The subjects of DESIGN.md's NATS section (a public contract: consumers filter on them). */
export const SUBJECT_ROOT = 'kernwatch.v1' as const;
/** What the stream must capture. */
export const STREAM_SUBJECTS = 'kernwatch.>' as const;
/** Where a denial has no pod (host processes, unresolved, containers outside Kubernetes). */
export const HOST_NAMESPACE_TOKEN = '_host' as const;

/**
 * One subject token from a name kernwatch does not control. `.` would add tokens, `*` and `>` are
 * wildcards a publisher must not send, and whitespace ends a subject in the protocol line; node names and
 * namespaces are DNS labels in practice, but a hostname fallback or a hand-written --node is not.
 */
export function subjectToken(value: string): string {
  if (value === '') return '_';
  let out = '';
  for (const ch of value) {
    const c = ch.charCodeAt(0);
    // '.', '*', '>', and every control or space character (<= 0x20, DEL).
    out += c === 0x2e || c === 0x2a || c === 0x3e || c <= 0x20 || c === 0x7f ? '_' : ch;
  }
  return out;
}

/** Every denial subject starts with it. */
export const DENIAL_SUBJECT_PREFIX = `${SUBJECT_ROOT}.denial.`;

export function denialSubject(node: string, kind: DenialKind, namespace: string | undefined): string {
  return `${DENIAL_SUBJECT_PREFIX}${subjectToken(node)}.${kind}.${
    namespace === undefined ? HOST_NAMESPACE_TOKEN : subjectToken(namespace)
  }`;
}

/** Every action subject starts with it. */
export const ACTION_SUBJECT_PREFIX = `${SUBJECT_ROOT}.action.`;

export function actionSubject(node: string): string {
  return `${ACTION_SUBJECT_PREFIX}${subjectToken(node)}`;
}

/** Every posture subject starts with it. */
export const POSTURE_SUBJECT_PREFIX = `${SUBJECT_ROOT}.posture.`;

export function postureSubject(node: string): string {
  return `${POSTURE_SUBJECT_PREFIX}${subjectToken(node)}`;
}

/** A consumer's filter over denials: any of node, kind, namespace left out matches all. */
export function denialFilterSubject(filter: { node?: string; kind?: string; namespace?: string }): string {
  const token = (v: string | undefined) => (v === undefined ? '*' : subjectToken(v));
  return `${SUBJECT_ROOT}.denial.${token(filter.node)}.${token(filter.kind)}.${token(filter.namespace)}`;
}
