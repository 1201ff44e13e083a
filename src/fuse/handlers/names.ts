/** Namespace requests: mknod, mkdir, symlink, link, unlink, rmdir, rename. */
import { isDir, type Attr } from '../../core/types.js';
import { ARG, type RawRequest } from '../binding.js';
import { encodeAttr } from '../attr.js';
import { callerOf, type Reply, type ServeState } from '../state.js';

function entry(s: ServeState, id: number, attr: Attr, parent: number, name: string): Reply {
  s.handedOut(parent, name, attr.ino);
  const out = encodeAttr(attr, s.owner);
  return () => s.native.replyEntry(id, out, s.timeouts.entry, s.timeouts.attr);
}

export function mknod(s: ServeState, req: RawRequest): Reply {
  const [name, mode, rdev] = req.slice(ARG) as [string, number, number];
  return entry(s, req[1], s.fs.mknod(req[2], name, mode, rdev, callerOf(req)), req[2], name);
}

export function mkdir(s: ServeState, req: RawRequest): Reply {
  const [name, mode] = req.slice(ARG) as [string, number];
  const attr = s.fs.mkdir(req[2], name, mode & 0o7777, callerOf(req));
  s.rememberParent(attr.ino, req[2]);
  return entry(s, req[1], attr, req[2], name);
}

export function symlink(s: ServeState, req: RawRequest): Reply {
  const [name, target] = req.slice(ARG) as [string, string];
  return entry(s, req[1], s.fs.symlink(req[2], name, target, callerOf(req)), req[2], name);
}

export function link(s: ServeState, req: RawRequest): Reply {
  const [newName, newParent] = req.slice(ARG) as [string, number];
  return entry(s, req[1], s.fs.link(req[2], newParent, newName), newParent, newName);
}

export function unlink(s: ServeState, req: RawRequest): Reply {
  const id = req[1];
  s.fs.unlink(req[2], req[ARG] as string);
  return () => s.native.replyErr(id, 0);
}

export function rmdir(s: ServeState, req: RawRequest): Reply {
  const id = req[1];
  s.fs.rmdir(req[2], req[ARG] as string);
  return () => s.native.replyErr(id, 0);
}

export function rename(s: ServeState, req: RawRequest): Reply {
  const id = req[1];
  const [name, newName, newParent, flags] = req.slice(ARG) as [string, string, number, number];
  s.fs.rename(req[2], name, newParent, newName, flags);
  if (req[2] !== newParent) {
    // a moved directory has a new '..'
    try {
      const a = s.fs.lookup(newParent, newName);
      if (isDir(a.mode)) s.rememberParent(a.ino, newParent);
    } catch {
      /* gone already: nothing to remember */
    }
  }
  return () => s.native.replyErr(id, 0);
}
