import type { Timespec } from '../types.js';

const NS_PER_SEC = 1_000_000_000n;
const NS_PER_MS = 1_000_000n;

// Wall clock in ns: Date.now() gives the epoch, hrtime the sub-millisecond part. Re-anchored when
// the two drift apart (NTP steps, suspend), and strictly increasing so two changes in a row
// always get distinct mtimes. The drift is judged in milliseconds as plain numbers: each BigInt
// operation allocates, and every change takes a stamp or two.
let origin = BigInt(Date.now()) * NS_PER_MS - process.hrtime.bigint();
let originMs = Number(origin) / 1e6;
let last = 0n;

export function nowNs(): bigint {
  const mono = process.hrtime.bigint();
  const wallMs = Date.now();
  const monoMs = Number(mono) / 1e6;
  if (Math.abs(originMs + monoMs - wallMs) > 1000) {
    origin = BigInt(wallMs) * NS_PER_MS - mono;
    originMs = wallMs - monoMs;
  }
  let t = origin + mono;
  if (t <= last) t = last + 1n;
  last = t;
  return t;
}

export function now(): Timespec {
  const t = nowNs();
  return { sec: Number(t / NS_PER_SEC), nsec: Number(t % NS_PER_SEC) };
}

export function toNs(t: Timespec): bigint {
  return BigInt(t.sec) * NS_PER_SEC + BigInt(t.nsec);
}

export function fromMs(ms: number): Timespec {
  const sec = Math.floor(ms / 1000);
  return { sec, nsec: Math.round((ms - sec * 1000) * 1e6) };
}

export function toMs(t: Timespec): number {
  return t.sec * 1000 + Math.floor(t.nsec / 1e6);
}

export function validTimespec(t: Timespec): boolean {
  return Number.isSafeInteger(t.sec) && Number.isInteger(t.nsec) && t.nsec >= 0 && t.nsec < 1e9;
}
