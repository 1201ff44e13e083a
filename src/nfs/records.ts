/**
 * ONC RPC record marking over TCP (RFC 5531 §11): a record is one or more fragments, each with a
 * 4-byte header (top bit: last fragment; low 31 bits: length). Records larger than the limit are
 * skipped as they stream in (never buffered): the caller gets their first bytes, enough for an
 * error reply carrying the xid.
 */

export type RecordEvent =
  | { kind: 'record'; data: Buffer }
  | { kind: 'oversized'; head: Buffer; length: number };

const LAST = 0x80000000;
const HEAD_KEEP = 64;

export class RecordReader {
  private header = Buffer.alloc(4);
  private headerHave = 0;
  /** bytes still to come in the current fragment (-1: reading a header) */
  private fragLeft = -1;
  private fragLast = false;
  private parts: Buffer[] = [];
  private length = 0;
  private discarding = false;
  private head: Buffer[] = [];
  private headLength = 0;

  constructor(private readonly maxRecord: number) {}

  /** Bytes held for records not yet complete (what a disconnect drops). */
  get buffered(): number {
    return this.discarding ? this.headLength : this.length;
  }

  /** Feeds bytes from the socket; returns the records (or oversized notices) they completed. */
  push(chunk: Buffer): RecordEvent[] {
    const out: RecordEvent[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.fragLeft < 0) {
        const take = Math.min(4 - this.headerHave, chunk.length - at);
        chunk.copy(this.header, this.headerHave, at, at + take);
        this.headerHave += take;
        at += take;
        if (this.headerHave < 4) break;
        this.headerHave = 0;
        const word = this.header.readUInt32BE(0);
        this.fragLast = (word & LAST) !== 0;
        this.fragLeft = word & ~LAST & 0x7fffffff;
        if (!this.discarding && this.length + this.fragLeft > this.maxRecord) this.startDiscard();
        if (this.fragLeft === 0) this.endFragment(out);
        continue;
      }
      const take = Math.min(this.fragLeft, chunk.length - at);
      const piece = chunk.subarray(at, at + take);
      at += take;
      this.fragLeft -= take;
      if (this.discarding) {
        this.length += take;
        if (this.headLength < HEAD_KEEP) {
          const keep = piece.subarray(0, HEAD_KEEP - this.headLength);
          this.head.push(Buffer.from(keep));
          this.headLength += keep.length;
        }
      } else {
        // a view: every socket chunk is a fresh buffer, so keeping it is safe
        this.parts.push(piece);
        this.length += take;
      }
      if (this.fragLeft === 0) this.endFragment(out);
    }
    return out;
  }

  /** Switches the current record to discard mode, keeping what arrived so far as its head. */
  private startDiscard(): void {
    this.discarding = true;
    const all = Buffer.concat(this.parts);
    this.head = [all.subarray(0, HEAD_KEEP)];
    this.headLength = Math.min(all.length, HEAD_KEEP);
    this.parts = [];
  }

  private endFragment(out: RecordEvent[]): void {
    this.fragLeft = -1;
    if (!this.fragLast) return;
    if (this.discarding) {
      out.push({ kind: 'oversized', head: Buffer.concat(this.head), length: this.length });
    } else {
      out.push({ kind: 'record', data: this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.length) });
    }
    this.parts = [];
    this.head = [];
    this.headLength = 0;
    this.length = 0;
    this.discarding = false;
  }
}

/** The record marker for a reply of `length` bytes sent as one fragment. */
export function recordMark(length: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE((LAST | length) >>> 0, 0);
  return b;
}
