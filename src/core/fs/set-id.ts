/**
 * Set-id bits a change drops, as the kernel does (setattr_should_drop_suidgid, chown_common): a
 * write or truncate of a regular file by a caller without privilege, and a new owner or group
 * given by anyone, drop setuid; setgid goes with them where the group may execute, or where the
 * caller is not in the file's group and not privileged (Linux 6.2 on; without group-exec setgid
 * once only marked mandatory locking). A user writing to a world-writable setuid-root program
 * must not leave it setuid.
 *
 * Privilege is CAP_FSETID, as the kernel checks it: a FUSE mount leaves the bits to this server
 * (FUSE_HANDLE_KILLPRIV), and `agentfs run` runs its command as uid 0 without capabilities, which
 * must drop them like anyone else. A request says only its uid, gid and pid, so the capabilities
 * are read from /proc/PID/status, and only when a file has set-id bits (rarely).
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { S_ISGID, W_OK, isReg, type Caller } from '../types.js';
import { checkAccess } from './access.js';

const S_ISUID = 0o4000;
const S_IXGRP = 0o010;
const CAP_FOWNER = 3;
const CAP_FSETID = 4;

/**
 * The set-id bits of file `f` that a write or truncate (`chown` false) or a chown (true) by
 * `caller` drops; 0 when none. Without a caller (the SDK's own calls) a write drops nothing.
 */
export function setIdBitsToDrop(f: { mode: number; gid: number }, caller: Caller | undefined, chown: boolean): number {
  if (!isReg(f.mode) || !(f.mode & (S_ISUID | S_ISGID))) return 0;
  const privileged = capable(caller, CAP_FSETID);
  if (!chown && privileged) return 0;
  let bits = f.mode & S_ISUID;
  if (f.mode & S_ISGID && (f.mode & S_IXGRP || (!privileged && !inGroup(caller!, f.gid)))) bits |= S_ISGID;
  return bits;
}

/**
 * The set-id bits a SETATTR that sets nothing asks to drop (SetAttr.dropSetId): the kernel sends
 * one, when it leaves the bits to the server, before a write or fallocate by a caller without
 * privilege and for a chown(-1, -1), and the request does not say which. A chown drops what any
 * chown does, but Linux lets only the owner or a caller with CAP_FOWNER make one that drops
 * bits (EPERM otherwise); a write comes from one who opened the file for writing. So for anyone
 * else who may not write it now (a descriptor opened before a chmod, at most) nothing is dropped:
 * another user's chown(-1, -1) must not strip a setuid program of its bit.
 */
export function setIdBitsAsked(f: { mode: number; uid: number; gid: number }, caller: Caller | undefined): number {
  const bits = setIdBitsToDrop(f, caller, true);
  if (!bits || caller === undefined || caller.uid === f.uid || capable(caller, CAP_FOWNER)) return bits;
  // checked as a user's: uid 0 without CAP_FOWNER owns only its own files (checkAccess lets uid 0 do anything)
  const asUser = { ...caller, uid: caller.uid === 0 ? -1 : caller.uid, groups: caller.groups ?? (caller.pid ? groupsOf(caller.pid) : []) };
  return checkAccess(f, W_OK, asUser) ? bits : 0;
}

/**
 * Whether caller has capability `cap` (as the kernel's capable() sees it, near enough): its
 * effective set in /proc, if it runs in this process's user namespace (in another it holds none
 * over our files) as the caller's uid (its filesystem uid: else the pid is not the caller's any
 * more); without a pid, or once gone, uid 0 is privileged. No caller: the SDK's own calls.
 */
function capable(caller: Caller | undefined, cap: number): boolean {
  if (caller === undefined) return true;
  if (caller.pid) {
    try {
      const status = readFileSync(`/proc/${caller.pid}/status`, 'utf8');
      const fsUid = /^Uid:\s+\d+\s+\d+\s+\d+\s+(\d+)$/m.exec(status)?.[1];
      const eff = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
      if (fsUid !== undefined && Number(fsUid) === caller.uid && eff !== undefined) {
        if (readlinkSync(`/proc/${caller.pid}/ns/user`) !== readlinkSync('/proc/self/ns/user')) return false;
        return ((BigInt(`0x${eff}`) >> BigInt(cap)) & 1n) === 1n;
      }
    } catch {
      /* gone, or /proc not mounted: as by its uid */
    }
  }
  return caller.uid === 0;
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
  return groupsOf(caller.pid).includes(gid); // gone: as if not in the group (the bit goes, the safe side)
}

/** The supplementary groups of process pid (none when it is gone). */
function groupsOf(pid: number): number[] {
  try {
    const line = /^Groups:(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
    return line.split(/\s+/).filter((g) => g !== '').map(Number);
  } catch {
    return [];
  }
}
