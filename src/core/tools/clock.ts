/**
 * The one wall clock of a process in nanoseconds (core/fs/time.ts: Date.now() anchors it, hrtime
 * advances it, strictly increasing), so tool calls, journal rows and file times taken in one
 * process keep their order even within a millisecond. Across processes it differs by < 1 ms.
 */
export { nowNs } from '../fs/time.js';

/** Unix seconds (what the spec's started_at/completed_at hold) of a nanosecond time. */
export function nsToSeconds(ns: bigint): number {
  return Number(ns / 1_000_000_000n);
}

export function nsToMs(ns: bigint): number {
  return Number(ns / 1_000_000n);
}
