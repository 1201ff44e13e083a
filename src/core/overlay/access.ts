import { FsError } from '../errors.js';
import type { Attr, Caller } from '../types.js';
import { S_IFDIR, S_IFMT, X_OK } from '../types.js';

/** POSIX permission check of `mask` (R_OK|W_OK|X_OK) against an attr, for base-only nodes. */
export function checkAccess(attr: Attr, mask: number, caller: Caller): void {
  if (mask === 0) return;
  if (caller.uid === 0) {
    // root passes everything except execute on a file with no x bit at all
    if (mask & X_OK && (attr.mode & S_IFMT) !== S_IFDIR && (attr.mode & 0o111) === 0) throw new FsError('EACCES', 'access');
    return;
  }
  let bits: number;
  if (caller.uid === attr.uid) bits = (attr.mode >> 6) & 7;
  else if (caller.gid === attr.gid || caller.groups?.includes(attr.gid)) bits = (attr.mode >> 3) & 7;
  else bits = attr.mode & 7;
  if ((bits & mask) !== mask) throw new FsError('EACCES', 'access');
}
