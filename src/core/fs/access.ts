import { F_OK, R_OK, S_IFDIR, S_IFMT, W_OK, X_OK, type Caller } from '../types.js';

/**
 * POSIX permission check of `caller` against an inode's owner, group and mode bits.
 * Root passes everything except execute on a non-directory that has no execute bit at all.
 */
export function checkAccess(attr: { mode: number; uid: number; gid: number }, mask: number, caller: Caller): boolean {
  mask &= R_OK | W_OK | X_OK;
  if (mask === F_OK) return true;
  if (caller.uid === 0) {
    if (mask & X_OK && (attr.mode & S_IFMT) !== S_IFDIR && (attr.mode & 0o111) === 0) return false;
    return true;
  }
  let bits: number;
  if (caller.uid === attr.uid) bits = (attr.mode >> 6) & 7;
  else if (caller.gid === attr.gid || (caller.groups?.includes(attr.gid) ?? false)) bits = (attr.mode >> 3) & 7;
  else bits = attr.mode & 7;
  return (bits & mask) === mask;
}
