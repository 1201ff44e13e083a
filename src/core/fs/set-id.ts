/**
 * Set-id bits a change drops, as the kernel does (setattr_should_drop_suidgid, chown_common): a
 * write or truncate of a regular file by a caller without privilege, and a new owner or group
 * given by anyone, drop setuid; setgid goes with them where the group may execute, or where the
 * caller is not in the file's group and not privileged (Linux 6.2 on; without group-exec setgid
 * once only marked mandatory locking). A user writing to a world-writable setuid-root program
 * must not leave it setuid.
 */
import { readFileSync } from 'node:fs';
import { S_ISGID, isReg, type Caller } from '../types.js';

const S_ISUID = 0o4000;
const S_IXGRP = 0o010;

/**
 * The set-id bits of file `f` that a write or truncate (`chown` false) or a chown (true) by
 * `caller` drops; 0 when none. Without a caller (the SDK's own calls) a write drops nothing.
 */
export function setIdBitsToDrop(f: { mode: number; gid: number }, caller: Caller | undefined, chown: boolean): number {
  if (!isReg(f.mode) || !(f.mode & (S_ISUID | S_ISGID))) return 0;
  const privileged = caller === undefined || caller.uid === 0; // CAP_FSETID, as far as we can tell
  if (!chown && privileged) return 0;
  let bits = f.mode & S_ISUID;
  if (f.mode & S_ISGID && (f.mode & S_IXGRP || (!privileged && !inGroup(caller!, f.gid)))) bits |= S_ISGID;
  return bits;
}

/**
 * Whether caller is in group gid: its group, or one of its supplementary groups (given with the
 * caller, as NFS does; else read from /proc for the caller's pid, as a FUSE request has none:
 * only when a setgid file without group-exec is written, so rarely).
 */
function inGroup(caller: Caller, gid: number): boolean {
  if (caller.gid === gid) return true;
  if (caller.groups) return caller.groups.includes(gid);
  if (!caller.pid) return false;
  try {
    const line = /^Groups:(.*)$/m.exec(readFileSync(`/proc/${caller.pid}/status`, 'utf8'))?.[1] ?? '';
    return line.split(/\s+/).some((g) => g !== '' && Number(g) === gid);
  } catch {
    return false; // gone: as if not in the group (the bit goes, the safe side)
  }
}
