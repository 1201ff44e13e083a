/**
 * unlink and rmdir: drop a dentry; the inode goes with its last link (see lifecycle.ts).
 *
 * An unlink inside a transaction is one statement when it can be (unlink-alone.ts). Otherwise
 * each starts with the delete of the dentry, made conditional on what the call may remove (not a
 * directory; an empty directory), and returning the inode it named: the one statement is the
 * look-up, the checks and the delete. When it deletes nothing, nothing was written and the
 * error is worked out by reading. Then the inode (purged with its last link), the parent's
 * times, read back for the FUSE server, and the journal row.
 */
import { FsError } from '../../errors.js';
import type { Removal } from '../../types.js';
import { notify, type FsContext } from '../context.js';
import { lastLinkGone, purgeInode } from '../lifecycle.js';
import { checkName, checkNotDot } from '../names.js';
import { SQL, getDentry, isDirMode, missingEntry, touchDirAttr, type DentryRow } from '../rows.js';
import { now } from '../time.js';
import { unlinkAlone } from './unlink-alone.js';
import { unlinkLater } from './unlink-later.js';
import { S_IFDIR, S_IFMT, type Timespec } from '../../types.js';

/** A column of the inode of the dentry in `d` (RETURNING may only name the table itself). */
const inodeOf = (d: string, col: string): string => `(SELECT i.${col} FROM fs_inode i WHERE i.ino = ${d}.ino)`;

/** The dentry of a non-directory, deleted; its inode, mode and link count as they were. */
const DELETE_NON_DIR = `DELETE FROM fs_dentry AS d WHERE d.parent_ino = ? AND d.name = ? AND ${inodeOf('d', 'mode')} & ${S_IFMT} <> ${S_IFDIR}
  RETURNING ino, ${inodeOf('fs_dentry', 'mode')}, ${inodeOf('fs_dentry', 'nlink')}`;
/** The dentry of an empty directory, deleted; its inode. */
const DELETE_EMPTY_DIR = `DELETE FROM fs_dentry AS d WHERE d.parent_ino = ? AND d.name = ? AND ${inodeOf('d', 'mode')} & ${S_IFMT} = ${S_IFDIR}
  AND NOT EXISTS (SELECT 1 FROM fs_dentry c WHERE c.parent_ino = d.ino) RETURNING ino`;

export function unlink(ctx: FsContext, parent: number, name: string): Removal {
  checkNotDot(name, 'unlink');
  checkName(name, 'unlink');
  const later = unlinkLater(ctx, parent, name);
  if (later) return later;
  const alone = unlinkAlone(ctx, parent, name);
  if (alone) return alone;
  return ctx.store.transaction(() => {
    const r = ctx.store.arrayStmt(DELETE_NON_DIR).get(parent, name) as [number, number, number] | undefined;
    if (!r) throw unlinkError(ctx, parent, name);
    const [ino, mode, nlink] = r;
    const t = now();
    const gone = dropLink(ctx, ino, mode, nlink, t);
    const dir = touchDirAttr(ctx, parent, 0, t);
    if (ctx.observer) notify(ctx, { op: 'unlink', ino, parent, name });
    return { ino, parent: dir, links: Math.max(0, nlink - 1), gone };
  });
}

export function rmdir(ctx: FsContext, parent: number, name: string): Removal {
  checkNotDot(name, 'rmdir');
  checkName(name, 'rmdir');
  return ctx.store.transaction(() => {
    const r = ctx.store.arrayStmt(DELETE_EMPTY_DIR).get(parent, name) as [number] | undefined;
    if (!r) throw rmdirError(ctx, parent, name);
    const ino = r[0];
    purgeInode(ctx, ino, S_IFDIR);
    const dir = touchDirAttr(ctx, parent, -1, now());
    if (ctx.observer) notify(ctx, { op: 'rmdir', ino, parent, name });
    return { ino, parent: dir };
  });
}

/** Why DELETE_NON_DIR deleted nothing. */
function unlinkError(ctx: FsContext, parent: number, name: string): FsError {
  const d = getDentry(ctx, parent, name);
  if (!d) return missingEntry(ctx, parent, name, 'unlink');
  return new FsError('EISDIR', 'unlink', name);
}

/** Why DELETE_EMPTY_DIR deleted nothing. */
function rmdirError(ctx: FsContext, parent: number, name: string): FsError {
  const d = getDentry(ctx, parent, name);
  if (!d) return missingEntry(ctx, parent, name, 'rmdir');
  if (!isDirMode(d.mode)) return new FsError('ENOTDIR', 'rmdir', name);
  return new FsError('ENOTEMPTY', 'rmdir', name);
}

/** Removes a dentry of a non-directory and its link; the caller updates the parent. */
export function dropNonDir(ctx: FsContext, d: DentryRow, t: Timespec): void {
  ctx.store.stmt(SQL.deleteDentry).run(d.dentry_id);
  dropLink(ctx, d.ino, d.mode, d.nlink, t);
}

/** One name of a non-directory inode is gone: it goes with its last link (true), else nlink - 1. */
function dropLink(ctx: FsContext, ino: number, mode: number, nlink: number, t: Timespec): boolean {
  // a purged inode has no row left to update
  if (nlink <= 1 && lastLinkGone(ctx, ino, mode)) return true;
  if (nlink >= 1) ctx.store.stmt(SQL.addLink).run(-1, t.sec, t.nsec, ino);
  return false;
}

/** Removes an empty directory's dentry and inode; the caller updates the parent (nlink - 1). */
export function dropDir(ctx: FsContext, d: DentryRow): void {
  ctx.store.stmt(SQL.deleteDentry).run(d.dentry_id);
  purgeInode(ctx, d.ino, d.mode);
}
