import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/**
 * The JSON Schema files of docs/schema/ as validators, through zod's `z.fromJSONSchema`.
 *
 * `z.fromJSONSchema` is not a full JSON Schema validator, and where it falls short it mostly falls short
 * silently: a keyword it does not know becomes metadata, a `format` it does not know is skipped, `required`
 * names missing from `properties` are ignored, keywords beside `$ref`, `enum` or `const` are dropped, a
 * schema without `type` accepts anything, an array without `items` loses its bounds, `$ref` reads only
 * the first segment after `#/$defs/`. So before converting, every subschema is checked against the subset
 * this loader knows zod enforces, and anything outside it is an error, never a schema that passes
 * everything.
 *
 * One gap cannot be refused, because the schemas need it: zod turns `allOf`/`anyOf`/`oneOf` beside an
 * object's own keywords into an intersection, and an intersection reports an unknown key only when BOTH
 * sides reject it, so `additionalProperties: false` next to a composition stops rejecting anything. Each
 * value is therefore also validated against the same schema without its compositions, where every
 * `additionalProperties: false` holds; dropping compositions only removes constraints, so that second
 * check can never reject a valid value.
 */

export const SCHEMA_DIR = fileURLToPath(new URL('../../docs/schema/', import.meta.url));

export const JSON_SCHEMA = {
  denial: 'kernwatch.v1',
  action: 'kernwatch.v1.action',
  posture: 'kernwatch.v1.posture',
} as const;
export type JsonSchemaName = (typeof JSON_SCHEMA)[keyof typeof JSON_SCHEMA];

export type JsonObject = Record<string, unknown>;

/** The problems of a value (none: []), each as `path: what is wrong`. */
export type SchemaErrors = (value: unknown) => string[];

export function readJsonSchema(name: JsonSchemaName): JsonObject {
  const parsed: unknown = JSON.parse(readFileSync(join(SCHEMA_DIR, `${name}.schema.json`), 'utf8'));
  if (!isObject(parsed)) throw new Error(`${name}.schema.json is not a JSON object`);
  return parsed;
}

const DRAFT_2020_12 = 'https://json-schema.org/draft/2020-12/schema';

const ANNOTATIONS: ReadonlySet<string> = new Set(['title', 'description', '$comment', 'examples']);
const ROOT_ONLY: ReadonlySet<string> = new Set(['$schema', '$defs']);
const COMPOSITIONS = ['allOf', 'anyOf', 'oneOf'] as const;
const GENERAL: ReadonlySet<string> = new Set(['type', 'enum', 'const', '$ref', ...COMPOSITIONS]);
/** Keywords zod applies only under their `type`: without it the subschema becomes z.any(). */
const BY_TYPE: Readonly<Record<string, readonly string[]>> = {
  object: ['properties', 'required', 'additionalProperties', 'minProperties', 'maxProperties'],
  array: ['items', 'minItems', 'maxItems', 'uniqueItems', 'contains'],
  string: ['pattern', 'minLength', 'maxLength', 'format'],
  integer: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'],
  number: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'],
  boolean: [],
};
function typesOf(keyword: string): string[] {
  return Object.entries(BY_TYPE)
    .filter(([, keywords]) => keywords.includes(keyword))
    .map(([type]) => type);
}
/** Formats zod checks; it passes any other format without a word. */
const FORMATS: ReadonlySet<string> = new Set(['date-time', 'ipv4', 'ipv6']);

/**
 * Everything in `schema` that z.fromJSONSchema would not enforce as JSON Schema means it, or that this
 * loader does not allow (unanchored patterns). Empty: every keyword is enforced.
 */
export function unenforcedKeywords(schema: unknown): string[] {
  const out: string[] = [];
  if (!isObject(schema)) return ['(root): not a JSON Schema object'];
  if (schema.$schema !== DRAFT_2020_12) out.push(`(root): $schema must be ${DRAFT_2020_12}`);
  const defs = schema.$defs ?? {};
  if (!isObject(defs)) out.push('(root): $defs is not an object');
  const ctx: WalkContext = { defs: isObject(defs) ? defs : {}, out };
  checkSchema(schema, '#', true, ctx);
  if (isObject(defs)) for (const [k, d] of Object.entries(defs)) checkSchema(d, `#/$defs/${k}`, false, ctx);
  return out;
}

interface WalkContext {
  defs: JsonObject;
  out: string[];
}

/** Keys that constrain nothing, or nothing of this subschema. */
function ignorable(key: string): boolean {
  return ANNOTATIONS.has(key) || ROOT_ONLY.has(key);
}

function checkSchema(s: unknown, path: string, isRoot: boolean, ctx: WalkContext): void {
  const problem = (what: string): void => {
    ctx.out.push(`${path}: ${what}`);
  };
  if (typeof s === 'boolean') return;
  if (!isObject(s)) {
    problem('not a schema');
    return;
  }
  const type = s.type;
  if (type !== undefined && (typeof type !== 'string' || BY_TYPE[type] === undefined)) {
    problem(`type ${JSON.stringify(type)} is not one of ${Object.keys(BY_TYPE).join(', ')}`);
  }
  const typed = typeof type === 'string' ? (BY_TYPE[type] ?? []) : [];
  const constraints: string[] = [];
  for (const key of Object.keys(s)) {
    if (ANNOTATIONS.has(key)) continue;
    if (ROOT_ONLY.has(key)) {
      if (!isRoot) problem(`${key} only at the root`);
      continue;
    }
    if (GENERAL.has(key) || typed.includes(key)) {
      if (key !== 'type') constraints.push(key);
      continue;
    }
    const types = typesOf(key);
    problem(
      types.length === 0
        ? `keyword ${key} is not enforced by z.fromJSONSchema (or not allowed by this loader)`
        : `${key} without type ${types.join(' or ')} is ignored by z.fromJSONSchema`,
    );
  }
  if (type === undefined && constraints.length === 0) problem('accepts anything: write true');

  const ref = s.$ref;
  if (ref !== undefined) {
    const m = typeof ref === 'string' ? /^#\/\$defs\/([^/]+)$/.exec(ref) : null;
    if (m?.[1] === undefined || ctx.defs[m[1]] === undefined) {
      problem(`$ref ${JSON.stringify(ref)} is not #/$defs/<name>`);
    }
    const beside = Object.keys(s).filter((k) => k !== '$ref' && !ignorable(k));
    if (beside.length > 0) problem(`${beside.join(', ')} beside $ref are ignored by z.fromJSONSchema`);
  }
  for (const key of ['enum', 'const'] as const) {
    if (s[key] === undefined) continue;
    const beside = Object.keys(s).filter((k) => k !== key && !ignorable(k));
    if (beside.length > 0) problem(`${beside.join(', ')} beside ${key} are ignored by z.fromJSONSchema`);
  }
  if (s.enum !== undefined && (!Array.isArray(s.enum) || s.enum.length === 0)) problem('enum is not a list');

  const properties = s.properties;
  if (properties !== undefined) {
    if (!isObject(properties)) problem('properties is not an object');
    else
      for (const [k, p] of Object.entries(properties)) checkSchema(p, `${path}/properties/${k}`, false, ctx);
  }
  const required = s.required;
  if (required !== undefined) {
    const declared = isObject(properties) ? Object.keys(properties) : [];
    if (!Array.isArray(required) || !required.every((r) => typeof r === 'string')) {
      problem('required is not a list of names');
    } else {
      for (const r of required) {
        if (!declared.includes(r)) problem(`required ${r} is not in properties: z.fromJSONSchema ignores it`);
      }
    }
  }
  const additional = s.additionalProperties;
  if (additional !== undefined && typeof additional !== 'boolean') {
    checkSchema(additional, `${path}/additionalProperties`, false, ctx);
  }
  if (s.items !== undefined) {
    if (Array.isArray(s.items)) problem('items as a list (tuple) is not used here');
    else checkSchema(s.items, `${path}/items`, false, ctx);
  }
  // Without items zod makes the array z.array(z.any()) and drops its bounds.
  for (const key of ['minItems', 'maxItems'] as const) {
    if (s[key] !== undefined && s.items === undefined)
      problem(`${key} without items is ignored by z.fromJSONSchema`);
  }
  if (s.contains !== undefined) checkSchema(s.contains, `${path}/contains`, false, ctx);
  const pattern = s.pattern;
  if (pattern !== undefined) {
    if (typeof pattern !== 'string') {
      problem('pattern is not a string');
    } else {
      // JSON Schema patterns match anywhere: an anchor forgotten would pass far more than intended.
      if (!pattern.startsWith('^') || !pattern.endsWith('$')) problem(`pattern ${pattern} is not anchored`);
      try {
        new RegExp(pattern, 'u');
      } catch {
        problem(`pattern ${pattern} is not an ECMA-262 unicode regular expression`);
      }
    }
  }
  const format = s.format;
  if (format !== undefined && (typeof format !== 'string' || !FORMATS.has(format))) {
    problem(`format ${JSON.stringify(format)} is not checked by z.fromJSONSchema`);
  }
  for (const key of COMPOSITIONS) {
    const branches = s[key];
    if (branches === undefined) continue;
    if (!Array.isArray(branches) || branches.length === 0) {
      problem(`${key} is not a non-empty list`);
      continue;
    }
    branches.forEach((b, i) => {
      checkSchema(b, `${path}/${key}/${String(i)}`, false, ctx);
    });
  }
}

/** The schema with every allOf/anyOf/oneOf taken out (the strict-keys pass; see the file comment). */
function withoutCompositions(s: unknown): unknown {
  if (!isObject(s)) return s;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(s)) {
    if ((COMPOSITIONS as readonly string[]).includes(key)) continue;
    if ((key === 'properties' || key === '$defs') && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutCompositions(v)]));
    } else if (key === 'items' || key === 'contains' || key === 'additionalProperties') {
      out[key] = withoutCompositions(value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

type JsonSchemaInput = Parameters<typeof z.fromJSONSchema>[0];

/** A validator for `schema`; throws when the schema uses anything zod would not enforce. */
export function compileJsonSchema(schema: unknown): SchemaErrors {
  const problems = unenforcedKeywords(schema);
  if (problems.length > 0)
    throw new Error(`schema not enforceable by z.fromJSONSchema:\n${problems.join('\n')}`);
  const full = z.fromJSONSchema(schema as JsonSchemaInput, { registry: z.registry() });
  const strictKeys = z.fromJSONSchema(withoutCompositions(schema) as JsonSchemaInput, {
    registry: z.registry(),
  });
  return (value) => {
    const found = [...issuesOf(strictKeys, value), ...issuesOf(full, value)];
    return [...new Set(found)];
  };
}

function issuesOf(schema: z.ZodType, value: unknown): string[] {
  try {
    const r = schema.safeParse(value);
    return r.success ? [] : describeIssues(r.error.issues, []);
  } catch (err) {
    // An intersection whose sides parse to different values throws instead of reporting.
    return [`(root): ${err instanceof Error ? err.message : String(err)}`];
  }
}

function describeIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[]): string[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const branches = issue.errors.map((b) => `(${describeIssues(b, path).join('; ')})`);
      return [`${pathText(path)}: no alternative matched: ${branches.join(' or ')}`];
    }
    return [`${pathText(path)}: ${issue.message}`];
  });
}

function pathText(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(root)' : path.map(String).join('.');
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const compiled = new Map<JsonSchemaName, SchemaErrors>();

/** The validator of docs/schema/<name>.schema.json, compiled once. */
export function schemaErrorsOf(name: JsonSchemaName): SchemaErrors {
  let validate = compiled.get(name);
  if (validate === undefined) {
    validate = compileJsonSchema(readJsonSchema(name));
    compiled.set(name, validate);
  }
  return validate;
}

/** Problems of a denial event against docs/schema/kernwatch.v1.schema.json. */
export function denialSchemaErrors(value: unknown): string[] {
  return schemaErrorsOf(JSON_SCHEMA.denial)(value);
}

/** Problems of an action event against docs/schema/kernwatch.v1.action.schema.json. */
export function actionSchemaErrors(value: unknown): string[] {
  return schemaErrorsOf(JSON_SCHEMA.action)(value);
}

/** Problems of a posture event against docs/schema/kernwatch.v1.posture.schema.json. */
export function postureSchemaErrors(value: unknown): string[] {
  return schemaErrorsOf(JSON_SCHEMA.posture)(value);
}
