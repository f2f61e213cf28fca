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
 * strategic merge patches (built-in types do, custom resources do not: 415 there); `mergeKeys` are the
 * type's patchMergeKey lists (`ResourceType.mergeKeys`).
 */
export function applyPatch(
  target: unknown,
  contentType: string | undefined,
  body: string,
  strategic: boolean,
  mergeKeys: Readonly<Record<string, string>> = {},
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
  if (type === PATCH_TYPE.merge) return { ok: true, object: mergePatch(target, patch) };
  try {
    const keys = { ...COMMON_MERGE_KEYS, ...mergeKeys };
    return { ok: true, object: strategicMergeMap(isObject(target) ? target : {}, patch, '', keys) };
  } catch (err) {
    if (err instanceof PatchError) return { ok: false, code: 400, message: err.message };
    throw err;
  }
}

/** ObjectMeta's patchMergeKey lists, the same for every built-in type. */
const COMMON_MERGE_KEYS: Readonly<Record<string, string>> = {
  'metadata.ownerReferences': 'uid',
  'metadata.finalizers': '',
};

class PatchError extends Error {}

/**
 * Strategic merge patch (apimachinery/pkg/util/strategicpatch) for maps: keys merge recursively, null
 * deletes, lists with a merge key merge element by element, other lists are replaced. Directives:
 * `$patch: replace|delete|merge` in maps, `{$patch: replace}` and `{$patch: delete, key: …}` in merged
 * lists, `$deleteFromPrimitiveList/<list>`. `$setElementOrder` and `$retainKeys` are refused (400): the
 * fake does not implement them and will not apply them wrongly.
 */
function strategicMergeMap(
  original: Json,
  patch: Json,
  path: string,
  keys: Readonly<Record<string, string>>,
): Json {
  const directive = patch.$patch;
  if (directive === 'replace') return withoutDirectives(patch) as Json;
  if (directive === 'delete') return {};
  if (directive !== undefined && directive !== 'merge') {
    throw new PatchError(`unknown patch type: ${JSON.stringify(directive)} in map`);
  }
  const out = structuredClone(original);
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch') continue;
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const list = key.slice('$deleteFromPrimitiveList/'.length);
      const remove = Array.isArray(value) ? (value as unknown[]) : [];
      const current = out[list];
      if (Array.isArray(current)) out[list] = (current as unknown[]).filter((v) => !remove.includes(v));
      continue;
    }
    if (key.startsWith('$')) {
      throw new PatchError(`the fake API server does not implement strategic merge directive ${key}`);
    }
    const at = path === '' ? key : `${path}.${key}`;
    if (value === null) {
      Reflect.deleteProperty(out, key);
    } else if (isObject(value)) {
      const current = out[key];
      out[key] = strategicMergeMap(isObject(current) ? current : {}, value, at, keys);
    } else if (Array.isArray(value)) {
      const mergeKey = keys[at];
      const current = out[key];
      out[key] =
        mergeKey === undefined
          ? withoutDirectives(value)
          : strategicMergeList(
              Array.isArray(current) ? (current as unknown[]) : [],
              value,
              at,
              mergeKey,
              keys,
            );
    } else {
      out[key] = value;
    }
  }
  return out;
}

/**
 * mergeSlice: special elements first (`$patch: replace` replaces the list, `$patch: delete` removes the
 * original element with that key), then patch elements merge into the original element with the same key
 * or join the list; a scalar list (empty merge key) becomes the set union. The result is ordered as
 * normalizeElementOrder orders it: new elements lead, the others keep their original order.
 */
function strategicMergeList(
  original: readonly unknown[],
  patch: readonly unknown[],
  path: string,
  mergeKey: string,
  keys: Readonly<Record<string, string>>,
): unknown[] {
  let base = original.map((v) => structuredClone(v));
  const items: unknown[] = [];
  let replace = false;
  for (const element of patch) {
    if (mergeKey !== '' && isObject(element) && element.$patch !== undefined) {
      if (element.$patch === 'delete') {
        if (!Object.hasOwn(element, mergeKey)) {
          throw new PatchError(
            `map: ${JSON.stringify(element)} does not contain declared merge key: ${mergeKey}`,
          );
        }
        base = base.filter((v) => !(isObject(v) && sameKey(v[mergeKey], element[mergeKey])));
      } else if (element.$patch === 'replace') {
        replace = true;
      } else if (element.$patch === 'merge') {
        throw new PatchError('merging lists cannot yet be specified in the patch');
      } else {
        throw new PatchError(`unknown patch type: ${JSON.stringify(element.$patch)} in map`);
      }
    } else {
      items.push(element);
    }
  }
  if (replace) return items.map((v) => withoutDirectives(v));
  if (mergeKey === '') {
    const fromPatch = [...new Set(items)];
    const serverOnly = [...new Set(base)].filter((v) => !items.includes(v));
    return mergeSorted(serverOnly, fromPatch, original, (a, b) => a === b);
  }
  const merged = base;
  for (const element of items) {
    if (!isObject(element) || !Object.hasOwn(element, mergeKey)) {
      throw new PatchError(
        `map: ${JSON.stringify(element)} does not contain declared merge key: ${mergeKey}`,
      );
    }
    const at = merged.findIndex((v) => isObject(v) && sameKey(v[mergeKey], element[mergeKey]));
    const existing = merged[at];
    if (isObject(existing)) merged[at] = strategicMergeMap(existing, element, `${path}[]`, keys);
    else merged.push(strategicMergeMap({}, element, `${path}[]`, keys));
  }
  const same = (a: unknown, b: unknown): boolean =>
    isObject(a) && isObject(b) && sameKey(a[mergeKey], b[mergeKey]);
  const inPatch = (v: unknown): boolean => items.some((p) => same(p, v));
  const fromPatch = merged.filter(inPatch);
  fromPatch.sort((a, b) => indexIn(items, a, same) - indexIn(items, b, same));
  return mergeSorted(
    merged.filter((v) => !inPatch(v)),
    fromPatch,
    original,
    same,
  );
}

/** mergeSortedSlice: a server-only element goes first only when both are in the original and it was first. */
function mergeSorted(
  serverOnly: readonly unknown[],
  fromPatch: readonly unknown[],
  order: readonly unknown[],
  same: (a: unknown, b: unknown) => boolean,
): unknown[] {
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < serverOnly.length || j < fromPatch.length) {
    if (j >= fromPatch.length) out.push(serverOnly[i++]);
    else if (i >= serverOnly.length) out.push(fromPatch[j++]);
    else {
      const left = indexIn(order, serverOnly[i], same);
      const right = indexIn(order, fromPatch[j], same);
      if (left >= 0 && right >= 0 && left < right) out.push(serverOnly[i++]);
      else out.push(fromPatch[j++]);
    }
  }
  return out;
}

function indexIn(
  list: readonly unknown[],
  value: unknown,
  same: (a: unknown, b: unknown) => boolean,
): number {
  return list.findIndex((v) => same(v, value));
}

function sameKey(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A patch value as the typed decoder keeps it: `$` directive keys dropped at every level. */
function withoutDirectives(value: unknown): unknown {
  if (Array.isArray(value)) return (value as unknown[]).map(withoutDirectives);
  if (!isObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !key.startsWith('$'))
      .map(([key, child]) => [key, withoutDirectives(child)]),
  );
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
