/**
 * Directory listing. The cookie (offset) of an entry is its dentry id, so a listing resumed
 * after entries were added or removed neither repeats nor skips the entries that stayed.
 *
 * A page comes back from SQLite as one JSON array (json_group_array) rather than a row per
 * entry: the driver's per-row cost dominates listings, and this measured 2.2x faster. The array
 * follows the subquery's id order (SQLite aggregates its co-routine as it yields); asking the
 * aggregate to sort again cost a third of the query, so page() only checks the order.
 */
import type { DirEntry, DirEntryPlus } from '../../types.js';
import type { FsContext } from '../context.js';
import { requireDirRow, rowToAttr } from '../rows.js';
import { FsError } from '../../errors.js';
import { storedText } from '../../stored-text.js';

const PAGE = `FROM fs_dentry d JOIN fs_inode i ON i.ino = d.ino WHERE d.parent_ino = ? AND d.id > ? ORDER BY d.id LIMIT ?`;

// The page comes back as a BLOB: see stored-text.ts (a name that is not UTF-8 must not abort us).
const SQL_READDIR = `SELECT CAST(json_group_array(json_array(id, name, ino, mode)) AS BLOB) AS page
  FROM (SELECT d.id AS id, d.name AS name, d.ino AS ino, i.mode AS mode ${PAGE})`;

const SQL_READDIR_PLUS = `SELECT CAST(json_group_array(json_array(id, name, ino, mode, nlink, uid, gid, size, rdev,
    atime, atime_nsec, mtime, mtime_nsec, ctime, ctime_nsec)) AS BLOB) AS page
  FROM (SELECT d.id AS id, d.name AS name, i.ino AS ino, i.mode AS mode, i.nlink AS nlink, i.uid AS uid,
    i.gid AS gid, i.size AS size, i.rdev AS rdev, i.atime AS atime, i.atime_nsec AS atime_nsec,
    i.mtime AS mtime, i.mtime_nsec AS mtime_nsec, i.ctime AS ctime, i.ctime_nsec AS ctime_nsec ${PAGE})`;

type Entry = [id: number, name: string, ino: number, mode: number];
type EntryPlus = [...Entry, nlink: number, uid: number, gid: number, size: number, rdev: number,
  atime: number, atime_nsec: number, mtime: number, mtime_nsec: number, ctime: number, ctime_nsec: number];

function page<T extends [number, ...unknown[]]>(ctx: FsContext, sql: string, ino: number, offset: number, limit: number): T[] {
  const row = ctx.store.stmt(sql).get(ino, offset, limit) as { page: Uint8Array };
  const text = storedText(row.page);
  if (text === null) throw new FsError('EILSEQ', 'readdir', undefined, 'a name in this directory is not valid UTF-8 (written by another program or damaged)');
  const entries = JSON.parse(text) as T[];
  // a NUL no name can hold (the kernel's names end at one): refused as the addon's reader does
  for (const e of entries) {
    if ((e[1] as string).includes('\0')) throw new FsError('EILSEQ', 'readdir', undefined, 'a name in this directory holds a NUL byte (written by another program or damaged)');
  }
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]![0] < entries[i - 1]![0]) return entries.sort((a, b) => a[0] - b[0]);
  }
  return entries;
}

export function readdir(ctx: FsContext, ino: number, offset = 0, limit = -1): DirEntry[] {
  requireDirRow(ctx, ino, 'readdir');
  return page<Entry>(ctx, SQL_READDIR, ino, offset, limit).map(([id, name, eino, mode]) => ({ name, ino: eino, mode, offset: id }));
}

export function readdirPlus(ctx: FsContext, ino: number, offset = 0, limit = -1): DirEntryPlus[] {
  requireDirRow(ctx, ino, 'readdir');
  return page<EntryPlus>(ctx, SQL_READDIR_PLUS, ino, offset, limit).map((e) => {
    const [id, name, eino, mode, nlink, uid, gid, size, rdev, atime, atime_nsec, mtime, mtime_nsec, ctime, ctime_nsec] = e;
    const attr = rowToAttr(ctx, ctx.atime.apply({ ino: eino, mode, nlink, uid, gid, size, rdev, atime, atime_nsec, mtime, mtime_nsec, ctime, ctime_nsec }));
    return { name, ino: eino, mode, offset: id, attr };
  });
}
