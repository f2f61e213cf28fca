/**
 * Where a /dev/kmsg reader stands: the last record handled, by its SEQ. SEQ restarts at 0 on every boot,
 * so it only means something together with the boot it was counted in.
 */
export interface KmsgPosition {
  bootId: string;
  seq: number;
}

export function isKmsgPosition(value: unknown): value is KmsgPosition {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.bootId === 'string' &&
    v.bootId.length > 0 &&
    typeof v.seq === 'number' &&
    Number.isSafeInteger(v.seq) &&
    v.seq >= -1
  );
}

export const KMSG_START = {
  /** Same boot as the checkpoint: skip the replayed records up to the checkpointed SEQ. */
  checkpoint: 'checkpoint',
  /** No checkpoint: the ring holds history from before the agent ran; start after it. */
  fresh: 'fresh',
  /** The checkpoint is from another boot: everything in the ring happened since, so read it all. */
  newBoot: 'new_boot',
} as const;
export type KmsgStart = (typeof KMSG_START)[keyof typeof KMSG_START];

export interface KmsgStartPlan {
  start: KmsgStart;
  /**
   * Records with SEQ <= this are skipped. For a fresh start this is unknown until the replayed ring has
   * been drained (the kernel offers no SEEK_END through Node), so it is undefined there.
   */
  skipThroughSeq: number | undefined;
}

/** What to do with the ring that opening /dev/kmsg replays. */
export function planKmsgStart(checkpoint: KmsgPosition | undefined, bootId: string): KmsgStartPlan {
  if (checkpoint === undefined) return { start: KMSG_START.fresh, skipThroughSeq: undefined };
  if (checkpoint.bootId !== bootId) return { start: KMSG_START.newBoot, skipThroughSeq: -1 };
  return { start: KMSG_START.checkpoint, skipThroughSeq: checkpoint.seq };
}
