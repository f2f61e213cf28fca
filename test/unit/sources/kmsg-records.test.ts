import { describe, expect, it } from 'vitest';
import { KernelLossCounter } from '../../../agent/sources/kmsg/kernel-loss.js';
import { isKmsgPosition, KMSG_START, planKmsgStart } from '../../../agent/sources/kmsg/kmsg-position.js';
import { kmsgRecordLine, kmsgSeq } from '../../../agent/sources/kmsg/kmsg-record.js';
import { KMSG_REPLAYED, KmsgSequence } from '../../../agent/sources/kmsg/kmsg-sequence.js';
import { corpusLine, corpusLines } from '../../helpers/corpus-lines.js';

const KMSG_FILE = 'kmsg/kernel618-seccomp-all-actions.kmsg';

/**
 * Records read verbatim from /dev/kmsg on this project's kernel (6.18): a driver record with its
 * dictionary lines, and the loss report pair that `auditctl -r 2` plus 80 seccomp violations produced.
 */
const RECORD_WITH_DICTIONARY =
  '5,340,1322275,-;virtio_blk virtio1: [vda] new size: 536870912 512-byte logical blocks (275 GB/256 GiB)\n' +
  ' SUBSYSTEM=virtio\n DEVICE=+virtio:virtio1\n';
const AUDIT_LOST_1 = '4,370,3196614777,-;audit: audit_lost=1 audit_rate_limit=2 audit_backlog_limit=64';
const RATE_LIMIT_1 = '3,371,3196614779,-;audit: rate limit exceeded';
const AUDIT_LOST_38 = '4,376,3197818235,-;audit: audit_lost=38 audit_rate_limit=2 audit_backlog_limit=64';
const RATE_LIMIT_2 = '3,377,3197818237,-;audit: rate limit exceeded';

describe('kmsg record lines', () => {
  it('reads the SEQ of every record of the corpus file, in order', () => {
    expect(corpusLines(KMSG_FILE).map(kmsgSeq)).toEqual([
      20985, 20986, 20987, 20988, 20989, 20990, 20991, 20992, 20993, 20994, 20995,
    ]);
  });

  it('keeps the first line of a record and drops its dictionary continuation lines', () => {
    const line = kmsgRecordLine(Buffer.from(RECORD_WITH_DICTIONARY, 'latin1'));
    expect(line).toBe(
      '5,340,1322275,-;virtio_blk virtio1: [vda] new size: 536870912 512-byte logical blocks (275 GB/256 GiB)',
    );
    expect(kmsgSeq(line)).toBe(340);
  });

  it('hands a seccomp record on exactly as the corpus holds it', () => {
    const record = `${corpusLine(KMSG_FILE, 2)}\n`;
    expect(kmsgRecordLine(Buffer.from(record, 'latin1'))).toBe(corpusLine(KMSG_FILE, 2));
  });

  it('reads a record whose header carries more fields after FLAGS', () => {
    expect(kmsgSeq('6,1234,5678,-,caller=T42;hello')).toBe(1234);
  });

  it.each([
    ['a continuation line', ' SUBSYSTEM=virtio'],
    ['a dmesg line', '[ 3029.915207] audit: type=1326 audit(1795869792.957:2): pid=1'],
    ['a header without its semicolon', '5,20986,1430289426,-'],
    ['a priority that is not a number', 'x,20986,1430289426,-;audit: hi'],
    ['an empty SEQ', '5,,1430289426,-;audit: hi'],
  ])('finds no SEQ in %s', (_name, line) => {
    expect(kmsgSeq(line)).toBe(-1);
  });
});

describe('kernel-side loss in kmsg records', () => {
  it('counts the records a `callbacks suppressed` line of kauditd_printk_skb names', () => {
    const counter = new KernelLossCounter();
    expect(counter.lostIn(corpusLine(KMSG_FILE, 1))).toBe(2);
  });

  it('counts nothing for ordinary records, seccomp records included', () => {
    const counter = new KernelLossCounter();
    const counted = corpusLines(KMSG_FILE)
      .slice(1)
      .map((line) => counter.lostIn(line));
    expect(counted).toEqual(new Array<number>(10).fill(0));
  });

  it('ignores suppression reported by a subsystem other than audit', () => {
    const counter = new KernelLossCounter();
    expect(counter.lostIn('4,500,1000,-;net_ratelimit: 36 callbacks suppressed')).toBe(0);
  });

  it('counts the increase of audit_lost and not the rate-limit line that accompanies each report', () => {
    const counter = new KernelLossCounter();
    const counted = [AUDIT_LOST_1, RATE_LIMIT_1, AUDIT_LOST_38, RATE_LIMIT_2].map((l) => counter.lostIn(l));
    expect(counted).toEqual([1, 0, 37, 0]);
  });

  it('counts a rate-limit line whose audit_lost report was suppressed, then nets it out of the next report', () => {
    const counter = new KernelLossCounter();
    const counted = [AUDIT_LOST_1, RATE_LIMIT_1, RATE_LIMIT_2, AUDIT_LOST_38].map((l) => counter.lostIn(l));
    // 1 + 0 + 1 + (38 - 1 - 1): the total equals the kernel's own counter.
    expect(counted).toEqual([1, 0, 1, 36]);
  });

  it('counts only what was lost after the audit_lost value seen in the skipped ring', () => {
    const counter = new KernelLossCounter();
    counter.observeBaseline(AUDIT_LOST_1);
    expect(counter.lostIn(AUDIT_LOST_38)).toBe(37);
  });

  it('counts an audit_lost report no higher than the one already seen as nothing', () => {
    const counter = new KernelLossCounter();
    counter.observeBaseline(AUDIT_LOST_38);
    expect(counter.lostIn(AUDIT_LOST_1)).toBe(0);
  });
});

describe('where a kmsg reader starts', () => {
  it('starts after the ring on the first start', () => {
    expect(planKmsgStart(undefined, 'b1')).toEqual({ start: KMSG_START.fresh, skipThroughSeq: undefined });
  });

  it('skips up to the checkpointed SEQ within the same boot', () => {
    expect(planKmsgStart({ bootId: 'b1', seq: 20990 }, 'b1')).toEqual({
      start: KMSG_START.checkpoint,
      skipThroughSeq: 20990,
    });
  });

  it('reads the whole ring when the checkpoint is from another boot', () => {
    expect(planKmsgStart({ bootId: 'b0', seq: 20990 }, 'b1')).toEqual({
      start: KMSG_START.newBoot,
      skipThroughSeq: -1,
    });
  });

  it.each([
    [{ bootId: 'b1', seq: 5 }, true],
    [{ bootId: 'b1', seq: -1 }, true],
    [{ bootId: '', seq: 5 }, false],
    [{ bootId: 'b1', seq: 1.5 }, false],
    [{ bootId: 'b1' }, false],
    [null, false],
  ])('accepts %j as a checkpoint: %s', (value, ok) => {
    expect(isKmsgPosition(value)).toBe(ok);
  });
});

describe('kmsg SEQ gaps', () => {
  const seqs = corpusLines(KMSG_FILE).map(kmsgSeq);

  it('skips the replayed records up to the checkpoint and counts no loss for consecutive SEQs', () => {
    const sequence = new KmsgSequence(20990, 20990);
    expect(seqs.map((s) => sequence.next(s))).toEqual([
      KMSG_REPLAYED,
      KMSG_REPLAYED,
      KMSG_REPLAYED,
      KMSG_REPLAYED,
      KMSG_REPLAYED,
      KMSG_REPLAYED,
      0,
      0,
      0,
      0,
      0,
    ]);
    expect(sequence.last).toBe(20995);
  });

  it('counts the records between the checkpoint and the oldest record left in the ring as lost', () => {
    const sequence = new KmsgSequence(20900, 20900);
    expect(sequence.next(seqs[0] ?? 0)).toBe(84);
  });

  it('counts the records an overrun skipped from the jump in SEQ', () => {
    const sequence = new KmsgSequence(-1, undefined);
    expect([20985, 20986, 20990, 20991].map((s) => sequence.next(s))).toEqual([0, 0, 3, 0]);
  });

  it('counts no loss before the first record of a boot it has no position in', () => {
    const sequence = new KmsgSequence(-1, undefined);
    expect(sequence.next(20985)).toBe(0);
  });
});
