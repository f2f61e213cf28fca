/** Returned by KmsgSequence.next for a record that was handled before (the replayed ring). */
export const KMSG_REPLAYED = -1;

/**
 * Follows the kernel's record SEQ numbers. Every printk record gets the next SEQ, so a jump means records
 * this reader never saw: the ring overwrote them (EPIPE on read, or while the agent was down).
 */
export class KmsgSequence {
  constructor(
    /** Records with SEQ <= this were handled before (checkpoint, or the ring skipped on a first start). */
    private readonly skipThroughSeq: number,
    /** SEQ of the last record handled, or undefined when nothing before is known (a new boot). */
    private lastSeq: number | undefined,
  ) {}

  /** KMSG_REPLAYED for a record to skip; otherwise how many records were lost right before this one. */
  next(seq: number): number {
    if (seq <= this.skipThroughSeq) return KMSG_REPLAYED;
    const lost = this.lastSeq !== undefined && seq > this.lastSeq + 1 ? seq - this.lastSeq - 1 : 0;
    this.lastSeq = seq;
    return lost;
  }

  get last(): number | undefined {
    return this.lastSeq;
  }
}
