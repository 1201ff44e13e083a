/** mkdir, mknod, create, symlink: a new inode and its first dentry, in one transaction. */
import { FsError } from '../../errors.js';
import {
  PATH_MAX, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, S_ISGID,
  type Attr, type Caller,
} from '../../types.js';
import { notify, type FsContext } from '../context.js';
import { checkName, checkNotDot, checkUnicode } from '../names.js';
import { SQL, rememberChunks } from '../rows.js';
import { now } from '../time.js';
import { makeAlone } from './make-alone.js';
import { putChunkRun } from './write.js';

function makeNode(
  ctx: FsContext,
  op: 'mkdir' | 'mknod' | 'create' | 'symlink',
  parent: number,
  name: string,
  mode: number,
  rdev: number,
  caller: Caller,
  size = 0,
  after?: (ino: number) => void,
  content?: Buffer,
): Attr {
  checkName(name, op);
  const make = (): Attr => {
    const type = mode & S_IFMT;
    const t = now();
    // The parent's times and link count move first: the same statement says whether it is a
    // directory, and its mode and group (a failure below rolls the update back with the rest).
    const p = ctx.store.arrayStmt(SQL.touchDirReturning).get(type === S_IFDIR ? 1 : 0, t.sec, t.nsec, t.sec, t.nsec, parent) as
      | [number, number]
      | undefined;
    if (!p) throw new FsError('ENOENT', op, undefined, `no such inode ${parent}`);
    const [parentMode, parentGid] = p;
    if ((parentMode & S_IFMT) !== S_IFDIR) throw new FsError('ENOTDIR', op);
    checkNotDot(name, op);
    let gid = caller.gid;
    // BSD group semantics on setgid directories: new entries take the directory's group.
    if (parentMode & S_ISGID) {
      gid = parentGid;
      if (type === S_IFDIR) mode |= S_ISGID;
    }
    const nlink = type === S_IFDIR ? 2 : 1;
    const ino = Number(
      ctx.store.stmt(SQL.insertInode).run(mode, nlink, caller.uid, gid, size, t.sec, t.sec, t.sec, rdev, t.nsec, t.nsec, t.nsec).lastInsertRowid,
    );
    if (ctx.store.stmt(SQL.insertDentry).run(name, parent, ino).changes === 0) throw new FsError('EEXIST', op, name);
    if (ctx.nextIno !== undefined && ino >= ctx.nextIno) ctx.nextIno = ino + 1; // create-alone.ts proposes past it
    // a new inode number: no chunks but the content's
    const chunks = content ? putChunks(ctx, ino, content) : 0;
    if (type === S_IFREG) rememberChunks(ctx, ino, size, t, chunks);
    after?.(ino);
    if (ctx.observer) notify(ctx, { op, ino, parent, name, mode, uid: caller.uid, gid, written: size > 0 && content ? size : undefined });
    return {
      ino, mode, nlink, uid: caller.uid, gid, size, rdev, blksize: 4096, blocks: content ? Math.ceil(size / 512) : 0,
      atime: t, mtime: { ...t }, ctime: { ...t },
    };
  };
  // with content (PathFs.writeFile's direct path) inside the caller's transaction: see writeWhole.
  // Inside a transaction (a mount's group commit), a node with no content nor symlink target is
  // one statement (make-alone.ts) when that route can take it
  const alone = content || after || op === 'symlink' ? undefined : makeAlone(ctx, op, parent, name, mode, rdev, caller);
  const attr = alone ?? (content ? make() : ctx.store.transaction(make));
  if (!content) ctx.fresh = attr.ino; // no open follows a whole-file write
  return attr;
}

/** A new regular file with its content, in the caller's transaction (InodeFs.writeWhole). */
export function createWith(ctx: FsContext, parent: number, name: string, mode: number, caller: Caller, content: Buffer): Attr {
  return makeNode(ctx, 'create', parent, name, S_IFREG | (mode & 0o7777), 0, caller, content.byteLength, undefined, content);
}

/** Stores content as ino's chunks 0..n-1 (spec-shaped: every chunk full but the last); returns n. */
export function putChunks(ctx: FsContext, ino: number, content: Buffer): number {
  const cs = ctx.chunkSize;
  const n = Math.ceil(content.byteLength / cs);
  const pieces: Buffer[] = new Array(n);
  for (let i = 0; i < n; i++) pieces[i] = content.subarray(i * cs, Math.min(content.byteLength, (i + 1) * cs));
  putChunkRun(ctx, ino, 0, pieces);
  return n;
}

export function mkdir(ctx: FsContext, parent: number, name: string, mode: number, caller: Caller): Attr {
  return makeNode(ctx, 'mkdir', parent, name, S_IFDIR | (mode & 0o7777), 0, caller);
}

export function create(ctx: FsContext, parent: number, name: string, mode: number, caller: Caller): Attr {
  return makeNode(ctx, 'create', parent, name, S_IFREG | (mode & 0o7777), 0, caller);
}

export function mknod(ctx: FsContext, parent: number, name: string, mode: number, rdev: number, caller: Caller): Attr {
  let type = mode & S_IFMT;
  if (type === 0) type = S_IFREG;
  if (type !== S_IFREG && type !== S_IFIFO && type !== S_IFCHR && type !== S_IFBLK && type !== S_IFSOCK) {
    throw new FsError('EINVAL', 'mknod', name, 'mknod creates files, fifos, sockets and devices only');
  }
  const dev = type === S_IFCHR || type === S_IFBLK ? rdev : 0;
  return makeNode(ctx, 'mknod', parent, name, type | (mode & 0o7777), dev, caller);
}

export function symlink(ctx: FsContext, parent: number, name: string, target: string, caller: Caller): Attr {
  if (target.length === 0) throw new FsError('ENOENT', 'symlink', name, 'empty symlink target');
  const bytes = Buffer.byteLength(target);
  if (bytes >= PATH_MAX) throw new FsError('ENAMETOOLONG', 'symlink', name);
  if (target.includes('\0')) throw new FsError('EINVAL', 'symlink', name);
  checkUnicode(target, 'symlink', 'symlink target');
  return makeNode(ctx, 'symlink', parent, name, S_IFLNK | 0o777, 0, caller, bytes, (ino) => {
    ctx.store.stmt('INSERT INTO fs_symlink (ino, target) VALUES (?, ?)').run(ino, target);
  });
}
