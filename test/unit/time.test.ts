// The clock every change is stamped with (src/core/fs/time.ts): the wall clock in nanoseconds,
// strictly increasing, following the wall clock when it is set (NTP steps, a suspend).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { now, nowNs, toNs } from '../../src/core/fs/time.js';

const MS = 1_000_000n;

describe('nowNs', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is the wall clock, strictly increasing from one call to the next', () => {
    const wall = BigInt(Date.now()) * MS;
    let last = nowNs();
    expect(last - wall < 50n * MS && wall - last < 50n * MS).toBe(true);
    for (let i = 0; i < 10_000; i++) {
      const t = nowNs();
      expect(t > last).toBe(true);
      last = t;
    }
    const t = now();
    expect(toNs(t) > last).toBe(true);
    expect(t.nsec).toBeGreaterThanOrEqual(0);
    expect(t.nsec).toBeLessThan(1e9);
  });

  it('follows the wall clock set a minute forward, and never goes back when it is set back', () => {
    const real = Date.now.bind(Date);
    vi.spyOn(Date, 'now').mockImplementation(() => real() + 60_000);
    const ahead = nowNs();
    expect(ahead - BigInt(real()) * MS > 59_000n * MS).toBe(true);
    vi.spyOn(Date, 'now').mockImplementation(() => real());
    // set back: the stamps never go back (each one past the last) until the clock catches up
    expect(nowNs()).toBe(ahead + 1n);
    expect(nowNs()).toBe(ahead + 2n);
  });
});
