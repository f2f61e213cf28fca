/**
 * Without auditd, journald receives every audit record twice: from the kernel's audit multicast
 * (`_TRANSPORT=audit`) and as the printk line kauditd writes to the kernel log (`_TRANSPORT=kernel`). Both
 * carry the same record, and the parser would give the second one the next index of its audit event, so
 * one violation would become two events with different ids. A record is known by its serial and type;
 * whichever transport brings it first is kept, and the other transport's copy is dropped. Bounded: the
 * serials of the last `capacity` records per transport.
 */
export class TransportCopies {
  /** Keys kept from the audit transport, then from the kernel transport. */
  private readonly seen: readonly [RecentKeys, RecentKeys];
  dropped = 0;

  constructor(capacity = 8192) {
    this.seen = [new RecentKeys(capacity), new RecentKeys(capacity)];
  }

  /** True when `line` (one journal JSON entry) is the other transport's copy of a record already kept. */
  isCopy(line: string): boolean {
    const transport = transportOf(line);
    if (transport < 0) return false;
    const key = transport === AUDIT ? auditTransportKey(line) : kernelTransportKey(line);
    if (key === undefined) return false;
    const [mine, other] = transport === AUDIT ? [this.seen[0], this.seen[1]] : [this.seen[1], this.seen[0]];
    if (other.has(key)) {
      this.dropped++;
      return true;
    }
    mine.add(key);
    return false;
  }
}

const AUDIT = 0;
const KERNEL = 1;

function transportOf(line: string): number {
  if (line.includes('"_TRANSPORT":"audit"')) return AUDIT;
  if (line.includes('"_TRANSPORT":"kernel"')) return KERNEL;
  return -1;
}

/** `<serial>:<type>` from `"_AUDIT_ID":"685"` and `"_AUDIT_TYPE":"1400"`. */
function auditTransportKey(line: string): string | undefined {
  const id = fieldValue(line, '"_AUDIT_ID":"');
  const type = fieldValue(line, '"_AUDIT_TYPE":"');
  return id === undefined || type === undefined ? undefined : `${id}:${type}`;
}

/** `<serial>:<type>` from a MESSAGE like `audit: type=1400 audit(1691606009.904:685): ...`. */
function kernelTransportKey(line: string): string | undefined {
  const m = line.indexOf('audit: type=');
  if (m < 0) return undefined;
  const a = line.indexOf(' audit(', m);
  if (a < 0) return undefined;
  const type = digitsAt(line, m + 12);
  const colon = line.indexOf(':', a + 7);
  if (colon < 0) return undefined;
  const serial = digitsAt(line, colon + 1);
  return type === '' || serial === '' ? undefined : `${serial}:${type}`;
}

function fieldValue(line: string, prefix: string): string | undefined {
  const at = line.indexOf(prefix);
  if (at < 0) return undefined;
  const value = digitsAt(line, at + prefix.length);
  return value === '' ? undefined : value;
}

function digitsAt(s: string, from: number): string {
  let end = from;
  while (end < s.length && s.charCodeAt(end) >= 48 && s.charCodeAt(end) <= 57) end++;
  return s.slice(from, end);
}

/** A set that forgets its oldest key beyond its capacity. */
class RecentKeys {
  private readonly keys = new Set<string>();
  private readonly ring: (string | undefined)[];
  private pos = 0;

  constructor(private readonly capacity: number) {
    this.ring = new Array<string | undefined>(capacity);
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  add(key: string): void {
    if (this.keys.has(key)) return;
    const evicted = this.ring[this.pos];
    if (evicted !== undefined) this.keys.delete(evicted);
    this.ring[this.pos] = key;
    this.pos = (this.pos + 1) % this.capacity;
    this.keys.add(key);
  }
}
