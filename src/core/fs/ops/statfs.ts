import type { Store } from '../../../store/index.js';
import { NAME_MAX, type StatFs } from '../../types.js';
import type { FsContext } from '../context.js';

/** The block size statfs reports. */
export const STATFS_BSIZE = 4096;
/** Inodes cost a row, not a slot: report plenty free. */
export const FREE_INODES = 1 << 30;

function pragma(s: Store, name: string): number {
  return (s.stmt(`PRAGMA ${name}`).get() as Record<string, number>)[name]!;
}

/**
 * The database's page size, pages and free pages, the data version (other connections' commits)
 * and this connection's count of changed rows: the last two say whether the rows changed since.
 * The mount's native reader (shared-reads.ts) runs it too, and reads the first four.
 */
export const SPACE_SQL = `SELECT p.page_size, c.page_count, f.freelist_count, d.data_version, total_changes()
  FROM pragma_page_size() p, pragma_page_count() c, pragma_freelist_count() f, pragma_data_version() d`;

/** Inodes in use. */
export const INODE_COUNT_SQL = 'SELECT COUNT(*) FROM fs_inode';

/**
 * The inode count, kept while no row changed. Counting walks every inode row (a mount's first
 * statfs after `tar x` read them from the WAL: ~1 ms), and `find` and `df` ask again and again
 * of a tree that did not change meanwhile.
 */
const counts = new WeakMap<FsContext, { key: string; inodes: number }>();

function inodeCount(ctx: FsContext, key: string): number {
  const c = counts.get(ctx);
  if (c?.key === key) return c.inodes;
  const inodes = (ctx.store.arrayStmt(INODE_COUNT_SQL).get() as [number])[0];
  counts.set(ctx, { key, inodes });
  return inodes;
}

/**
 * Bytes the database can still grow by: free space under it plus its own free pages (cheap).
 * enough: a host with this much free is answer enough (the pages are not counted: reading them
 * takes a read transaction, ~100 us before the first write after reads, every poll of the FUSE
 * server's group commit).
 */
export function freeBytes(s: Store, enough = Infinity): number {
  const hostFree = s.hostFreeBytes();
  if (hostFree >= enough) return hostFree;
  return hostFree + pragma(s, 'freelist_count') * pragma(s, 'page_size');
}

/**
 * Capacity as the host sees it: space used by the database plus what the host filesystem
 * under it still has free (freeBytes); inodes in use plus a large free count. The mount's
 * native reader answers the same (native/reader.cc Reader::statfs): keep the two alike.
 */
export function statfs(ctx: FsContext): StatFs {
  const s = ctx.store;
  const [pageSize, pages, freePages, version, changes] = s.arrayStmt(SPACE_SQL).get() as [number, number, number, number, number];
  const inodes = inodeCount(ctx, `${changes}:${version}`);
  const used = (pages - freePages) * pageSize;
  const free = s.hostFreeBytes() + freePages * pageSize;
  const blocks = Math.ceil((used + free) / STATFS_BSIZE);
  const bfree = Math.floor(free / STATFS_BSIZE);
  return {
    bsize: STATFS_BSIZE, frsize: STATFS_BSIZE, blocks, bfree, bavail: bfree, files: inodes + FREE_INODES, ffree: FREE_INODES, namemax: NAME_MAX,
  };
}
