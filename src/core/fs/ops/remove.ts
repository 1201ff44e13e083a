/** unlink and rmdir: drop a dentry; the inode goes with its last link (see lifecycle.ts). */
import { FsError } from '../../errors.js';
import { notify, type FsContext } from '../context.js';
import { lastLinkGone, purgeInode } from '../lifecycle.js';
import { checkName, checkNotDot } from '../names.js';
import { SQL, getDentry, isDirMode, missingEntry, touchDir, type DentryRow } from '../rows.js';
import { now } from '../time.js';
import type { Timespec } from '../../types.js';

export function unlink(ctx: FsContext, parent: number, name: string): void {
  checkNotDot(name, 'unlink');
  checkName(name, 'unlink');
  ctx.store.transaction(() => {
    const d = getDentry(ctx, parent, name);
    if (!d) throw missingEntry(ctx, parent, name, 'unlink');
    if (isDirMode(d.mode)) throw new FsError('EISDIR', 'unlink', name);
    const t = now();
    dropNonDir(ctx, d, t);
    touchDir(ctx, parent, 0, t);
    if (ctx.observer) notify(ctx, { op: 'unlink', ino: d.ino, parent, name });
  });
}

export function rmdir(ctx: FsContext, parent: number, name: string): void {
  checkNotDot(name, 'rmdir');
  checkName(name, 'rmdir');
  ctx.store.transaction(() => {
    const d = getDentry(ctx, parent, name);
    if (!d) throw missingEntry(ctx, parent, name, 'rmdir');
    if (!isDirMode(d.mode)) throw new FsError('ENOTDIR', 'rmdir', name);
    if (ctx.store.stmt(SQL.anyChild).get(d.ino)) throw new FsError('ENOTEMPTY', 'rmdir', name);
    dropDir(ctx, d);
    touchDir(ctx, parent, -1, now());
    if (ctx.observer) notify(ctx, { op: 'rmdir', ino: d.ino, parent, name });
  });
}

/** Removes a dentry of a non-directory and its link; the caller updates the parent. */
export function dropNonDir(ctx: FsContext, d: DentryRow, t: Timespec): void {
  ctx.store.stmt(SQL.deleteDentry).run(d.dentry_id);
  // a purged inode has no row left to update
  if (d.nlink <= 1 && lastLinkGone(ctx, d.ino, d.mode)) return;
  if (d.nlink >= 1) ctx.store.stmt(SQL.addLink).run(-1, t.sec, t.nsec, d.ino);
}

/** Removes an empty directory's dentry and inode; the caller updates the parent (nlink - 1). */
export function dropDir(ctx: FsContext, d: DentryRow): void {
  ctx.store.stmt(SQL.deleteDentry).run(d.dentry_id);
  purgeInode(ctx, d.ino, d.mode);
}
