import { crc32 } from 'node:zlib';

/** One message waiting for NATS: where it goes, its dedup id, and what the latency metric measures from. */
export interface SpoolMessage {
  subject: string;
  /** Nats-Msg-Id: the event id, so a message published twice is stored once. */
  id: string;
  /** The audit timestamp of the event (ms since the epoch); publish latency is measured from it. */
  auditMs: number;
  data: Uint8Array;
}

/**
 * On disk: u32 body length, u32 CRC-32 of the body, then the body: f64 auditMs, u16 subject length,
 * subject, u16 id length, id, data. Little-endian. The CRC is what tells a torn append (the agent or the
 * node died mid-write) from a record: recovery cuts the segment at the first record that does not check.
 */
export const RECORD_HEADER_BYTES = 8;
const BODY_FIXED_BYTES = 8 + 2 + 2;
/** Far above any event (raw lines are bounded by the kernel's record size); a larger length is corruption. */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;

export function encodedSize(m: SpoolMessage): number {
  return (
    RECORD_HEADER_BYTES +
    BODY_FIXED_BYTES +
    Buffer.byteLength(m.subject) +
    Buffer.byteLength(m.id) +
    m.data.byteLength
  );
}

/** Encodes messages back to back into one buffer: a batch is one write and one fsync. */
export function encodeRecords(messages: readonly SpoolMessage[]): Buffer {
  let total = 0;
  for (const m of messages) total += encodedSize(m);
  const buf = Buffer.allocUnsafe(total);
  let at = 0;
  for (const m of messages) {
    const start = at;
    at += RECORD_HEADER_BYTES;
    buf.writeDoubleLE(m.auditMs, at);
    at += 8;
    const subjectLen = buf.write(m.subject, at + 2, 'utf8');
    buf.writeUInt16LE(subjectLen, at);
    at += 2 + subjectLen;
    const idLen = buf.write(m.id, at + 2, 'utf8');
    buf.writeUInt16LE(idLen, at);
    at += 2 + idLen;
    buf.set(m.data, at);
    at += m.data.byteLength;
    const bodyLen = at - start - RECORD_HEADER_BYTES;
    buf.writeUInt32LE(bodyLen, start);
    buf.writeUInt32LE(crc32(buf.subarray(start + RECORD_HEADER_BYTES, at)), start + 4);
  }
  return buf;
}

export interface DecodedRecord {
  message: SpoolMessage;
  /** Offset just past this record, relative to the buffer decoded. */
  end: number;
}

export const DECODE_STOP = {
  /** The buffer ends inside a record: read more. */
  incomplete: 'incomplete',
  /** A record does not check: everything from here on is a torn or damaged write. */
  corrupt: 'corrupt',
} as const;
export type DecodeStop = (typeof DECODE_STOP)[keyof typeof DECODE_STOP];

/** Decodes the record at `at`, or says why it cannot. */
export function decodeRecord(buf: Buffer, at: number): DecodedRecord | DecodeStop {
  if (buf.length - at < RECORD_HEADER_BYTES) return DECODE_STOP.incomplete;
  const bodyLen = buf.readUInt32LE(at);
  if (bodyLen < BODY_FIXED_BYTES || bodyLen > MAX_RECORD_BYTES) return DECODE_STOP.corrupt;
  const end = at + RECORD_HEADER_BYTES + bodyLen;
  if (end > buf.length) return DECODE_STOP.incomplete;
  const body = buf.subarray(at + RECORD_HEADER_BYTES, end);
  if (crc32(body) !== buf.readUInt32LE(at + 4)) return DECODE_STOP.corrupt;
  let p = 0;
  const auditMs = body.readDoubleLE(p);
  p += 8;
  const subjectLen = body.readUInt16LE(p);
  p += 2;
  if (p + subjectLen + 2 > body.length) return DECODE_STOP.corrupt;
  const subject = body.toString('utf8', p, p + subjectLen);
  p += subjectLen;
  const idLen = body.readUInt16LE(p);
  p += 2;
  if (p + idLen > body.length) return DECODE_STOP.corrupt;
  const id = body.toString('utf8', p, p + idLen);
  p += idLen;
  // A copy: the read buffer is reused for the next chunk while this message waits for its ack.
  const data = Uint8Array.prototype.slice.call(body, p);
  return { message: { subject, id, auditMs, data }, end };
}
