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
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
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
  if (!chown && capable(caller, CAP_FSETID)) return 0;
  let bits = f.mode & S_ISUID;
  // the capability is looked up only where it decides (a chown's setgid without group-exec; no
  // caller: the SDK's own calls, privileged)
  const outsider = () => caller !== undefined && !inGroup(caller, f.gid) && !capable(caller, CAP_FSETID);
  if (f.mode & S_ISGID && (f.mode & S_IXGRP || outsider())) bits |= S_ISGID;
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
 * over our files) as the caller's uid (its filesystem uid). A process gone by then, or acting as
 * another uid since (an asynchronous write is served after the call returned: the hostile pass
 * kept the bits that way, a thread exiting right after io_submit), holds none. Without a pid (NFS)
 * or /proc, uid 0 is privileged. No caller: the SDK's own calls.
 */
function capable(caller: Caller | undefined, cap: number): boolean {
  if (caller === undefined) return true;
  const p = caller.pid ? procOf(caller.pid) : undefined;
  if (p === undefined) return caller.uid === 0;
  if (p === null || p.fsUid !== caller.uid || !p.ownNamespace) return false;
  return ((p.caps >> BigInt(cap)) & 1n) === 1n;
}

/** What /proc says of a process, as capable() and inGroup() need it. */
interface ProcCreds {
  fsUid: number;
  caps: bigint;
  groups: number[];
  /** it runs in this process's user namespace */
  ownNamespace: boolean;
  at: number;
}

/**
 * Kept a second per pid: a file with set-id bits written 4 KiB at a time asked for them at every
 * request (+25 µs each, the hostile pass). A process's credentials that change within it count
 * as they were: one that drops a capability held it a moment before; one that gains one is
 * taken for less privileged (the bits go, the safe side).
 */
const procCache = new Map<number, ProcCreds>();
const PROC_TTL_MS = 1000;

/** pid's credentials; null when it is gone; undefined when this system has no /proc to ask. */
function procOf(pid: number): ProcCreds | null | undefined {
  const now = Date.now();
  const known = procCache.get(pid);
  if (known && now - known.at < PROC_TTL_MS) return known;
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return existsSync('/proc/self/status') ? null : undefined;
  }
  const fsUid = /^Uid:\s+\d+\s+\d+\s+\d+\s+(\d+)$/m.exec(status)?.[1];
  const eff = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  const groups = /^Groups:(.*)$/m.exec(status)?.[1] ?? '';
  let ownNamespace = false;
  try {
    ownNamespace = readlinkSync(`/proc/${pid}/ns/user`) === readlinkSync('/proc/self/ns/user');
  } catch {
    /* gone meanwhile: not ours */
  }
  if (fsUid === undefined || eff === undefined) return null;
  const creds = { fsUid: Number(fsUid), caps: BigInt(`0x${eff}`), groups: groups.split(/\s+/).filter((g) => g !== '').map(Number), ownNamespace, at: now };
  if (procCache.size >= 256) procCache.clear();
  procCache.set(pid, creds);
  return creds;
}

/**
 * Whether caller is in group gid: its group, or one of its supplementary groups (given with the
 * caller, as NFS does; else read from /proc for the caller's pid, as a FUSE request has none:
 * only when a setgid file without group-exec is written, so rarely).
 */
function inGroup(caller: Caller, gid: number): boolean {
  if (caller.gid === gid) return true;
  if (caller.groups) return caller.groups.includes(gid);
  return caller.pid ? groupsOf(caller.pid).includes(gid) : false; // gone: as if not in the group (the bit goes, the safe side)
}

/** The supplementary groups of process pid (none when it is gone). */
function groupsOf(pid: number): number[] {
  return procOf(pid)?.groups ?? [];
}
