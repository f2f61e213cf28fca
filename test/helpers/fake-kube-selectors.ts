/**
 * Label and field selectors as the API server parses them (k8s.io/apimachinery labels.Parse and
 * fields.ParseSelector), for the fake API server. A parse error is returned as the message the real
 * server puts in its 400 Status.
 */

export type Matcher = (values: (key: string) => string | undefined) => boolean;

export type SelectorParse = { ok: true; match: Matcher } | { ok: false; message: string };

const MATCH_ALL: Matcher = () => true;

/** Splits on commas that are not inside `( … )` (set-based label requirements hold commas). */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms.map((t) => t.trim());
}

function isLabelKey(key: string): boolean {
  if (key === '' || key.length > 317) return false;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    const ok =
      (c >= 48 && c <= 57) ||
      (c >= 65 && c <= 90) ||
      (c >= 97 && c <= 122) ||
      c === 45 ||
      c === 46 ||
      c === 95 ||
      c === 47;
    if (!ok) return false;
  }
  return true;
}

function isLabelValue(value: string): boolean {
  if (value.length > 63) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const ok =
      (c >= 48 && c <= 57) ||
      (c >= 65 && c <= 90) ||
      (c >= 97 && c <= 122) ||
      c === 45 ||
      c === 46 ||
      c === 95;
    if (!ok) return false;
  }
  return true;
}

/** `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x,y)`, comma-separated and ANDed. */
export function parseLabelSelector(selector: string | undefined): SelectorParse {
  if (selector === undefined || selector.trim() === '') return { ok: true, match: MATCH_ALL };
  const requirements: Matcher[] = [];
  for (const term of splitTerms(selector)) {
    const requirement = parseLabelRequirement(term);
    if (requirement === undefined)
      return { ok: false, message: `unable to parse requirement: ${JSON.stringify(term)}` };
    requirements.push(requirement);
  }
  return { ok: true, match: (values) => requirements.every((r) => r(values)) };
}

function parseLabelRequirement(term: string): Matcher | undefined {
  if (term.startsWith('!')) {
    const key = term.slice(1).trim();
    return isLabelKey(key) ? (values) => values(key) === undefined : undefined;
  }
  const setMatch = /^(\S+)\s+(in|notin)\s+\(([^()]*)\)$/.exec(term);
  if (setMatch !== null) {
    const [, key = '', operator, list = ''] = setMatch;
    const members = list.split(',').map((v) => v.trim());
    if (!isLabelKey(key) || !members.every(isLabelValue)) return undefined;
    return operator === 'in'
      ? (values) => {
          const value = values(key);
          return value !== undefined && members.includes(value);
        }
      : (values) => {
          const value = values(key);
          return value === undefined || !members.includes(value);
        };
  }
  const operator = term.includes('!=')
    ? '!='
    : term.includes('==')
      ? '=='
      : term.includes('=')
        ? '='
        : undefined;
  if (operator === undefined) return isLabelKey(term) ? (values) => values(term) !== undefined : undefined;
  const at = term.indexOf(operator);
  const key = term.slice(0, at).trim();
  const value = term.slice(at + operator.length).trim();
  if (!isLabelKey(key) || !isLabelValue(value)) return undefined;
  // `!=` also matches objects without the label, as in the real selector.
  return operator === '!=' ? (values) => values(key) !== value : (values) => values(key) === value;
}

export interface FieldSelectorParse {
  ok: true;
  match: Matcher;
  /** The field labels used, for the resource's supported-field check. */
  fields: string[];
}

/**
 * `field=value`, `field==value`, `field!=value`, comma-separated and ANDed; `\,` `\=` `\!` `\\` escape.
 * Which fields are allowed is the resource's business (`field label not supported: X`).
 */
export function parseFieldSelector(
  selector: string | undefined,
): FieldSelectorParse | { ok: false; message: string } {
  if (selector === undefined || selector.trim() === '') return { ok: true, match: MATCH_ALL, fields: [] };
  const terms: { field: string; value: string; negate: boolean }[] = [];
  for (const raw of splitEscaped(selector, ',')) {
    const term = raw.trim();
    const ne = indexUnescaped(term, '!=');
    const eq = indexUnescaped(term, '=');
    let field: string;
    let value: string;
    let negate = false;
    if (ne >= 0 && ne <= eq) {
      field = term.slice(0, ne);
      value = term.slice(ne + 2);
      negate = true;
    } else if (eq >= 0) {
      field = term.slice(0, eq);
      value = term.slice(term.startsWith('==', eq) ? eq + 2 : eq + 1);
    } else {
      return { ok: false, message: `invalid selector: '${selector}'; can't understand '${term}'` };
    }
    terms.push({ field: field.trim(), value: unescapeFieldValue(value), negate });
  }
  return {
    ok: true,
    fields: terms.map((t) => t.field),
    match: (values) => terms.every((t) => (values(t.field) === t.value) !== t.negate),
  };
}

function indexUnescaped(text: string, token: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') {
      i++;
      continue;
    }
    if (text.startsWith(token, i)) return i;
  }
  return -1;
}

function splitEscaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') {
      i++;
      continue;
    }
    if (text[i] === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function unescapeFieldValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '\\' && i + 1 < value.length) i++;
    out += value.charAt(i);
  }
  return out;
}
