/**
 * Field errors as k8s.io/apimachinery/pkg/util/validation/field renders them, for the fake API server's
 * 422 Invalid answers: `Kind.group "name" is invalid: field: Required value` for one error,
 * `[a: …, b: …]` for several, and one `details.causes` entry per error.
 */

export const FIELD_ERROR_TYPE = {
  required: 'FieldValueRequired',
  invalid: 'FieldValueInvalid',
} as const;
export type FieldErrorType = (typeof FIELD_ERROR_TYPE)[keyof typeof FIELD_ERROR_TYPE];

export interface FieldError {
  type: FieldErrorType;
  field: string;
  /** What ErrorBody prints: `Required value`, or `Invalid value: "x": detail`. */
  body: string;
}

export function required(field: string, detail = ''): FieldError {
  return {
    type: FIELD_ERROR_TYPE.required,
    field,
    body: `Required value${detail === '' ? '' : `: ${detail}`}`,
  };
}

/** field.Invalid: the bad value as Go's %q (strings) or JSON (anything else), then the detail. */
export function invalid(field: string, value: unknown, detail: string): FieldError {
  const shown = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value ?? null);
  return { type: FIELD_ERROR_TYPE.invalid, field, body: `Invalid value: ${shown}: ${detail}` };
}

/**
 * errors.NewInvalid's message: the aggregate is bare for one error, bracketed for several, and repeated
 * messages appear once (ToAggregate de-duplicates; `details.causes` keeps every error).
 */
export function invalidMessage(qualifiedKind: string, name: string, errors: readonly FieldError[]): string {
  const parts = [...new Set(errors.map((e) => `${e.field}: ${e.body}`))];
  const aggregate = parts.length === 1 ? (parts[0] ?? '') : `[${parts.join(', ')}]`;
  return `${qualifiedKind} ${JSON.stringify(name)} is invalid: ${aggregate}`;
}

export function invalidCauses(
  errors: readonly FieldError[],
): { reason: string; message: string; field: string }[] {
  return errors.map((e) => ({ reason: e.type, message: e.body, field: e.field }));
}

const DNS1123_SUBDOMAIN_MAX = 253;
const DNS1123_SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must " +
  "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is " +
  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** validation.IsDNS1123Subdomain: the messages for a bad name (empty when it is fine). */
export function dns1123SubdomainErrors(value: string): string[] {
  const errors: string[] = [];
  if (value.length > DNS1123_SUBDOMAIN_MAX)
    errors.push(`must be no more than ${DNS1123_SUBDOMAIN_MAX} characters`);
  if (!DNS1123_SUBDOMAIN.test(value)) errors.push(DNS1123_SUBDOMAIN_MESSAGE);
  return errors;
}

const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const QUALIFIED_NAME_PART_MESSAGE =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an " +
  "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is " +
  "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/** validation.IsQualifiedName: `[prefix/]name`, prefix a DNS subdomain, name at most 63 characters. */
export function qualifiedNameErrors(value: string): string[] {
  const parts = value.split('/');
  let name: string;
  const errors: string[] = [];
  if (parts.length === 1) name = parts[0] ?? '';
  else if (parts.length === 2) {
    const prefix = parts[0] ?? '';
    name = parts[1] ?? '';
    if (prefix === '') errors.push('prefix part must be non-empty');
    else errors.push(...dns1123SubdomainErrors(prefix).map((m) => `prefix part ${m}`));
  } else {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end " +
        "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for " +
        "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix " +
        "and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name === '') errors.push('name part must be non-empty');
  else if (name.length > 63) errors.push('name part must be no more than 63 characters');
  // Go checks the pattern even after reporting an empty name, so "" carries both messages.
  if (!QUALIFIED_NAME_PART.test(name)) errors.push(QUALIFIED_NAME_PART_MESSAGE);
  return errors;
}
