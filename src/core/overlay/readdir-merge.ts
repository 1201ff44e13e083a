import type { DirEntry } from '../types.js';
import type { BaseEntry } from './base.js';

/** Cookies at or above this continue in the base listing; below it they are delta cookies. */
export const BASE_COOKIE = 2 ** 49;

/**
 * The base half of a merged directory listing: base entries from cookie `offset` on, minus
 * whited-out, hidden and delta-shadowed names. A base cookie is the entry's index in the sorted
 * base listing, so whiteouts added while a reader walks the directory (rm -rf) shift nothing.
 */
export function baseEntriesFrom(
  entries: readonly BaseEntry[],
  offset: number,
  limit: number,
  skip: (name: string) => boolean,
  inoOf: (e: BaseEntry) => number,
): DirEntry[] {
  const out: DirEntry[] = [];
  const start = offset >= BASE_COOKIE ? offset - BASE_COOKIE : 0;
  for (let i = start; i < entries.length && out.length < limit; i++) {
    const e = entries[i]!;
    if (skip(e.name)) continue;
    out.push({ name: e.name, ino: inoOf(e), mode: e.mode, offset: BASE_COOKIE + i + 1 });
  }
  return out;
}
