/** Namespace requests: mknod, mkdir, symlink, link, unlink, rmdir, rename. */
import { isDir, RENAME_EXCHANGE, type Attr, type Removal } from '../../core/types.js';
import type { LinkRequest, MkdirRequest, MknodRequest, RenameRequest, RmdirRequest, SymlinkRequest, UnlinkRequest } from '../requests.js';
import { now } from '../../core/fs/time.js';
import { attrRecord } from '../attr.js';
import type { Reply, ServeState } from '../state.js';

function entry(s: ServeState, id: number, attr: Attr, parent: number, name: string): Reply {
  s.madeNode(attr.ino);
  s.changedName(parent, name);
  s.handedOut(parent, name, attr.ino);
  s.changedAttrs(parent);
  s.changedAttrs(attr.ino, attr); // a link's count and ctime moved too
  return () => s.native.replyEntry(id, attrRecord(attr, s.owner), s.timeouts.entry, s.timeouts.attr);
}

export function mknod(s: ServeState, req: MknodRequest): Reply {
  const { id, parent, name, mode, rdev } = req;
  s.changingDir(parent);
  return entry(s, id, s.fs.mknod(parent, name, mode, rdev, req), parent, name);
}

export function mkdir(s: ServeState, req: MkdirRequest): Reply {
  const { id, parent, name, mode } = req;
  s.changingDir(parent);
  const attr = s.fs.mkdir(parent, name, mode & 0o7777, req);
  s.rememberParent(attr.ino, parent);
  s.madeDir(attr.ino);
  return entry(s, id, attr, parent, name);
}

export function symlink(s: ServeState, req: SymlinkRequest): Reply {
  const { id, parent, name, link } = req;
  s.changingDir(parent);
  return entry(s, id, s.fs.symlink(parent, name, link, req), parent, name);
}

export function link(s: ServeState, { id, ino, newParent, newName }: LinkRequest): Reply {
  s.changingDir(newParent);
  return entry(s, id, s.fs.link(ino, newParent, newName), newParent, newName);
}

/**
 * The directory a name was removed from: its attributes to the native side when the filesystem
 * read them back (a mount's, in the removal's own statement), else it is forgotten there (an
 * overlay's: reading them would cost each unlink more than the kernel's rare GETATTR of the
 * directory after one, about one in five in `rm -rf`).
 */
function removedFrom(s: ServeState, parent: number, gone: Removal | void): void {
  if (gone && gone.parent === undefined) s.changedInode(parent);
  else s.changedAttrs(parent, gone?.parent);
}

export function unlink(s: ServeState, { id, parent, name }: UnlinkRequest): Reply {
  s.changingDir(parent);
  s.removingName();
  const gone = s.fs.unlink(parent, name);
  removedFrom(s, parent, gone);
  // one link less, or gone: the addon's lookups of the name then go to JavaScript, as do those
  // of a name whose inode is not known (a crossing into the addon saved for every unlink)
  if (gone) s.changedInode(gone.ino);
  else s.changedName(parent, name);
  return () => s.native.replyErr(id, 0);
}

export function rmdir(s: ServeState, { id, parent, name }: RmdirRequest): Reply {
  // a filesystem whose reads the native side shares says what went (FileSystem.rmdir)
  s.changingDir(parent);
  s.removingName();
  const dir = s.attrAt(parent, name); // as it was: a process may still be in it
  const gone = s.fs.rmdir(parent, name);
  removedFrom(s, parent, gone);
  if (gone) s.changedInode(gone.ino);
  else s.changedName(parent, name);
  if (dir) s.removedDir(dir, gone?.parent?.ctime ?? now());
  return () => s.native.replyErr(id, 0);
}

export function rename(s: ServeState, { id, parent, name, newParent, newName, flags }: RenameRequest): Reply {
  // the moved inode's ctime and a replaced directory change too
  const moved = s.inodeAt(parent, name);
  const target = s.attrAt(newParent, newName);
  const replaced = target?.ino;
  s.changingDir(parent);
  if (newParent !== parent) s.changingDir(newParent);
  s.changingDir(moved); // a directory's '..' (an inode of another kind is never listed)
  if (replaced !== undefined && replaced !== moved) s.changingDir(replaced); // exchanged: its '..' too
  if (moved === undefined) s.changedName(parent, name); // else its inode, touched below, says it
  s.changedName(newParent, newName);
  if (target) s.removingName(); // what it replaces may be freed
  s.fs.rename(parent, name, newParent, newName, flags);
  // the kernel moves its entry to the new name (and, exchanged, the other one to the old) without
  // a lookup: names the change watcher must drop if another process removes them
  s.handedOut(newParent, newName, 0);
  if (flags & RENAME_EXCHANGE) s.handedOut(parent, name, 0);
  s.changedAttrs(parent);
  if (newParent !== parent) s.changedAttrs(newParent);
  s.changedInode(moved);
  s.changedInode(replaced);
  // a directory renamed over is removed (a directory has one name: the same one is no change)
  const over = target && isDir(target.mode) && !(flags & RENAME_EXCHANGE) && (parent !== newParent || name !== newName);
  if (over) s.removedDir(target, now());
  if (parent !== newParent) {
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
