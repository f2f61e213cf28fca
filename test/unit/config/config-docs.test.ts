import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as prettier from 'prettier';
import { describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  configReference,
  formatDuration,
  formatSize,
  generatedSection,
  replaceGeneratedSection,
} from '../../../agent/config/config-reference.js';
import { configSchema, type ConfigInput } from '../../../agent/config/config-schema.js';

const DOC_PATH = join(import.meta.dirname, '../../../docs/configuration.md');
const doc = readFileSync(DOC_PATH, 'utf8');
const STALE = 'docs/configuration.md is stale: run `npm run gen:config-docs`';

interface DocRow {
  key: string;
  default: string;
}

/** The rows of the generated table as the file has them (not as the generator would write them). */
function documentedRows(): DocRow[] {
  const section = generatedSection(doc);
  if (section === undefined) throw new Error('docs/configuration.md has lost its generated-section markers');
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const cells = line
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((c) => c.trim());
      return { key: (cells[0] ?? '').replace(/^`|`$/g, ''), default: cells[2] ?? '' };
    });
}

type JsonSchema = z.core.JSONSchema.BaseSchema;
type RuleInput = NonNullable<NonNullable<ConfigInput['responses']>['rules']>[number];
type ActionInput = RuleInput['actions'][number];

/**
 * The schema's keys read from its JSON Schema, independently of the generator's own walk, so a key the
 * generator skipped cannot pass unnoticed. Lists of discriminated unions use the docs' notation:
 * `sinks[].type` for the discriminator, `sinks[nats].url` for a variant's key.
 */
function schemaKeys(): { all: Set<string>; leaves: Set<string> } {
  const all = new Set<string>();
  const leaves = new Set<string>();
  const properties = (node: JsonSchema, prefix: string): void => {
    for (const [name, child] of Object.entries(node.properties ?? {})) {
      if (typeof child === 'boolean') throw new Error(`unexpected boolean schema at ${prefix}${name}`);
      const key = `${prefix}${name}`;
      all.add(key);
      value(child, key);
    }
  };
  const value = (node: JsonSchema, key: string): void => {
    const items = node.items;
    if (node.type === 'object' && node.properties !== undefined) {
      properties(node, `${key}.`);
    } else if (node.type === 'array' && typeof items === 'object' && !Array.isArray(items)) {
      const variants = items.oneOf ?? items.anyOf;
      if (variants !== undefined) {
        all.add(`${key}[].type`);
        leaves.add(`${key}[].type`);
        for (const variant of variants) {
          if (typeof variant === 'boolean') throw new Error(`unexpected boolean schema in ${key}`);
          const tag = variant.properties?.type;
          if (typeof tag !== 'object' || typeof tag.const !== 'string')
            throw new Error(`${key}: no type tag`);
          const variantKey = `${key}[${tag.const}]`;
          all.add(variantKey);
          const rest = Object.entries(variant.properties ?? {}).filter(([name]) => name !== 'type');
          properties({ properties: Object.fromEntries(rest) }, `${variantKey}.`);
        }
      } else if (items.type === 'object' && items.properties !== undefined) {
        properties(items, `${key}[].`);
      } else {
        leaves.add(key);
      }
    } else {
      leaves.add(key);
    }
  };
  properties(z.toJSONSchema(configSchema, { io: 'input' }), '');
  return { all, leaves };
}

describe('docs/configuration.md', () => {
  test('its generated table is what the schema generates (else: npm run gen:config-docs)', async () => {
    const expected = await prettier.format(replaceGeneratedSection(doc), {
      ...(await prettier.resolveConfig(DOC_PATH)),
      filepath: DOC_PATH,
    });
    expect(generatedSection(doc), STALE).toBeDefined();
    expect(generatedSection(doc), STALE).toBe(generatedSection(expected));
  });

  test('every key of the schema is in the table, and nothing else', () => {
    const { all, leaves } = schemaKeys();
    const documented = documentedRows().map((r) => r.key);
    expect(leaves.size).toBeGreaterThan(70);
    for (const key of leaves) expect(documented, `${key} is not documented: ${STALE}`).toContain(key);
    for (const key of documented) expect(all, `${key} is documented but not in the schema`).toContain(key);
    expect(new Set(documented).size, 'a key is documented twice').toBe(documented.length);
  });

  // Entries that make a key inside a list exist: the least each variant accepts.
  const rule: RuleInput = { name: 'r', match: {}, actions: [{ type: 'k8s_event' }] };
  const ruleWith = (action: ActionInput): ConfigInput => ({
    responses: { rules: [{ ...rule, actions: [action] }] },
  });
  const ACTION_AT = ['responses', 'rules', 0, 'actions', 0];
  const CONTEXTS: Record<string, { input: ConfigInput; at: (string | number)[] }> = {
    '': { input: {}, at: [] },
    'sources[auditd]': { input: { sources: [{ type: 'auditd' }] }, at: ['sources', 0] },
    'sources[kmsg]': { input: { sources: [{ type: 'kmsg' }] }, at: ['sources', 0] },
    'sources[journald]': { input: { sources: [{ type: 'journald' }] }, at: ['sources', 0] },
    'sources[syslog]': {
      input: { sources: [{ type: 'syslog', path: '/var/log/kern.log' }] },
      at: ['sources', 0],
    },
    'sinks[stdout]': { input: { sinks: [{ type: 'stdout' }] }, at: ['sinks', 0] },
    'sinks[file]': { input: { sinks: [{ type: 'file', path: '/tmp/events' }] }, at: ['sinks', 0] },
    'sinks[nats]': { input: { sinks: [{ type: 'nats', url: 'nats://nats:4222' }] }, at: ['sinks', 0] },
    'sinks[falco-http]': {
      input: { sinks: [{ type: 'falco-http', url: 'http://sidekick:2801/' }] },
      at: ['sinks', 0],
    },
    'responses.rules[]': { input: { responses: { rules: [rule] } }, at: ['responses', 'rules', 0] },
    'responses.rules[].actions[delete_pod]': { input: ruleWith({ type: 'delete_pod' }), at: ACTION_AT },
    'responses.rules[].actions[nft_quarantine]': {
      input: ruleWith({ type: 'nft_quarantine' }),
      at: ACTION_AT,
    },
    'responses.rules[].actions[netpol_quarantine]': {
      input: ruleWith({ type: 'netpol_quarantine' }),
      at: ACTION_AT,
    },
    'responses.rules[].actions[label]': { input: ruleWith({ type: 'label' }), at: ACTION_AT },
    'responses.rules[].actions[k8s_event]': { input: ruleWith({ type: 'k8s_event' }), at: ACTION_AT },
  };

  /** The config that holds `key`, and where: `sinks[nats].spool.maxBytes` → a nats sink, sinks.0.spool.maxBytes. */
  function locate(key: string): { input: ConfigInput; path: (string | number)[] } {
    const prefix = Object.keys(CONTEXTS)
      .filter((p) => p === '' || key.startsWith(`${p}.`))
      .sort((a, b) => b.length - a.length)[0];
    const context = prefix === undefined ? undefined : CONTEXTS[prefix];
    const rest = key.slice(prefix === '' ? 0 : (prefix ?? '').length + 1);
    if (context === undefined || rest.includes('[')) {
      throw new Error(`no minimal entry holds ${key}: add one to CONTEXTS`);
    }
    return { input: context.input, path: [...context.at, ...rest.split('.')] };
  }

  test('every literal default in the table is what the schema fills in when the key is absent', () => {
    let checked = 0;
    for (const row of documentedRows()) {
      const literal = /^`([^`]+)`$/.exec(row.default)?.[1];
      if (literal === undefined) continue;
      // The documented text is valid config as written (`2s`, `256MiB`, `[kube-system, kernwatch]`): set it,
      // and it must come out as the default does.
      const { input, path } = locate(row.key);
      const absent: unknown = configSchema.parse(input);
      const given: unknown = configSchema.parse(setAt(structuredClone(input), path, parseYaml(literal)));
      expect(getAt(absent, path), `${row.key}: the table says ${literal}`).toEqual(getAt(given, path));
      expect(getAt(absent, path), `${row.key} has no default`).toBeDefined();
      checked++;
    }
    expect(checked).toBeGreaterThan(40);
  });

  test('the empty configuration is valid, and each minimal entry is', () => {
    for (const { input } of Object.values(CONTEXTS)) expect(configSchema.safeParse(input).success).toBe(true);
  });
});

describe('the generator', () => {
  test('refuses a key without a description, wherever it is', () => {
    expect(() =>
      configReference(
        z.strictObject({ documented: z.string().meta({ description: 'yes' }), bare: z.number().default(1) }),
      ),
    ).toThrow(/'bare' has no description/);
    const variant = z.strictObject({ type: z.literal('a'), deep: z.string() }).meta({ description: 'an a' });
    const list = z.array(z.discriminatedUnion('type', [variant]).meta({ description: 'the kind' }));
    expect(() => configReference(z.strictObject({ list: list.meta({ description: 'a list' }) }))).toThrow(
      /'list\[a\]\.deep' has no description/,
    );
  });

  test('refuses a transformed type without a typeName', () => {
    const schema = z.strictObject({
      ms: z
        .string()
        .transform((s) => s.length)
        .meta({ description: 'x' }),
    });
    expect(() => configReference(schema)).toThrow(/'ms'.*typeName/);
  });

  test('writes durations and sizes in the largest unit that is exact', () => {
    expect([0, 20, 1500, 2000, 300_000, 3_600_000, 7 * 86_400_000].map(formatDuration)).toEqual([
      '0',
      '20ms',
      '1500ms',
      '2s',
      '5m',
      '1h',
      '7d',
    ]);
    expect([1000, 8 * 1024 ** 2, 256 * 1024 ** 2, 1024 ** 3].map(formatSize)).toEqual([
      '1000',
      '8MiB',
      '256MiB',
      '1GiB',
    ]);
  });
});

function getAt(value: unknown, path: readonly (string | number)[]): unknown {
  let node = value;
  for (const step of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string | number, unknown>)[step];
  }
  return node;
}

function setAt(root: ConfigInput, path: readonly (string | number)[], value: unknown): ConfigInput {
  let node = root as Record<string | number, unknown>;
  for (const [i, step] of path.entries()) {
    if (i === path.length - 1) {
      node[step] = value;
    } else {
      node[step] ??= {};
      node = node[step] as Record<string | number, unknown>;
    }
  }
  return root;
}
