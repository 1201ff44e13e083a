/**
 * The exact nanosecond times of journal entries. An entry's time_ns is a double (about 250 ns
 * apart at today's times, JournalEntry); the reader keeps the stored digits beside it, for output
 * that promises them exact (`timeline --format json`).
 */
import type { JournalEntry } from './types.js';

const exact = new WeakMap<JournalEntry, { time_ns: string; end_ns?: string }>();

export function rememberExactNs(e: JournalEntry, timeNs: string, endNs: string | null | undefined): void {
  exact.set(e, endNs === null || endNs === undefined ? { time_ns: timeNs } : { time_ns: timeNs, end_ns: endNs });
}

/** The stored digits of e's time_ns or end_ns (undefined: not read by JournalReader, or no end). */
export function exactNs(e: JournalEntry, field: 'time_ns' | 'end_ns'): string | undefined {
  return exact.get(e)?.[field];
}
