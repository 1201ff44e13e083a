import { isUtf8 } from 'node:buffer';
import { FsError } from '../errors.js';
import { NAME_MAX, PATH_MAX, RENAME_EXCHANGE, RENAME_NOREPLACE } from '../types.js';

/** More than PATH_MAX bytes of UTF-8 (a UTF-16 unit is at most 3 bytes: short paths skip the count). */
export function pathTooLong(path: string): boolean {
  return path.length * 3 > PATH_MAX && Buffer.byteLength(path) > PATH_MAX;
}

/**
 * The one check of a directory entry name, for every FileSystem (inode and overlay) and so for
 * every adapter: non-empty (ENOENT), valid Unicode (EILSEQ: a lone surrogate would be stored as
 * U+FFFD and two names would become one file), at most NAME_MAX bytes of UTF-8, no '/' or NUL.
 * '.' and '..' pass: what they mean depends on the operation (lookup follows them, create says
 * EEXIST, rename EBUSY). Names that arrive as bytes go through nameFromBytes first.
 */
export function checkName(name: string, syscall: string): void {
  if (name.length === 0) throw new FsError('ENOENT', syscall, name);
  // A UTF-16 unit is at most 3 UTF-8 bytes, so short names skip the byte count.
  if (name.length * 3 > NAME_MAX && Buffer.byteLength(name) > NAME_MAX) throw new FsError('ENAMETOOLONG', syscall, name);
  if (name.includes('/') || name.includes('\0')) throw new FsError('EINVAL', syscall, name, 'invalid name');
  checkUnicode(name, syscall);
}

/** In a `u` regex a surrogate pair is one code point, so this matches unpaired halves only. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Text stored as UTF-8 (names, paths, symlink targets) must be well-formed: EILSEQ otherwise. */
export function checkUnicode(text: string, syscall: string, what = 'name'): void {
  if (LONE_SURROGATE.test(text)) throw new FsError('EILSEQ', syscall, escapeText(text), `${what} is not valid Unicode (a lone surrogate)`);
}

export function isDotName(name: string): boolean {
  return name === '.' || name === '..';
}

/** Operations that take a directory entry name (lookup follows '.' and '..'; the rest refuse them). */
export type EntryOp = 'mkdir' | 'mknod' | 'create' | 'symlink' | 'link' | 'unlink' | 'rmdir' | 'rename';

/**
 * The errno every FileSystem gives when '.' or '..' is named as the entry to make, remove or move
 * (Linux's answers, so a mount and the core agree): making one says EEXIST (it exists), unlink
 * EISDIR, rmdir '.' EINVAL and '..' ENOTEMPTY, rename EBUSY (Linux's do_renameat2, not POSIX's
 * EINVAL for '.': a mount answers EBUSY without asking us).
 * Callers check that the parent is a directory first (ENOTDIR wins, as in the kernel).
 */
export function checkNotDot(name: string, op: EntryOp): void {
  if (!isDotName(name)) return;
  switch (op) {
    case 'unlink':
      throw new FsError('EISDIR', op, name);
    case 'rmdir':
      throw new FsError(name === '.' ? 'EINVAL' : 'ENOTEMPTY', op, name);
    case 'rename':
      throw new FsError('EBUSY', op, name);
    default:
      throw new FsError('EEXIST', op, name);
  }
}

/** A name or path given as bytes (SDK Buffers, host directory entries): strict UTF-8 or EILSEQ. */
export function textFromBytes(bytes: Uint8Array, syscall: string, what = 'name'): string {
  if (!isUtf8(bytes)) throw new FsError('EILSEQ', syscall, escapeBytes(bytes), `${what} is not valid UTF-8`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/** Bytes shown the way bash's $'...' would take them back: printable ASCII as is, the rest \xNN. */
export function escapeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return out;
}

/** A string with its lone surrogates shown as \uXXXX (they cannot be printed). */
function escapeText(text: string): string {
  return text.replace(/\p{Cs}/gu, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/**
 * rename(2)'s arguments, as every FileSystem checks them before looking anything up: known and
 * compatible flags (EINVAL), then both names (EBUSY for '.' and '..', then checkName).
 */
export function checkRenameArgs(name: string, newName: string, flags: number): void {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE) || (flags & RENAME_NOREPLACE && flags & RENAME_EXCHANGE)) {
    throw new FsError('EINVAL', 'rename', name, 'invalid rename flags');
  }
  checkNotDot(name, 'rename');
  checkNotDot(newName, 'rename');
  checkName(name, 'rename');
  checkName(newName, 'rename');
}
