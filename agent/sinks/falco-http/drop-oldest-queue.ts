/**
 * A FIFO with a fixed capacity that makes room by evicting its oldest item: for best-effort delivery,
 * where the newest alerts matter most once the receiver has been away for long. A ring over a
 * preallocated array, so push and shift cost the same at any depth (Array#shift is O(n)).
 */
export class DropOldestQueue<T> {
  private readonly slots: (T | undefined)[];
  private head = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`DropOldestQueue capacity must be a positive integer, not ${String(capacity)}`);
    }
    this.slots = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.size;
  }

  /** Appends `item`; when full, the oldest item is evicted to make room and returned. */
  push(item: T): T | undefined {
    let evicted: T | undefined;
    if (this.size === this.capacity) evicted = this.shift();
    this.slots[(this.head + this.size) % this.capacity] = item;
    this.size++;
    return evicted;
  }

  /**
   * Puts `item` back at the front, where it came from. When full it is refused (false): being older than
   * everything queued, it is the very item the eviction rule would drop.
   */
  unshift(item: T): boolean {
    if (this.size === this.capacity) return false;
    this.head = (this.head - 1 + this.capacity) % this.capacity;
    this.slots[this.head] = item;
    this.size++;
    return true;
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.slots[this.head];
    // Release the reference so a drained queue does not pin thousands of events in memory.
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.size--;
    return item;
  }

  /** Empties the queue; returns how many items it held. */
  clear(): number {
    const n = this.size;
    this.slots.fill(undefined);
    this.head = 0;
    this.size = 0;
    return n;
  }
}
