import { describe, expect, it } from 'vitest';
import { RecordReader, recordMark } from '../../src/nfs/records.js';
import { XdrError, XdrReader, XdrWriter } from '../../src/nfs/xdr.js';

function frag(data: Buffer, last: boolean): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(((last ? 0x80000000 : 0) | data.length) >>> 0);
  return Buffer.concat([h, data]);
}

describe('RPC record marking', () => {
  it('reassembles multi-fragment records fed one byte at a time', () => {
    const a = Buffer.from('first fragment/');
    const b = Buffer.from('second');
    const c = Buffer.from('another record');
    const stream = Buffer.concat([frag(a, false), frag(b, true), frag(c, true)]);
    const reader = new RecordReader(1024);
    const got: string[] = [];
    for (const byte of stream) for (const ev of reader.push(Buffer.from([byte]))) got.push(ev.kind === 'record' ? ev.data.toString() : 'oversized');
    expect(got).toEqual(['first fragment/second', 'another record']);
    expect(reader.buffered).toBe(0);
  });

  it('skips a record over the limit without holding it, keeping its head, then reads the next one', () => {
    const reader = new RecordReader(100);
    const head = Buffer.alloc(8);
    head.writeUInt32BE(77, 0);
    const big = Buffer.concat([head, Buffer.alloc(10_000, 1)]);
    const evs = [...reader.push(frag(big.subarray(0, 60), false))];
    expect(reader.buffered).toBeLessThanOrEqual(100);
    evs.push(...reader.push(frag(big.subarray(60), true)));
    evs.push(...reader.push(frag(Buffer.from('ok'), true)));
    expect(evs.map((e) => e.kind)).toEqual(['oversized', 'record']);
    const o = evs[0] as { kind: 'oversized'; head: Buffer; length: number };
    expect(o.head.readUInt32BE(0)).toBe(77);
    expect(o.length).toBe(big.length);
    expect((evs[1] as { data: Buffer }).data.toString()).toBe('ok');
  });

  it('handles an empty last fragment and marks replies as one last fragment', () => {
    const reader = new RecordReader(100);
    expect(reader.push(Buffer.concat([frag(Buffer.from('ab'), false), frag(Buffer.alloc(0), true)])).map((e) => e.kind)).toEqual(['record']);
    expect(recordMark(5).readUInt32BE(0)).toBe(0x80000005);
  });
});

describe('XDR', () => {
  it('round-trips integers, 64-bit values, padded opaque data and strings', () => {
    const big = Buffer.alloc(5000, 7);
    const w = new XdrWriter(8).uint32(0xffffffff).int32(-2).bool(true).uint64(2 ** 50 + 3).opaque(Buffer.from('abcde')).string('héllo').opaqueRef(big).uint32(9);
    const buf = Buffer.concat(w.parts());
    expect(buf.length % 4).toBe(0);
    expect(buf.length).toBe(w.length);
    const r = new XdrReader(buf);
    expect([r.uint32(), r.int32(), r.bool(), r.uint64()]).toEqual([0xffffffff, -2, true, 2 ** 50 + 3]);
    expect(r.opaque().toString()).toBe('abcde');
    expect(r.string()).toBe('héllo');
    expect(r.opaque().equals(big)).toBe(true);
    expect(r.uint32()).toBe(9);
    expect(r.remaining).toBe(0);
  });

  it('refuses truncated input, oversized opaque data, bad booleans and invalid UTF-8', () => {
    expect(() => new XdrReader(Buffer.alloc(3)).uint32()).toThrow(XdrError);
    expect(() => new XdrReader(Buffer.from([0, 0, 0, 9, 1, 2])).opaque()).toThrow(XdrError);
    expect(() => new XdrReader(Buffer.from([0, 0, 1, 0])).opaque(10)).toThrow(XdrError);
    expect(() => new XdrReader(Buffer.from([0, 0, 0, 2])).bool()).toThrow(XdrError);
    expect(() => new XdrReader(Buffer.from([0, 0, 0, 1, 0xff, 0, 0, 0])).string()).toThrow(XdrError);
  });

  it('reads 64-bit values of 2^53 and more as 2^53 (well-formed: the procedures refuse or clamp them)', () => {
    expect(new XdrReader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])).uint64()).toBe(2 ** 53);
    expect(new XdrReader(Buffer.from([0, 0x20, 0, 0, 0, 0, 0, 0])).uint64()).toBe(2 ** 53);
    expect(new XdrReader(Buffer.from([0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])).uint64()).toBe(2 ** 53 - 1);
    expect(() => new XdrReader(Buffer.from([0, 0, 0, 0, 0, 0, 0])).uint64()).toThrow(XdrError);
  });
});
