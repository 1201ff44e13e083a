/** Attribute requests: lookup, getattr, setattr, readlink, access, statfs. */
import { isFsError } from '../../core/errors.js';
import { isDir, type SetAttr, type Timespec } from '../../core/types.js';
import { ARG, SetAttrBits as B, type RawRequest } from '../binding.js';
import { encodeAttr, encodeStatfs, NEGATIVE_ENTRY } from '../attr.js';
import { callerOf, type Reply, type ServeState } from '../state.js';

export function lookup(s: ServeState, req: RawRequest): Reply {
  const id = req[1];
  const parent = req[2];
  const name = req[ARG] as string;
  let attr;
  try {
    attr = s.fs.lookup(parent, name);
  } catch (e) {
    if (s.timeouts.negative > 0 && isFsError(e, 'ENOENT')) {
      return () => s.native.replyEntry(id, NEGATIVE_ENTRY, s.timeouts.negative, 0);
    }
    throw e;
  }
  if (isDir(attr.mode)) s.rememberParent(attr.ino, parent);
  s.handedOut(parent, name, attr.ino);
  const out = encodeAttr(attr, s.owner);
  return () => s.native.replyEntry(id, out, s.timeouts.entry, s.timeouts.attr);
}

export function getattr(s: ServeState, req: RawRequest): Reply {
  const id = req[1];
  const out = encodeAttr(s.fs.getattr(req[2]), s.owner);
  return () => s.native.replyAttr(id, out, s.timeouts.attr);
}

function time(bitNow: number, bitSet: number, valid: number, sec: number, nsec: number): Timespec | 'now' | undefined {
  if (valid & bitNow) return 'now';
  if (valid & bitSet) return { sec, nsec };
  return undefined;
}

export function setattr(s: ServeState, req: RawRequest): Reply {
  const id = req[1];
  const ino = req[2];
  const [valid, , mode, uid, gid, size, asec, ansec, msec, mnsec] = req.slice(ARG) as number[];
  const changes: SetAttr = {};
  if (valid & B.MODE) changes.mode = mode & 0o7777;
  if (valid & B.UID) changes.uid = uid;
  if (valid & B.GID) changes.gid = gid;
  if (valid & B.SIZE) changes.size = size;
  const atime = time(B.ATIME_NOW, B.ATIME, valid, asec, ansec);
  const mtime = time(B.MTIME_NOW, B.MTIME, valid, msec, mnsec);
  if (atime !== undefined) changes.atime = atime;
  if (mtime !== undefined) changes.mtime = mtime;
  const attr = Object.keys(changes).length ? s.fs.setattr(ino, changes, callerOf(req)) : s.fs.getattr(ino);
  const out = encodeAttr(attr, s.owner);
  return () => s.native.replyAttr(id, out, s.timeouts.attr);
}

export function readlink(s: ServeState, req: RawRequest): Reply {
  const id = req[1];
  const target = s.fs.readlink(req[2]);
  return () => s.native.replyReadlink(id, target);
}

export function access(s: ServeState, req: RawRequest): Reply {
  const id = req[1];
  s.fs.access(req[2], req[ARG] as number, callerOf(req));
  return () => s.native.replyErr(id, 0);
}

export function statfs(s: ServeState, req: RawRequest): Reply {
  const id = req[1];
  const out = encodeStatfs(s.fs.statfs());
  return () => s.native.replyStatfs(id, out);
}
