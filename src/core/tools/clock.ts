/**
 * Wall-clock time in nanoseconds as a bigint: Date.now() anchors it once per process and the
 * monotonic hrtime clock advances it, so events recorded by one process keep their order even
 * within a millisecond (Date.now alone cannot). Across processes the anchors differ by < 1 ms.
 */
const anchorWallNs = BigInt(Date.now()) * 1_000_000n;
const anchorHr = process.hrtime.bigint();

export function nowNs(): bigint {
  return anchorWallNs + (process.hrtime.bigint() - anchorHr);
}

/** Unix seconds (what the spec's started_at/completed_at hold) of a nanosecond time. */
export function nsToSeconds(ns: bigint): number {
  return Number(ns / 1_000_000_000n);
}

export function nsToMs(ns: bigint): number {
  return Number(ns / 1_000_000n);
}
