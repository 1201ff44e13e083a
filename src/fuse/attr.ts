import type { Attr, StatFs } from '../core/types.js';
import { ATTR_LEN } from './binding.js';

/** Ownership to report instead of the stored one (`--uid/--gid`). */
export interface OwnerOverride {
  uid?: number;
  gid?: number;
}

/** Writes attr into out at offset (15 doubles, the addon's layout). */
export function putAttr(out: Float64Array, at: number, a: Attr, owner: OwnerOverride): void {
  out[at] = a.ino;
  out[at + 1] = a.mode;
  out[at + 2] = a.nlink;
  out[at + 3] = owner.uid ?? a.uid;
  out[at + 4] = owner.gid ?? a.gid;
  out[at + 5] = a.size;
  out[at + 6] = a.rdev;
  out[at + 7] = a.blksize || 4096;
  out[at + 8] = a.blocks;
  out[at + 9] = a.atime.sec;
  out[at + 10] = a.atime.nsec;
  out[at + 11] = a.mtime.sec;
  out[at + 12] = a.mtime.nsec;
  out[at + 13] = a.ctime.sec;
  out[at + 14] = a.ctime.nsec;
}

const RECORD = new Float64Array(ATTR_LEN);

/**
 * attr as the addon's record, in one buffer every call shares: valid until the next call, so it
 * goes straight into the addon call that copies it (a reply, changedAttrs). A fresh Float64Array
 * each time (two or three a created file) cost the requests around it more than itself: each is
 * an ArrayBuffer whose memory is allocated and swept apart from the JavaScript heap, and in
 * process five of them between two filesystem operations made those 1.5x slower (tar x through a
 * mount: 5% faster with the shared one).
 */
export function attrRecord(a: Attr, owner: OwnerOverride): Float64Array {
  putAttr(RECORD, 0, a, owner);
  return RECORD;
}

/** The record of a negative entry (ino 0): the kernel caches "no such name" for the entry timeout. */
export const NEGATIVE_ENTRY = new Float64Array(ATTR_LEN);

export function encodeStatfs(s: StatFs): Float64Array {
  return Float64Array.of(s.bsize, s.frsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.namemax);
}
