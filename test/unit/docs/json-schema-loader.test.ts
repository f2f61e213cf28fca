import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import {
  compileJsonSchema,
  JSON_SCHEMA,
  readJsonSchema,
  unenforcedKeywords,
} from '../../helpers/json-schema.js';

/**
 * The loader of docs/schema/ (test/helpers/json-schema.ts) on top of z.fromJSONSchema: what it lets
 * through is enforced, and what z.fromJSONSchema would silently not enforce is refused before any value
 * is validated, so a schema cannot pass everything without anyone noticing.
 */

const DRAFT = 'https://json-schema.org/draft/2020-12/schema';

/** A schema document around `body`. */
function doc(body: Record<string, unknown>, defs?: Record<string, unknown>): Record<string, unknown> {
  return { $schema: DRAFT, ...body, ...(defs === undefined ? {} : { $defs: defs }) };
}

function zodAlone(schema: Record<string, unknown>, value: unknown): boolean {
  return z.fromJSONSchema(schema).safeParse(value).success;
}

describe('what z.fromJSONSchema silently does not enforce is refused', () => {
  // Each schema, and a value it rejects as JSON Schema means it, which z.fromJSONSchema alone accepts.
  const silent: [string, Record<string, unknown>, unknown, string][] = [
    [
      'a misspelt keyword',
      doc({ type: 'object', properties: { a: { type: 'string' } }, requried: ['a'] }),
      {},
      'keyword requried is not enforced',
    ],
    [
      'a keyword of another draft (dependencies)',
      doc({ type: 'object', properties: { a: true, b: true }, dependencies: { a: ['b'] } }),
      { a: 1 },
      'keyword dependencies is not enforced',
    ],
    [
      'a format zod does not know',
      doc({ type: 'string', format: 'hostname-idn' }),
      'a b',
      'format "hostname-idn"',
    ],
    [
      'object keywords without type: object',
      doc({ properties: { a: { type: 'string' } }, required: ['a'] }),
      {},
      'properties without type object is ignored',
    ],
    [
      'string keywords without type: string',
      doc({ pattern: '^a$' }),
      'b',
      'pattern without type string is ignored',
    ],
    [
      'number keywords without type',
      doc({ minimum: 1 }),
      0,
      'minimum without type integer or number is ignored',
    ],
    [
      'required naming a key missing from properties',
      doc({ type: 'object', properties: { a: { type: 'string' } }, required: ['a', 'b'] }),
      { a: 'x' },
      'required b is not in properties',
    ],
    [
      'keywords beside $ref',
      doc({ $ref: '#/$defs/s', maxLength: 1 }, { s: { type: 'string' } }),
      'long',
      'maxLength beside $ref are ignored',
    ],
    ['type beside const', doc({ const: 'a', type: 'integer' }), 'a', 'type beside const are ignored'],
    [
      'array bounds without items',
      doc({ type: 'array', minItems: 1 }),
      [],
      'minItems without items is ignored',
    ],
    [
      'a $ref into a definition',
      doc(
        { type: 'object', properties: { a: { $ref: '#/$defs/outer/properties/inner' } } },
        { outer: { type: 'object', properties: { inner: { type: 'integer' } } } },
      ),
      { a: {} },
      'is not #/$defs/<name>',
    ],
  ];

  test.each(silent)('%s', (_what, schema, value, problem) => {
    expect(zodAlone(schema, value)).toBe(true);
    expect(() => compileJsonSchema(schema)).toThrow(problem);
  });

  // z.fromJSONSchema throws for these itself; the loader names them first, with the others.
  const unsupported: [string, Record<string, unknown>, string][] = [
    ['if/then/else', doc({ type: 'object', if: true, then: true }), 'keyword if is not enforced'],
    ['not', doc({ type: 'string', not: { const: 'a' } }), 'keyword not is not enforced'],
    [
      'dependentRequired',
      doc({ type: 'object', properties: { a: true }, dependentRequired: { a: ['b'] } }),
      'keyword dependentRequired is not enforced',
    ],
    [
      'unevaluatedProperties',
      doc({ type: 'object', unevaluatedProperties: false }),
      'keyword unevaluatedProperties is not enforced',
    ],
    ['an external $ref', doc({ $ref: 'other.schema.json#/$defs/a' }), 'is not #/$defs/<name>'],
  ];

  test.each(unsupported)('%s', (_what, schema, problem) => {
    expect(() => compileJsonSchema(schema)).toThrow(problem);
  });

  // Valid JSON Schema, but not what these schemas mean to say.
  const refused: [string, Record<string, unknown>, string][] = [
    [
      'an unanchored pattern (it matches anywhere)',
      doc({ type: 'string', pattern: '[0-9]+' }),
      'not anchored',
    ],
    [
      'a subschema that accepts anything',
      doc({ type: 'object', properties: { a: { description: 'x' } } }),
      'accepts anything',
    ],
    [
      'another draft',
      { ...doc({ type: 'string' }), $schema: 'http://json-schema.org/draft-07/schema#' },
      '$schema must be',
    ],
    [
      '$defs below the root',
      doc({ type: 'object', properties: { a: { type: 'string', $defs: {} } } }),
      'only at the root',
    ],
  ];

  test.each(refused)('%s', (_what, schema, problem) => {
    expect(() => compileJsonSchema(schema)).toThrow(problem);
  });

  test('the schema files use nothing of that', () => {
    for (const name of Object.values(JSON_SCHEMA))
      expect(unenforcedKeywords(readJsonSchema(name)), name).toEqual([]);
  });
});

describe('additionalProperties: false beside allOf/anyOf/oneOf still rejects unknown keys', () => {
  // zod makes the composition an intersection, which reports an unknown key only if both sides reject it.
  const schema = doc({
    type: 'object',
    properties: { kind: { enum: ['a', 'b'] }, n: { type: 'integer' } },
    required: ['kind'],
    additionalProperties: false,
    oneOf: [
      { type: 'object', properties: { kind: { const: 'a' }, n: false } },
      { type: 'object', properties: { kind: { const: 'b' }, n: { type: 'integer' } }, required: ['n'] },
    ],
  });

  test('z.fromJSONSchema alone lets the unknown key through; the loader does not', () => {
    const value = { kind: 'a', extra: 1 };
    expect(zodAlone(schema, value)).toBe(true);
    expect(compileJsonSchema(schema)(value)).toEqual(['(root): Unrecognized key: "extra"']);
  });

  test('the composition itself still holds', () => {
    const errors = compileJsonSchema(schema);
    expect(errors({ kind: 'a' })).toEqual([]);
    expect(errors({ kind: 'b', n: 1 })).toEqual([]);
    expect(errors({ kind: 'a', n: 1 })).not.toEqual([]);
    expect(errors({ kind: 'b' })).not.toEqual([]);
  });
});

describe('every keyword the loader lets through is enforced', () => {
  const cases: [string, Record<string, unknown>, unknown, unknown][] = [
    ['type integer', { type: 'integer' }, 3, 3.5],
    ['type boolean', { type: 'boolean' }, false, 0],
    ['enum', { enum: ['a', 'b'] }, 'b', 'c'],
    ['const', { const: 1 }, 1, 2],
    ['required', { type: 'object', properties: { a: true }, required: ['a'] }, { a: 1 }, {}],
    ['additionalProperties false', { type: 'object', additionalProperties: false }, {}, { a: 1 }],
    [
      'additionalProperties as a schema',
      { type: 'object', additionalProperties: { type: 'string' } },
      { a: 'x' },
      { a: 1 },
    ],
    ['a property false', { type: 'object', properties: { a: false } }, {}, { a: 1 }],
    ['minProperties', { type: 'object', minProperties: 1 }, { a: 1 }, {}],
    ['maxProperties', { type: 'object', maxProperties: 0 }, {}, { a: 1 }],
    ['items', { type: 'array', items: { type: 'string' } }, ['a'], [1]],
    ['minItems', { type: 'array', items: true, minItems: 1 }, [1], []],
    ['maxItems', { type: 'array', items: true, maxItems: 1 }, [1], [1, 2]],
    ['uniqueItems', { type: 'array', uniqueItems: true }, ['a', 'b'], ['a', 'a']],
    ['contains', { type: 'array', contains: { const: 'x' } }, ['a', 'x'], ['a']],
    ['pattern', { type: 'string', pattern: '^a+$' }, 'aa', 'ab'],
    ['minLength', { type: 'string', minLength: 1 }, 'a', ''],
    ['maxLength', { type: 'string', maxLength: 1 }, 'a', 'ab'],
    ['format date-time', { type: 'string', format: 'date-time' }, '2026-11-28T11:38:47.052Z', '2026-11-28'],
    ['format ipv4', { type: 'string', format: 'ipv4' }, '10.244.1.7', '10.244.1.300'],
    ['format ipv6', { type: 'string', format: 'ipv6' }, 'fd00:10:244:1::7', 'fd00::1::7'],
    ['minimum', { type: 'integer', minimum: -1 }, -1, -2],
    ['maximum', { type: 'integer', maximum: 8 }, 8, 9],
    ['exclusiveMinimum', { type: 'number', exclusiveMinimum: 0 }, 0.5, 0],
    ['allOf', { allOf: [{ type: 'integer' }, { type: 'integer', minimum: 2 }] }, 2, 1],
    ['anyOf', { anyOf: [{ const: 'a' }, { type: 'integer' }] }, 3, 'b'],
    ['oneOf (exactly one)', { oneOf: [{ type: 'integer' }, { type: 'integer', minimum: 2 }] }, 1, 2],
    ['$ref', { $ref: '#/$defs/s' }, 'a', 1],
  ];

  test.each(cases)('%s', (_what, body, good, bad) => {
    const errors = compileJsonSchema(doc(body, { s: { type: 'string' } }));
    expect(errors(good)).toEqual([]);
    expect(errors(bad)).not.toEqual([]);
  });

  test('null is not an absent optional field', () => {
    const errors = compileJsonSchema(doc({ type: 'object', properties: { a: { type: 'string' } } }));
    expect(errors({})).toEqual([]);
    expect(errors({ a: null })).not.toEqual([]);
  });

  test('problems name the path and, for alternatives, what each one wanted', () => {
    const errors = compileJsonSchema(
      doc({
        type: 'object',
        properties: {
          p: { type: 'object', properties: { n: { type: 'integer' } }, additionalProperties: false },
        },
        additionalProperties: false,
        anyOf: [
          { type: 'object', properties: { p: { type: 'object', properties: { n: { const: 1 } } } } },
          { type: 'object', properties: { p: { type: 'object', properties: { n: { const: 2 } } } } },
        ],
      }),
    );
    expect(errors({ p: { n: 'x', m: 1 } })).toEqual([
      'p.n: Invalid input: expected number, received string',
      'p: Unrecognized key: "m"',
      '(root): no alternative matched: (p.n: Invalid input: expected 1) or (p.n: Invalid input: expected 2)',
    ]);
  });
});
