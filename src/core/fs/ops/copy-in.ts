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
 */
import { FsError } from '../../errors.js';
import { S_IFDIR, S_IFMT, S_IFREG, type Attr, type Timespec } from '../../types.js';
import type { FsContext } from '../context.js';
import { checkName } from '../names.js';
import { SQL, rememberChunks } from '../rows.js';
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
}

export function copyIn(ctx: FsContext, parent: number, name: string, src: CopySource): Attr {
  checkName(name, 'copy-up');
  return ctx.store.transaction(() => make(ctx, parent, name, src));
}

function make(ctx: FsContext, parent: number, name: string, src: CopySource): Attr {
  const type = src.mode & S_IFMT;
  if (type !== S_IFREG && type !== S_IFDIR) throw new Error('copyIn copies regular files and directories');
  const content = type === S_IFREG && src.content ? Buffer.from(src.content.buffer, src.content.byteOffset, src.content.byteLength) : undefined;
  const size = content?.byteLength ?? 0;
  const t = now();
  const p = ctx.store.arrayStmt(SQL.addEntryQuietly).get(type === S_IFDIR ? 1 : 0, t.sec, t.nsec, parent) as [number] | undefined;
  if (!p) throw new FsError('ENOENT', 'copy-up', undefined, `no such inode ${parent}`);
  if ((p[0] & S_IFMT) !== S_IFDIR) throw new FsError('ENOTDIR', 'copy-up');
  const nlink = type === S_IFDIR ? 2 : 1;
  const { atime, mtime } = src;
  const ino = Number(
    ctx.store
      .stmt(SQL.insertInode)
      .run(src.mode, nlink, src.uid, src.gid, size, atime.sec, mtime.sec, t.sec, 0, atime.nsec, mtime.nsec, t.nsec).lastInsertRowid,
  );
  if (ctx.store.stmt(SQL.insertDentry).run(name, parent, ino).changes === 0) throw new FsError('EEXIST', 'copy-up', name);
  if (ctx.nextIno !== undefined && ino >= ctx.nextIno) ctx.nextIno = ino + 1; // create-alone.ts proposes past it
  if (type === S_IFREG) rememberChunks(ctx, ino, size, t, content ? putChunks(ctx, ino, content) : 0, mtime);
  return {
    ino, mode: src.mode, nlink, uid: src.uid, gid: src.gid, size, rdev: 0, blksize: 4096,
    blocks: content ? Math.ceil(size / 512) : 0, atime: { ...atime }, mtime: { ...mtime }, ctime: t,
  };
}
