/**
 * A copy of a regular file or directory from elsewhere made in one go (the overlay's copy-up): a
 * new inode under `parent` with the source's type, permission bits, owner, access and
 * modification times (its ctime now) and a file's content, as the rows the result needs and
 * nothing more. A copy-up as create, write, chmod/chown/utimens, a stat to check the
 * size and the parent's mtime put back was ~20 statements; this is 3 and a chunk each.
 *
 * The parent's link count (for a directory) and ctime move but not its mtime: a copy changes no
 * listing of the merged view (kernel overlayfs keeps it too), and the kernel's cached listing of
 * the parent stays valid. No observer hears of it: the journal records what the agent did, and a
 * copy-up is not that. One transaction (a savepoint in the caller's).
 *
 * `then`: an append that caused the copy-up (`echo >> f` of a base file), made in the same rows:
 * the content stored with the data after it, the times and set-id bits as the write leaves them,
 * and the write (and the chmod of dropped set-id bits) told to the observer as an append after
 * the copy would tell them. Reading the chunk back, rewriting it and updating the size were 4
 * more statements and a savepoint.
 */
import { FsError } from '../../errors.js';
import { S_IFDIR, S_IFMT, S_IFREG, type Attr, type Caller, type Timespec } from '../../types.js';
import { notify, type FsContext } from '../context.js';
import { checkName } from '../names.js';
import { SQL, rememberChunks } from '../rows.js';
import { setIdBitsToDrop } from '../set-id.js';
import { now } from '../time.js';
import { putChunks } from './create.js';

export interface CopySource {
  /** type (S_IFREG or S_IFDIR) and permission bits (setuid, setgid and sticky included) */
  mode: number;
  uid: number;
  gid: number;
  atime: Timespec;
  mtime: Timespec;
  /** a regular file's content */
  content?: Uint8Array;
  /** a regular file's: data appended after the content by `caller`, as FileSystem.append */
  then?: { data: Uint8Array; caller?: Caller };
}

export function copyIn(ctx: FsContext, parent: number, name: string, src: CopySource): Attr {
  checkName(name, 'copy-up');
  return ctx.store.transaction(() => make(ctx, parent, name, src));
}

function make(ctx: FsContext, parent: number, name: string, src: CopySource): Attr {
  const type = src.mode & S_IFMT;
  if (type !== S_IFREG && type !== S_IFDIR) throw new Error('copyIn copies regular files and directories');
  let content = type === S_IFREG && src.content ? Buffer.from(src.content.buffer, src.content.byteOffset, src.content.byteLength) : undefined;
  const appended = type === S_IFREG && src.then && src.then.data.byteLength > 0 ? src.then : undefined;
  const copied = content?.byteLength ?? 0;
  if (appended) content = Buffer.concat([content ?? Buffer.alloc(0), appended.data]);
  const size = content?.byteLength ?? 0;
  const t = now();
  // a write moves mtime and, by a writer without privilege, drops set-id bits (write.ts)
  const dropped = appended ? setIdBitsToDrop(src, appended.caller, false) : 0;
  const mode = src.mode & ~dropped;
  const mtime = appended ? t : src.mtime;
  const p = ctx.store.arrayStmt(SQL.addEntryQuietly).get(type === S_IFDIR ? 1 : 0, t.sec, t.nsec, parent) as [number] | undefined;
  if (!p) throw new FsError('ENOENT', 'copy-up', undefined, `no such inode ${parent}`);
  if ((p[0] & S_IFMT) !== S_IFDIR) throw new FsError('ENOTDIR', 'copy-up');
  const nlink = type === S_IFDIR ? 2 : 1;
  const { atime } = src;
  const ino = Number(
    ctx.store
      .stmt(SQL.insertInode)
      .run(mode, nlink, src.uid, src.gid, size, atime.sec, mtime.sec, t.sec, 0, atime.nsec, mtime.nsec, t.nsec).lastInsertRowid,
  );
  if (ctx.store.stmt(SQL.insertDentry).run(name, parent, ino).changes === 0) throw new FsError('EEXIST', 'copy-up', name);
  if (ctx.nextIno !== undefined && ino >= ctx.nextIno) ctx.nextIno = ino + 1; // create-alone.ts proposes past it
  if (type === S_IFREG) rememberChunks(ctx, ino, size, t, content ? putChunks(ctx, ino, content) : 0, mtime);
  if (appended && ctx.observer) {
    notify(ctx, { op: 'write', ino, offset: copied, length: appended.data.byteLength, size });
    // as write.ts's setattr of the dropped bits journals it
    if (dropped) notify(ctx, { op: 'chmod', ino, mode });
  }
  return {
    ino, mode, nlink, uid: src.uid, gid: src.gid, size, rdev: 0, blksize: 4096,
    blocks: content ? Math.ceil(size / 512) : 0, atime: { ...atime }, mtime: { ...mtime }, ctime: t,
  };
}
