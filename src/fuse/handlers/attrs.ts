/** Attribute requests: lookup, getattr, setattr, readlink, access, statfs. */
import { isFsError } from '../../core/errors.js';
import { isDir, type Attr, type SetAttr, type Timespec } from '../../core/types.js';
import { SetAttrBits as B } from '../binding.js';
import type { AccessRequest, GetattrRequest, LookupRequest, ReadlinkRequest, SetattrRequest, StatfsRequest } from '../requests.js';
import { attrRecord, encodeStatfs, NEGATIVE_ENTRY } from '../attr.js';
import type { Reply, ServeState } from '../state.js';

export function lookup(s: ServeState, { id, parent, name }: LookupRequest): Reply {
  let attr;
  try {
    attr = s.fs.lookup(parent, name);
  } catch (e) {
    if (s.timeouts.negative > 0 && isFsError(e, 'ENOENT')) {
      // a name another process creates meanwhile must show at once, not after the timeout
      s.handedOut(parent, name, 0);
      return () => s.native.replyEntry(id, NEGATIVE_ENTRY, s.timeouts.negative, 0);
    }
    throw e;
  }
  if (isDir(attr.mode)) s.rememberParent(attr.ino, parent);
  s.handedOut(parent, name, attr.ino);
  s.hostOffers?.offer(attr.ino);
  return () => s.native.replyEntry(id, attrRecord(attr, s.owner), s.timeouts.entry, s.timeouts.attr);
}

export function getattr(s: ServeState, { id, ino }: GetattrRequest): Reply {
  const attr = attrOrRemoved(s, ino);
  s.hostOffers?.offer(ino);
  return () => s.native.replyAttr(id, attrRecord(attr, s.owner), s.timeouts.attr);
}

/** The filesystem no longer has the inode a request names (ENOENT; an overlay says ESTALE). */
export function inodeGone(e: unknown): boolean {
  return isFsError(e, 'ENOENT') || isFsError(e, 'ESTALE');
}

/**
 * ino's attributes; for a directory removed through this mount that some process is still in
 * (ServeState.removedDir), those it had, with no link.
 */
export function attrOrRemoved(s: ServeState, ino: number): Attr {
  try {
    return s.fs.getattr(ino);
  } catch (e) {
    const removed = inodeGone(e) ? s.removedDirAttr(ino) : undefined;
    if (removed) return removed;
    throw e;
  }
}

/** setattr, or its change to a directory removed through this mount (ServeState.changeRemovedDir). */
function setattrOrRemoved(s: ServeState, ino: number, changes: SetAttr, req: SetattrRequest): Attr {
  try {
    return s.fs.setattr(ino, changes, req);
  } catch (e) {
    const removed = inodeGone(e) ? s.changeRemovedDir(ino, changes) : undefined;
    if (removed) return removed;
    throw e;
  }
}

function time(bitNow: number, bitSet: number, valid: number, sec: number, nsec: number): Timespec | 'now' | undefined {
  if (valid & bitNow) return 'now';
  if (valid & bitSet) return { sec, nsec };
  return undefined;
}

export function setattr(s: ServeState, req: SetattrRequest): Reply {
  const { id, ino, toSet } = req;
  const changes: SetAttr = {};
  if (toSet & B.MODE) changes.mode = req.mode & 0o7777;
  if (toSet & B.UID) changes.uid = req.ownerUid;
  if (toSet & B.GID) changes.gid = req.ownerGid;
  if (toSet & B.SIZE) changes.size = req.size;
  const atime = time(B.ATIME_NOW, B.ATIME, toSet, req.atimeSec, req.atimeNsec);
  const mtime = time(B.MTIME_NOW, B.MTIME, toSet, req.mtimeSec, req.mtimeNsec);
  if (atime !== undefined) changes.atime = atime;
  if (mtime !== undefined) changes.mtime = mtime;
  // The kernel leaves set-id bits to this server (FUSE_HANDLE_KILLPRIV): a SETATTR with nothing to
  // set (but a ctime, with the writeback cache) comes before a write or fallocate by a user without
  // privilege, and for a chown(-1, -1), when its cached mode has them. Told how, the kernel would
  // have sent the mode without them.
  if (s.killpriv && (toSet & ~B.CTIME) === 0) changes.dropSetId = true;
  const changing = Object.keys(changes).length > 0;
  const attr = changing ? setattrOrRemoved(s, ino, changes, req) : attrOrRemoved(s, ino);
  if (changing) s.changedAttrs(ino, attr);
  // Asked to drop set-id bits and refused (set-id.ts setIdBitsAsked: a caller who may neither chown
  // nor write the file, as through a descriptor opened before a chmod): the write that follows
  // may still drop them, and the kernel must not keep the mode given here cached meanwhile.
  const timeout = changes.dropSetId && attr.mode & 0o6000 ? 0 : s.timeouts.attr;
  return () => s.native.replyAttr(id, attrRecord(attr, s.owner), timeout);
}

export function readlink(s: ServeState, { id, ino }: ReadlinkRequest): Reply {
  const target = s.fs.readlink(ino);
  return () => s.native.replyReadlink(id, target);
}

export function access(s: ServeState, req: AccessRequest): Reply {
  s.fs.access(req.ino, req.mask, req);
  return () => s.native.replyErr(req.id, 0);
}

export function statfs(s: ServeState, { id }: StatfsRequest): Reply {
  const out = encodeStatfs(s.fs.statfs());
  return () => s.native.replyStatfs(id, out);
}
