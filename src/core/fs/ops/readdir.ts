/**
 * Directory listing. The cookie (offset) of an entry is its dentry id, so a listing resumed
 * after entries were added or removed neither repeats nor skips the entries that stayed.
 */
import type { DirEntry, DirEntryPlus } from '../../types.js';
import type { FsContext } from '../context.js';
import { requireDirRow, rowToAttr, type InodeRow } from '../rows.js';

const COLS = 'i.ino, i.mode, i.nlink, i.uid, i.gid, i.size, i.rdev, i.atime, i.atime_nsec, i.mtime, i.mtime_nsec, i.ctime, i.ctime_nsec';

export function readdir(ctx: FsContext, ino: number, offset = 0, limit = -1): DirEntry[] {
  requireDirRow(ctx, ino, 'readdir');
  const rows = ctx.store
    .stmt(
      `SELECT d.id AS id, d.name AS name, d.ino AS ino, i.mode AS mode FROM fs_dentry d JOIN fs_inode i ON i.ino = d.ino
       WHERE d.parent_ino = ? AND d.id > ? ORDER BY d.id LIMIT ?`,
    )
    .all(ino, offset, limit) as { id: number; name: string; ino: number; mode: number }[];
  return rows.map((r) => ({ name: r.name, ino: r.ino, mode: r.mode, offset: r.id }));
}

export function readdirPlus(ctx: FsContext, ino: number, offset = 0, limit = -1): DirEntryPlus[] {
  requireDirRow(ctx, ino, 'readdir');
  const rows = ctx.store
    .stmt(
      `SELECT d.id AS id, d.name AS name, ${COLS}
       FROM fs_dentry d JOIN fs_inode i ON i.ino = d.ino
       WHERE d.parent_ino = ? AND d.id > ? ORDER BY d.id LIMIT ?`,
    )
    .all(ino, offset, limit) as (InodeRow & { id: number; name: string })[];
  return rows.map((r) => ({ name: r.name, ino: r.ino, mode: r.mode, offset: r.id, attr: rowToAttr(r) }));
}
