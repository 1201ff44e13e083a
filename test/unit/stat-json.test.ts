/**
 * The one stat JSON shape (core/stat-json.ts) for every time a file can hold: the kernel passes
 * any 64-bit time through a mount (`touch -d @1e13`, a file dated before 1970), and `fs stat`,
 * `fs ls --json` and the MCP `stat` tool must still describe the file.
 */
import { describe, expect, it } from 'vitest';
import { Agent } from '../../src/core/agent.js';
import { isoTime, nsString, statJson } from '../../src/core/stat-json.js';

describe('stat JSON times', () => {
  it('ISO 8601 inside the Date range, as Date prints it', () => {
    expect(isoTime({ sec: 0, nsec: 0 })).toBe('1970-01-01T00:00:00.000Z');
    expect(isoTime({ sec: 1_700_000_000, nsec: 123_456_789 })).toBe('2023-11-14T22:13:20.123Z');
    expect(isoTime({ sec: -1, nsec: 999_999_999 })).toBe('1969-12-31T23:59:59.999Z');
    expect(isoTime({ sec: 8.64e12, nsec: 0 })).toBe('+275760-09-13T00:00:00.000Z');
  });

  it('expanded ISO 8601 years outside it, instead of throwing', () => {
    expect(isoTime({ sec: 1e13, nsec: 5_000_000 })).toBe('+318857-05-20T17:46:40.005Z');
    expect(isoTime({ sec: -1e13, nsec: 0 })).toBe('-314918-08-13T06:13:20.000Z');
    // (expected values from GNU `date -u -d @SECONDS`); one day past Date's earliest
    const inside = -8.64e12;
    expect(isoTime({ sec: inside - 86_400, nsec: 0 })).toBe('-271821-04-19T00:00:00.000Z');
  });

  it('seconds.nanoseconds is exact for times before 1970 (sec -1, nsec 999999999 is -0.000000001)', () => {
    expect(nsString({ sec: 12, nsec: 5 })).toBe('12.000000005');
    expect(nsString({ sec: -1, nsec: 999_999_999 })).toBe('-0.000000001');
    expect(nsString({ sec: -5, nsec: 0 })).toBe('-5.000000000');
    expect(nsString({ sec: -5, nsec: 250_000_000 })).toBe('-4.750000000');
  });

  it('a file with such times is described by statJson', () => {
    const agent = Agent.open({});
    try {
      agent.paths.writeFile('/far', '');
      agent.paths.utimes('/far', { sec: 1e13, nsec: 0 }, { sec: -1, nsec: 999_999_999 });
      const j = statJson(agent.paths.lstat('/far'));
      expect(j.atime).toBe('+318857-05-20T17:46:40.000Z');
      expect(j.mtime_ns).toBe('-0.000000001');
    } finally {
      agent.close();
    }
  });
});
