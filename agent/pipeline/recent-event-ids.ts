/**
 * Event ids delivered recently, so the same record read through two sources (auditd and journald's audit
 * transport, say) is reported once. Bounded: a ring evicts the oldest id.
 */
export class RecentEventIds {
  private readonly ids = new Set<string>();
  private readonly ring: (string | undefined)[];
  private pos = 0;
  duplicates = 0;

  constructor(private readonly capacity = 16_384) {
    this.ring = new Array<string | undefined>(capacity);
  }

  /** True the first time an id is seen (within the window), false for a duplicate. */
  firstSighting(id: string): boolean {
    if (this.ids.has(id)) {
      this.duplicates++;
      return false;
    }
    const evicted = this.ring[this.pos];
    if (evicted !== undefined) this.ids.delete(evicted);
    this.ring[this.pos] = id;
    this.pos = (this.pos + 1) % this.capacity;
    this.ids.add(id);
    return true;
  }
}
