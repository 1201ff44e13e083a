/**
 * Set-id bits a change drops, as the kernel does (should_remove_suid, chown_common): writing or
 * truncating a regular file without privilege, or giving it a new owner or group, drops setuid,
 * and setgid where the group may execute (without group-exec setgid marks mandatory locking and
 * stays). A user writing to a world-writable setuid-root program must not leave it setuid.
 */
import { isReg, type Caller } from '../types.js';

const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_IXGRP = 0o010;

/** The set-id bits of a file of this mode that a write, truncate or chown drops (0: none). */
export function setIdBitsToDrop(mode: number): number {
  if (!isReg(mode)) return 0;
  let bits = mode & S_ISUID;
  if ((mode & (S_ISGID | S_IXGRP)) === (S_ISGID | S_IXGRP)) bits |= S_ISGID;
  return bits;
}

/** Whether a write or truncate by caller drops set-id bits: one without CAP_FSETID (not root). */
export function dropsSetIdOnWrite(caller: Caller | undefined): boolean {
  return caller !== undefined && caller.uid !== 0;
}
