/**
 * PATCH bodies as the API server applies them (k8s.io/apiserver handlers/patch.go), for the fake API
 * server: the content type picks the patcher, and a body the patcher cannot decode is a 400 with the
 * message the real server's decoder gives. A patch failure is returned, never thrown.
 */

export const PATCH_TYPE = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategicMerge: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;
export type PatchType = (typeof PATCH_TYPE)[keyof typeof PATCH_TYPE];

/** What the real server answers (415) for a content type no patcher takes. */
export const UNKNOWN_PATCH_FORMAT_MESSAGE =
  'the body of the request was in an unknown format - accepted media types include: ' +
  'application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, ' +
  'application/strategic-merge-patch+json';

export type PatchResult =
  { ok: true; object: unknown } | { ok: false; code: 400 | 415 | 422; message: string };

type Json = Record<string, unknown>;

/** The patch type named by a Content-Type header (parameters such as `; charset=utf-8` ignored). */
export function patchTypeOf(contentType: string | undefined): PatchType | undefined {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return (Object.values(PATCH_TYPE) as string[]).includes(type) ? (type as PatchType) : undefined;
}

/**
 * Applies `body` (the raw request text) to `target`. `strategic` says whether the resource takes
 * strategic merge patches (built-in types do, custom resources do not: 415 there).
 */
export function applyPatch(
  target: unknown,
  contentType: string | undefined,
  body: string,
  strategic: boolean,
): PatchResult {
  const type = patchTypeOf(contentType);
  if (type === undefined || type === PATCH_TYPE.apply || (type === PATCH_TYPE.strategicMerge && !strategic)) {
    // Server-side apply is a real server feature the fake does not implement; it refuses it the way the
    // real server refuses a type it does not know rather than applying it wrongly.
    return { ok: false, code: 415, message: UNKNOWN_PATCH_FORMAT_MESSAGE };
  }
  let patch: unknown;
  try {
    patch = JSON.parse(body);
  } catch (err) {
    return { ok: false, code: 400, message: `error decoding patch: ${(err as Error).message}` };
  }
  if (type === PATCH_TYPE.json) return applyJsonPatch(target, patch);
  if (!isObject(patch)) {
    // The merge patchers unmarshal into map[string]interface{}.
    return {
      ok: false,
      code: 400,
      message: `json: cannot unmarshal ${goJsonKind(patch)} into Go value of type map[string]interface {}`,
    };
  }
  if (type === PATCH_TYPE.strategicMerge) {
    const directive = findDirective(patch);
    if (directive !== undefined) {
      // Strategic merge patch is served as a JSON merge patch: identical for maps and scalars, which is
      // every field an Event has. List merge keys and $-directives are not implemented.
      return {
        ok: false,
        code: 400,
        message: `the fake API server does not implement strategic merge directive ${directive}`,
      };
    }
  }
  return { ok: true, object: mergePatch(target, patch) };
}

/** RFC 7386: objects merge recursively, null deletes, everything else (lists included) replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Json = isObject(target) ? structuredClone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) Reflect.deleteProperty(out, key);
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

function applyJsonPatch(target: unknown, patch: unknown): PatchResult {
  if (!Array.isArray(patch)) {
    return {
      ok: false,
      code: 400,
      message: `json: cannot unmarshal ${goJsonKind(patch)} into Go value of type jsonpatch.Patch`,
    };
  }
  let doc: unknown = structuredClone(target);
  for (const operation of patch as unknown[]) {
    const op = isObject(operation) ? operation : {};
    const path = typeof op.path === 'string' ? op.path : undefined;
    if (path === undefined) return { ok: false, code: 400, message: 'Unexpected kind: missing path' };
    const pointer = parsePointer(path);
    if (pointer === undefined) return { ok: false, code: 422, message: `invalid JSON pointer: ${path}` };
    const kind = typeof op.op === 'string' ? op.op : '';
    let next: unknown;
    switch (kind) {
      case 'add':
        next = setAt(doc, pointer, op.value, true);
        break;
      case 'replace':
        next = getAt(doc, pointer) === undefined ? undefined : setAt(doc, pointer, op.value, false);
        break;
      case 'remove':
        next = getAt(doc, pointer) === undefined ? undefined : removeAt(doc, pointer);
        break;
      case 'test':
        if (JSON.stringify(getAt(doc, pointer)) !== JSON.stringify(op.value)) {
          return { ok: false, code: 422, message: `testing value ${path} failed: test failed` };
        }
        next = doc;
        break;
      default:
        return { ok: false, code: 400, message: `Unexpected kind: ${kind}` };
    }
    if (next === undefined) {
      return {
        ok: false,
        code: 422,
        message: `the server rejected our request due to an error in our request: ${kind} operation does not apply: doc is missing path: "${path}"`,
      };
    }
    doc = next;
  }
  return { ok: true, object: doc };
}

function parsePointer(path: string): string[] | undefined {
  if (path === '') return [];
  if (!path.startsWith('/')) return undefined;
  return path
    .slice(1)
    .split('/')
    .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function getAt(doc: unknown, pointer: readonly string[]): unknown {
  let node = doc;
  for (const token of pointer) {
    if (Array.isArray(node)) node = (node as unknown[])[Number(token)];
    else if (isObject(node)) node = node[token];
    else return undefined;
  }
  return node;
}

/** A copy of `doc` with `value` at `pointer`; undefined when the parent does not exist. */
function setAt(doc: unknown, pointer: readonly string[], value: unknown, insert: boolean): unknown {
  if (pointer.length === 0) return structuredClone(value);
  const copy = structuredClone(doc);
  const parent = getAt(copy, pointer.slice(0, -1));
  const last = pointer[pointer.length - 1] ?? '';
  if (Array.isArray(parent)) {
    const list = parent as unknown[];
    const index = last === '-' ? list.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > list.length) return undefined;
    if (insert) list.splice(index, 0, structuredClone(value));
    else list[index] = structuredClone(value);
    return copy;
  }
  if (!isObject(parent)) return undefined;
  parent[last] = structuredClone(value);
  return copy;
}

function removeAt(doc: unknown, pointer: readonly string[]): unknown {
  if (pointer.length === 0) return undefined;
  const copy = structuredClone(doc);
  const parent = getAt(copy, pointer.slice(0, -1));
  const last = pointer[pointer.length - 1] ?? '';
  if (Array.isArray(parent)) (parent as unknown[]).splice(Number(last), 1);
  else if (isObject(parent)) Reflect.deleteProperty(parent, last);
  else return undefined;
  return copy;
}

function findDirective(value: unknown): string | undefined {
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) {
      const found = findDirective(item);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (!isObject(value)) return undefined;
  for (const [key, child] of Object.entries(value)) {
    if (key.startsWith('$')) return key;
    const found = findDirective(child);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** How Go's encoding/json names a JSON value's kind in an UnmarshalTypeError. */
function goJsonKind(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'object';
  return typeof value;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
