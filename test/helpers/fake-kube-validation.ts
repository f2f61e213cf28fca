/**
 * Field errors as k8s.io/apimachinery/pkg/util/validation/field renders them, for the fake API server's
 * 422 Invalid answers: `Kind.group "name" is invalid: field: Required value` for one error,
 * `[a: …, b: …]` for several, and one `details.causes` entry per error.
 */

export const FIELD_ERROR_TYPE = {
  required: 'FieldValueRequired',
  invalid: 'FieldValueInvalid',
  forbidden: 'FieldValueForbidden',
  notSupported: 'FieldValueNotSupported',
  tooLong: 'FieldValueTooLong',
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
  return invalidShown(field, shownValue(value), detail);
}

/** field.Invalid with the value already rendered as Go prints it (`[]string{"a"}` for a slice, say). */
export function invalidShown(field: string, shown: string, detail: string): FieldError {
  return { type: FIELD_ERROR_TYPE.invalid, field, body: `Invalid value: ${shown}: ${detail}` };
}

export function forbidden(field: string, detail: string): FieldError {
  return { type: FIELD_ERROR_TYPE.forbidden, field, body: `Forbidden: ${detail}` };
}

/** field.NotSupported: the value, then `supported values: "A", "B"` in the order the validator lists them. */
export function notSupported(field: string, value: unknown, supported: readonly string[]): FieldError {
  return notSupportedShown(field, shownValue(value), supported);
}

/** field.NotSupported with the value already rendered as Go prints it. */
export function notSupportedShown(field: string, shown: string, supported: readonly string[]): FieldError {
  const list = supported.map((v) => JSON.stringify(v)).join(', ');
  return {
    type: FIELD_ERROR_TYPE.notSupported,
    field,
    body: `Unsupported value: ${shown}${list === '' ? '' : `: supported values: ${list}`}`,
  };
}

/** field.TooLong as v1.28-v1.31 word it (the value itself is never shown). */
export function tooLong(field: string, maxBytes: number): FieldError {
  return { type: FIELD_ERROR_TYPE.tooLong, field, body: `Too long: must have at most ${maxBytes} bytes` };
}

/** Go's %#v of a []string: `[]string{"a", "b"}`. */
export function goStringSlice(values: readonly string[]): string {
  return `[]string{${values.map((v) => JSON.stringify(v)).join(', ')}}`;
}

function shownValue(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value ?? null);
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

const LABEL_VALUE_MAX = 63;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_VALUE_MESSAGE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must " +
  "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for " +
  "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/** validation.IsValidLabelValue (Go's len(): bytes). */
export function labelValueErrors(value: string): string[] {
  const errors: string[] = [];
  if (Buffer.byteLength(value, 'utf8') > LABEL_VALUE_MAX)
    errors.push(`must be no more than ${LABEL_VALUE_MAX} characters`);
  if (!LABEL_VALUE.test(value)) errors.push(LABEL_VALUE_MESSAGE);
  return errors;
}

/**
 * v1validation.ValidateLabels: every key a qualified name, every value a label value, all reported on the
 * map's own path. Go walks the map in random order; the fake walks it sorted by key.
 */
export function validateLabels(labels: unknown, path: string): FieldError[] {
  const errors: FieldError[] = [];
  for (const [key, value] of sortedEntries(labels)) {
    for (const m of qualifiedNameErrors(key)) errors.push(invalid(path, key, m));
    const text = typeof value === 'string' ? value : '';
    for (const m of labelValueErrors(text)) errors.push(invalid(path, text, m));
  }
  return errors;
}

/** apimachinery's TotalAnnotationSizeLimitB: keys and values together. */
const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;

/** ValidateAnnotations: keys are qualified names once lower-cased; keys and values at most 256 KiB in all. */
export function validateAnnotations(annotations: unknown, path: string): FieldError[] {
  const errors: FieldError[] = [];
  let size = 0;
  for (const [key, value] of sortedEntries(annotations)) {
    for (const m of qualifiedNameErrors(key.toLowerCase())) errors.push(invalid(path, key, m));
    size +=
      Buffer.byteLength(key, 'utf8') + Buffer.byteLength(typeof value === 'string' ? value : '', 'utf8');
  }
  if (size > TOTAL_ANNOTATION_SIZE_LIMIT) errors.push(tooLong(path, TOTAL_ANNOTATION_SIZE_LIMIT));
  return errors;
}

/**
 * ValidateObjectMeta for a create: the name (required, or the resource's name rule), labels, annotations.
 * `nameErrors` is the resource's name validator (DNS-1123 subdomain for most).
 */
export function validateObjectMetaCreate(
  metadata: Record<string, unknown>,
  nameErrors: (name: string) => string[] = dns1123SubdomainErrors,
): FieldError[] {
  const errors: FieldError[] = [];
  const name = typeof metadata.name === 'string' ? metadata.name : '';
  if (name === '') errors.push(required('metadata.name', 'name or generateName is required'));
  else for (const m of nameErrors(name)) errors.push(invalid('metadata.name', name, m));
  errors.push(...validateLabels(metadata.labels, 'metadata.labels'));
  errors.push(...validateAnnotations(metadata.annotations, 'metadata.annotations'));
  return errors;
}

/**
 * ValidateObjectMetaAccessorUpdate for what an update can still get wrong once the server has restored
 * its own fields: no new finalizers on an object being deleted, deletionTimestamp and
 * deletionGracePeriodSeconds set by the client, labels and annotations.
 */
export function validateObjectMetaUpdate(
  metadata: Record<string, unknown>,
  previous: Record<string, unknown>,
): FieldError[] {
  const errors: FieldError[] = [];
  if (previous.deletionTimestamp !== undefined) {
    const before = new Set(stringList(previous.finalizers));
    const added = [...new Set(stringList(metadata.finalizers))].filter((f) => !before.has(f)).sort();
    if (added.length > 0) {
      errors.push(
        forbidden(
          'metadata.finalizers',
          `no new finalizers can be added if the object is being deleted, found new finalizers ${goStringSlice(added)}`,
        ),
      );
    }
  }
  if (metadata.deletionTimestamp !== previous.deletionTimestamp) {
    // metav1.Time is a fmt.Stringer: Go prints it as time.Time.String(), unquoted.
    errors.push(
      invalidShown(
        'metadata.deletionTimestamp',
        goTimeString(metadata.deletionTimestamp),
        'field is immutable',
      ),
    );
  }
  if (metadata.deletionGracePeriodSeconds !== previous.deletionGracePeriodSeconds) {
    errors.push(
      invalid(
        'metadata.deletionGracePeriodSeconds',
        metadata.deletionGracePeriodSeconds,
        'field is immutable',
      ),
    );
  }
  errors.push(...validateLabels(metadata.labels, 'metadata.labels'));
  errors.push(...validateAnnotations(metadata.annotations, 'metadata.annotations'));
  return errors;
}

/**
 * v1validation.ValidateLabelSelector with AllowInvalidLabelValueInSelector off (a new object): matchLabels as
 * labels, each matchExpression's operator and values, its key a qualified name, its values label values.
 * An empty selector (`{}`) is valid: it selects everything.
 */
export function validateLabelSelector(selector: unknown, path: string): FieldError[] {
  const errors: FieldError[] = [];
  const value = asRecord(selector);
  errors.push(...validateLabels(value.matchLabels, `${path}.matchLabels`));
  const expressions = Array.isArray(value.matchExpressions) ? (value.matchExpressions as unknown[]) : [];
  expressions.forEach((raw, i) => {
    const at = `${path}.matchExpressions[${i}]`;
    const expression = asRecord(raw);
    const operator = typeof expression.operator === 'string' ? expression.operator : '';
    const values = Array.isArray(expression.values) ? (expression.values as unknown[]) : [];
    if (operator === 'In' || operator === 'NotIn') {
      if (values.length === 0)
        errors.push(required(`${at}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
    } else if (operator === 'Exists' || operator === 'DoesNotExist') {
      if (values.length > 0)
        errors.push(
          forbidden(`${at}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"),
        );
    } else {
      errors.push(invalid(`${at}.operator`, operator, 'not a valid selector operator'));
    }
    const key = typeof expression.key === 'string' ? expression.key : '';
    for (const m of qualifiedNameErrors(key)) errors.push(invalid(`${at}.key`, key, m));
    values.forEach((v, j) => {
      const text = typeof v === 'string' ? v : '';
      for (const m of labelValueErrors(text)) errors.push(invalid(`${at}.values[${j}]`, text, m));
    });
  });
  return errors;
}

/** time.Time.String() of an RFC 3339 timestamp in UTC: `2026-11-28 12:00:00 +0000 UTC`. */
function goTimeString(value: unknown): string {
  if (typeof value !== 'string') return 'null';
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) return value;
  return `${at
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '')} +0000 UTC`;
}

function sortedEntries(value: unknown): [string, unknown][] {
  return Object.entries(asRecord(value)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? (value as unknown[]).filter((v): v is string => typeof v === 'string') : [];
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}
