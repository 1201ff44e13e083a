/**
 * A whole directory listing from the page-at-a-time readdir of a FileSystem: the one loop that
 * follows readdir cookies (bounded pages keep each query, and an overlay's merge, small).
 */
import type { Attr, DirEntry, DirEntryPlus, FileSystem } from '../types.js';

const READDIR_PAGE = 1024;

/** The pages of a cookie-paged listing, in order (the caller may stop early). */
function* pagesOf<T extends { offset: number }>(page: (cookie: number, limit: number) => T[]): Generator<T[]> {
  for (let cookie = 0; ; ) {
    const got = page(cookie, READDIR_PAGE);
    yield got;
    if (got.length < READDIR_PAGE) return;
    cookie = got[got.length - 1]!.offset;
  }
}

function allPages<T extends { offset: number }>(page: (cookie: number, limit: number) => T[]): T[] {
  const out: T[] = [];
  for (const got of pagesOf(page)) for (const e of got) out.push(e);
  return out;
}

/** Directory `ino`'s entries with attributes, a page at a time (for walks that stop at a budget). */
export function readdirPlusPages(fs: FileSystem, ino: number): Generator<DirEntryPlus[]> {
  return pagesOf((cookie, limit) => fs.readdirPlus(ino, cookie, limit));
}

/** Every entry of directory `ino`, in the filesystem's order. */
export function allEntries(fs: FileSystem, ino: number): DirEntry[] {
  return allPages((cookie, limit) => fs.readdir(ino, cookie, limit));
}

/** Every entry of directory `ino` with its attributes (one query per page), sorted by name. */
export function allEntriesPlus(fs: FileSystem, ino: number): { name: string; attr: Attr }[] {
  return allPages((cookie, limit) => fs.readdirPlus(ino, cookie, limit))
    .map((e) => ({ name: e.name, attr: e.attr }))
    .sort((a, b) => compareNames(a.name, b.name));
}

/**
 * Byte order of UTF-8 names (what `ls` in the C locale does), which is code point order. JS
 * compares UTF-16 code units, where a surrogate pair (U+10000 and up) sorts before U+E000..U+FFFF:
 * those units are shifted into code point order first.
 */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return inCodePointOrder(x) - inCodePointOrder(y);
  }
  return a.length - b.length;
}

function inCodePointOrder(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}
