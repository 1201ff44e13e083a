import { describe, expect, it } from 'vitest';
import { batchOrder } from '../../src/fuse/batch-order.js';
import { Op, type RawRequest } from '../../src/fuse/requests.js';

/**
 * A read burst's events (the native reader's access times, opens and releases) come with the
 * request that wakes the JS thread. Requests no open count bears on are served before the counts;
 * access times go before a request that may change a file the burst read, after one that only
 * makes an entry (its transaction's start would store them before its reply).
 */
const ev = (op: number, ino: number): RawRequest => [op, -1, 0, 0, 0, ino];
let next = 100;
const req = (op: number): RawRequest => [op, next++, 0, 0, 0];

/** A burst of n files read: each opened, read (its access time moved) and released. */
function burst(n: number): RawRequest[] {
  const out: RawRequest[] = [];
  for (let i = 0; i < n; i++) out.push(ev(Op.OPENED, 10 + i), ev(Op.ATIME, 10 + i), ev(Op.RELEASED, 10 + i));
  return out;
}

const ops = (group: RawRequest[]) => [...new Set(group.map((r) => r[0]))];

describe('batch order', () => {
  it('serves a new entry before the burst access times, and both before the open counts', () => {
    for (const op of [Op.CREATE, Op.MKDIR, Op.MKNOD, Op.SYMLINK, Op.STATFS]) {
      const batch = [...burst(10), req(op)];
      const groups = batchOrder(batch);
      expect(groups.map(ops)).toEqual([[op], [Op.ATIME], [Op.OPENED, Op.RELEASED]]);
      expect(groups.flat().length).toBe(batch.length);
      // each group keeps the batch's order
      expect(groups[1]!.map((r) => r[5])).toEqual(Array.from({ length: 10 }, (_, i) => 10 + i));
      expect(groups[2]!.map((r) => `${r[0]}:${r[5]}`)).toEqual(batch.filter((r) => r[0] !== Op.ATIME && r[1] === -1).map((r) => `${r[0]}:${r[5]}`));
    }
  });

  it('stores the access times before a write among the requests', () => {
    const batch = [...burst(10), req(Op.CREATE), req(Op.WRITE)];
    expect(batchOrder(batch).map(ops)).toEqual([[Op.ATIME], [Op.CREATE, Op.WRITE], [Op.OPENED, Op.RELEASED]]);
  });

  it('keeps the order of a small batch, and of one with a request an open count bears on', () => {
    const small = [...burst(5), req(Op.CREATE)];
    expect(batchOrder(small)).toEqual([small]);
    for (const op of [Op.UNLINK, Op.GETATTR, Op.RENAME, Op.SETATTR, Op.LOOKUP]) {
      const batch = [...burst(10), req(op)];
      expect(batchOrder(batch)).toEqual([batch]);
    }
    // another kind of event (an entry the addon listed) keeps the order too
    const listed = [...burst(10), ev(Op.LISTED, 99), req(Op.CREATE)];
    expect(batchOrder(listed)).toEqual([listed]);
  });
});
