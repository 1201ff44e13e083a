/**
 * XDR (RFC 4506): big-endian 4-byte units, opaque data and strings padded to 4 bytes.
 * The reader throws XdrError on anything that does not fit (the RPC layer answers GARBAGE_ARGS);
 * the writer collects parts so large payloads (READ data) go to the socket without a copy.
 */

export class XdrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XdrError';
  }
}

const TWO32 = 2 ** 32;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export class XdrReader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    offset = 0,
  ) {
    this.pos = offset;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) throw new XdrError(`truncated: need ${n} bytes at ${this.pos} of ${this.buf.length}`);
  }

  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  bool(): boolean {
    const v = this.uint32();
    if (v > 1) throw new XdrError(`bad boolean ${v}`);
    return v === 1;
  }

  /**
   * A 64-bit unsigned integer (offsets, sizes) as a number; values of 2^53 and more, which a
   * client may well send, come back as 2^53 (not a safe integer: callers refuse or clamp it).
   */
  uint64(): number {
    const hi = this.uint32();
    const lo = this.uint32();
    if (hi >= 0x200000) return 2 ** 53;
    return hi * TWO32 + lo;
  }

  /** A 64-bit value as it is (verifiers, cookies from other servers). */
  uint64Big(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Fixed-length opaque (a view into the record, not a copy). */
  fixed(n: number): Buffer {
    this.need(n + pad(n));
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n + pad(n);
    return out;
  }

  /** Variable-length opaque, at most max bytes. */
  opaque(max = 0xffffffff): Buffer {
    const n = this.uint32();
    if (n > max) throw new XdrError(`opaque of ${n} bytes exceeds ${max}`);
    return this.fixed(n);
  }

  /** A string of UTF-8 (names that are not valid UTF-8 are refused, as the core stores text). */
  string(max = 0xffffffff): string {
    const bytes = this.opaque(max);
    try {
      return utf8.decode(bytes);
    } catch {
      throw new XdrError('string is not valid UTF-8');
    }
  }
}

function pad(n: number): number {
  return (4 - (n & 3)) & 3;
}

const ZEROS = Buffer.alloc(4);

/** Builds one message; parts() returns its buffers (the record marker is the RPC layer's). */
export class XdrWriter {
  private buf: Buffer;
  private pos = 0;
  private readonly done: Buffer[] = [];
  private doneLength = 0;

  constructor(initial = 512) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.doneLength + this.pos;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n, 256));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  uint32(v: number): this {
    this.room(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  int32(v: number): this {
    this.room(4);
    this.buf.writeInt32BE(v | 0, this.pos);
    this.pos += 4;
    return this;
  }

  bool(v: boolean): this {
    return this.uint32(v ? 1 : 0);
  }

  /** A non-negative integer below 2^53 as a 64-bit unsigned value. */
  uint64(v: number): this {
    const n = v < 0 ? 0 : v;
    this.room(8);
    this.buf.writeUInt32BE(Math.floor(n / TWO32) >>> 0, this.pos);
    this.buf.writeUInt32BE(n >>> 0, this.pos + 4);
    this.pos += 8;
    return this;
  }

  fixed(data: Uint8Array): this {
    const p = pad(data.length);
    this.room(data.length + p);
    this.buf.set(data, this.pos);
    this.pos += data.length;
    if (p) {
      this.buf.fill(0, this.pos, this.pos + p);
      this.pos += p;
    }
    return this;
  }

  opaque(data: Uint8Array): this {
    this.uint32(data.length);
    return this.fixed(data);
  }

  /**
   * Variable-length opaque whose bytes are sent as the given buffer itself (no copy): for
   * large payloads. The buffer must not change until the message is sent.
   */
  opaqueRef(data: Buffer): this {
    this.uint32(data.length);
    if (data.length < 1024) return this.fixed(data);
    this.flushPart();
    this.done.push(data);
    this.doneLength += data.length;
    const p = pad(data.length);
    if (p) {
      this.done.push(ZEROS.subarray(0, p));
      this.doneLength += p;
    }
    return this;
  }

  string(s: string): this {
    return this.opaque(Buffer.from(s, 'utf8'));
  }

  private flushPart(): void {
    if (this.pos === 0) return;
    this.done.push(this.buf.subarray(0, this.pos));
    this.doneLength += this.pos;
    this.buf = this.buf.subarray(this.pos);
    this.pos = 0;
  }

  /** Appends another writer's message (its buffers are taken as they are). */
  append(other: XdrWriter): this {
    this.flushPart();
    for (const p of other.parts()) {
      this.done.push(p);
      this.doneLength += p.length;
    }
    return this;
  }

  /** The message as buffers, in order. */
  parts(): Buffer[] {
    this.flushPart();
    return this.done;
  }
}
