import { KUBE_VERB, type KubeObject, type ResourceType } from './fake-kube-store.js';
import {
  dns1123SubdomainErrors,
  invalid,
  qualifiedNameErrors,
  required,
  type FieldError,
} from './fake-kube-validation.js';

/**
 * events.k8s.io/v1 Events for the fake API server, declared as data. The real server stores them as core
 * Events and validates the core object (pkg/apis/core/validation/events.go), so error field paths use the
 * core names: `message` for `note`, `involvedObject` for `regarding`, `count` for `deprecatedCount`.
 * Field selectors are the events.k8s.io/v1 labels (pkg/apis/events/v1/conversion.go); the core spellings
 * (`involvedObject.name`) are refused there, as on the real server.
 */

const REPORTING_INSTANCE_LENGTH_LIMIT = 128;
const ACTION_LENGTH_LIMIT = 128;
const REASON_LENGTH_LIMIT = 128;
const NOTE_LENGTH_LIMIT = 1024;

/** metav1.RFC3339Micro: Go's time.Parse with `.000000` takes exactly six fractional digits. */
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;
const MICRO_TIME_LAYOUT = '2006-01-02T15:04:05.000000Z07:00';
/** metav1.Time: RFC 3339, any fraction. */
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export const EVENTS: ResourceType = {
  group: 'events.k8s.io',
  version: 'v1',
  plural: 'events',
  kind: 'Event',
  listKind: 'EventList',
  namespaced: true,
  verbs: [KUBE_VERB.get, KUBE_VERB.list, KUBE_VERB.watch, KUBE_VERB.create, KUBE_VERB.patch],
  strategicMergePatch: true,
  fields: {
    'metadata.name': (o) => o.metadata.name,
    'metadata.namespace': (o) => o.metadata.namespace ?? '',
    reason: (o) => text(o.reason),
    'regarding.kind': (o) => text(section(o, 'regarding').kind),
    'regarding.namespace': (o) => text(section(o, 'regarding').namespace),
    'regarding.name': (o) => text(section(o, 'regarding').name),
    'regarding.uid': (o) => text(section(o, 'regarding').uid),
    'regarding.apiVersion': (o) => text(section(o, 'regarding').apiVersion),
    'regarding.resourceVersion': (o) => text(section(o, 'regarding').resourceVersion),
    'regarding.fieldPath': (o) => text(section(o, 'regarding').fieldPath),
    reportingController: (o) => text(o.reportingController),
    // The core strategy's `source`: the deprecated source component, else the reporting controller.
    source: (o) => text(section(o, 'deprecatedSource').component) || text(o.reportingController),
    type: (o) => text(o.type),
  },
  decodeError: eventDecodeError,
  validateCreate: validateEventCreate,
  validateUpdate: validateEventUpdate,
};

/** What the JSON decoder refuses before validation runs (a 400 on the real server). */
function eventDecodeError(o: KubeObject): string | undefined {
  const times: [string, unknown, RegExp, string][] = [
    ['eventTime', o.eventTime, MICRO_TIME, MICRO_TIME_LAYOUT],
    ['series.lastObservedTime', section(o, 'series').lastObservedTime, MICRO_TIME, MICRO_TIME_LAYOUT],
    ['deprecatedFirstTimestamp', o.deprecatedFirstTimestamp, TIME, '2006-01-02T15:04:05Z07:00'],
    ['deprecatedLastTimestamp', o.deprecatedLastTimestamp, TIME, '2006-01-02T15:04:05Z07:00'],
  ];
  for (const [, value, pattern, layout] of times) {
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') {
      return cannotHandle(`json: cannot unmarshal ${typeof value} into Go value of type string`);
    }
    if (!pattern.test(value)) return cannotHandle(`parsing time ${JSON.stringify(value)} as "${layout}"`);
  }
  const count = section(o, 'series').count;
  if (count !== undefined && count !== null && !Number.isInteger(count)) {
    return cannotHandle(
      `json: cannot unmarshal ${typeof count} into Go struct field EventSeries.series.count of type int32`,
    );
  }
  return undefined;
}

function cannotHandle(reason: string): string {
  return `Event in version "v1" cannot be handled as a Event: ${reason}`;
}

/** ValidateEventCreate for a request to events.k8s.io/v1: legacy checks, then the strict ones. */
function validateEventCreate(o: KubeObject): FieldError[] {
  const errors = legacyValidateEvent(o);
  const name = o.metadata.name;
  if (name === '') errors.push(required('metadata.name', 'name or generateName is required'));
  else for (const m of dns1123SubdomainErrors(name)) errors.push(invalid('metadata.name', name, m));
  errors.push(...validateSeries(o));
  if (!isSet(o.eventTime)) errors.push(required('eventTime'));
  const type = text(o.type);
  if (type !== 'Normal' && type !== 'Warning') errors.push(invalid('type', '', `has invalid value: ${type}`));
  if (isSet(o.deprecatedFirstTimestamp)) errors.push(invalid('firstTimestamp', '', 'needs to be unset'));
  if (isSet(o.deprecatedLastTimestamp)) errors.push(invalid('lastTimestamp', '', 'needs to be unset'));
  if (typeof o.deprecatedCount === 'number' && o.deprecatedCount !== 0)
    errors.push(invalid('count', '', 'needs to be unset'));
  const source = section(o, 'deprecatedSource');
  if (text(source.component) !== '' || text(source.host) !== '')
    errors.push(invalid('source', '', 'needs to be unset'));
  return errors;
}

/** ValidateEventUpdate: the new object passes the legacy checks, a changed series is valid, the rest is immutable. */
function validateEventUpdate(o: KubeObject, previous: KubeObject): FieldError[] {
  const errors = legacyValidateEvent(o);
  if (JSON.stringify(o.series ?? null) !== JSON.stringify(previous.series ?? null))
    errors.push(...validateSeries(o));
  // The order and the repeated `reason` are the real validator's; the message shows it once.
  const immutable: [string, string][] = [
    ['involvedObject', 'regarding'],
    ['reason', 'reason'],
    ['message', 'note'],
    ['source', 'deprecatedSource'],
    ['firstTimestamp', 'deprecatedFirstTimestamp'],
    ['lastTimestamp', 'deprecatedLastTimestamp'],
    ['count', 'deprecatedCount'],
    ['reason', 'reason'],
    ['type', 'type'],
    ['eventTime', 'eventTime'],
    ['action', 'action'],
    ['related', 'related'],
    ['reportingController', 'reportingController'],
    ['reportingInstance', 'reportingInstance'],
  ];
  for (const [path, key] of immutable) {
    if (JSON.stringify(o[key] ?? null) !== JSON.stringify(previous[key] ?? null))
      errors.push(invalid(path, o[key] ?? '', 'field is immutable'));
  }
  return errors;
}

function legacyValidateEvent(o: KubeObject): FieldError[] {
  const errors: FieldError[] = [];
  const namespace = o.metadata.namespace ?? '';
  const regardingNamespace = text(section(o, 'regarding').namespace);
  const mismatch = (): FieldError =>
    invalid('involvedObject.namespace', regardingNamespace, 'does not match event.namespace');
  if (!isSet(o.eventTime)) {
    // "Old" events (no eventTime): the namespaces must agree, and nothing else is checked here.
    if (regardingNamespace === '') {
      if (namespace !== '' && namespace !== 'default') errors.push(mismatch());
    } else if (namespace !== regardingNamespace) errors.push(mismatch());
  } else {
    if (regardingNamespace === '' && namespace !== 'default' && namespace !== 'kube-system')
      errors.push(mismatch());
    const controller = text(o.reportingController);
    if (controller === '') errors.push(required('reportingController'));
    for (const m of qualifiedNameErrors(controller))
      errors.push(invalid('reportingController', controller, m));
    const instance = text(o.reportingInstance);
    if (instance === '') errors.push(required('reportingInstance'));
    if (bytes(instance) > REPORTING_INSTANCE_LENGTH_LIMIT)
      errors.push(
        invalid('reportingInstance', '', `can have at most ${REPORTING_INSTANCE_LENGTH_LIMIT} characters`),
      );
    const action = text(o.action);
    if (action === '') errors.push(required('action'));
    if (bytes(action) > ACTION_LENGTH_LIMIT)
      errors.push(invalid('action', '', `can have at most ${ACTION_LENGTH_LIMIT} characters`));
    const reason = text(o.reason);
    if (reason === '') errors.push(required('reason'));
    if (bytes(reason) > REASON_LENGTH_LIMIT)
      errors.push(invalid('reason', '', `can have at most ${REASON_LENGTH_LIMIT} characters`));
    // Go's len(): bytes, not characters.
    if (bytes(text(o.note)) > NOTE_LENGTH_LIMIT)
      errors.push(invalid('message', '', `can have at most ${NOTE_LENGTH_LIMIT} characters`));
  }
  for (const m of dns1123SubdomainErrors(namespace)) errors.push(invalid('namespace', namespace, m));
  return errors;
}

function validateSeries(o: KubeObject): FieldError[] {
  if (!isSet(o.series)) return [];
  const series = section(o, 'series');
  const errors: FieldError[] = [];
  const count = typeof series.count === 'number' ? series.count : 0;
  if (count < 2) errors.push(invalid('series.count', '', 'should be at least 2'));
  if (!isSet(series.lastObservedTime)) errors.push(required('series.lastObservedTime'));
  return errors;
}

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

function bytes(value: string): number {
  return Buffer.byteLength(value, 'utf8');
}

function section(o: KubeObject, key: string): Record<string, unknown> {
  const value = o[key];
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
