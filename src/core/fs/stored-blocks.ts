/**
 * st_blocks of large files, kept in the database (agentfs_fs_blocks) beside the count in memory
 * (rows.ts storedBlocks), for the next process that stats them: the FUSE server of a new mount,
 * the CLI. Counting walks the file's entries in the chunks' index, about one page in 340 chunks
 * spread all through its data; read cold, each is a disk read of its own, and each leaves a small
 * page in the page cache, which keeps the kernel from reading that 2 MiB range as one huge folio
 * when the file's data is then read through a huge map (native/sqlite_maps.h): a first `cat` of a
 * 64 MiB file after a new mount spent 7-10 ms in its lookup's count and a third of its time
 * touching small pages one by one.
 *
 * A row holds the count as of the file's size, mtime and ctime; every change of a file's data
 * moves its ctime, so a row whose times differ from the inode's is simply not used (another
 * process or implementation wrote the file since): it is never wrong, only stale. Rows are
 * written at the commit of the write transaction that left the file so, from the count the
 * process holds in memory (kept without counting for a file written from its start, or counted in
 * that transaction), and go with the inode when it is purged.
 */
import type { FsContext, BlocksEntry } from './context.js';

/** Files at least this large have their count stored: smaller ones' index entries fill a page or two. */
export const STORED_BLOCKS_MIN_SIZE = 2 << 20;

export const BLOCKS_TABLE = `CREATE TABLE IF NOT EXISTS agentfs_fs_blocks (
    ino INTEGER PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    mtime_nsec INTEGER NOT NULL,
    ctime INTEGER NOT NULL,
    ctime_nsec INTEGER NOT NULL,
    blocks INTEGER NOT NULL
  )`;

/** The stored count of an inode if it was stored for this size, mtime and ctime (?1 ino, ?2 size, ?3-?6 the times). */
export const STORED_BLOCKS_SQL = `SELECT blocks FROM agentfs_fs_blocks
  WHERE ino = ?1 AND size = ?2 AND mtime = ?3 AND mtime_nsec = ?4 AND ctime = ?5 AND ctime_nsec = ?6`;

/**
 * ?1 ino, ?2-?6 size and times, ?7 blocks: stored only if the inode is still so, as the
 * transaction leaves it (a file counted, then removed or changed in the same transaction, is not)
 */
const STORE_SQL = `INSERT OR REPLACE INTO agentfs_fs_blocks (ino, size, mtime, mtime_nsec, ctime, ctime_nsec, blocks)
  SELECT ino, size, mtime, mtime_nsec, ctime, ctime_nsec, ?7 FROM fs_inode
  WHERE ino = ?1 AND size = ?2 AND mtime = ?3 AND mtime_nsec = ?4 AND ctime = ?5 AND ctime_nsec = ?6`;
const FORGET_BLOCKS_SQL = 'DELETE FROM agentfs_fs_blocks WHERE ino = ?';
/** every stored count (rows brought in by `sync pull`) */
export const FORGET_ALL_BLOCKS_SQL = 'DELETE FROM agentfs_fs_blocks';

/** Entry e (ino's count as of e's size and times) is to be stored when the open write transaction commits. */
export function noteBlocks(ctx: FsContext, ino: number, e: BlocksEntry): void {
  if (e.size >= STORED_BLOCKS_MIN_SIZE && ctx.blocksTable && ctx.store.inTransaction) ctx.blocksToStore.add(ino);
}

/**
 * Writes the counts noted in this transaction (Store.onBeforeCommit): each as the cache holds it
 * now, for the size and times it holds it for. Advisory: a failure leaves them unstored.
 */
export function storeNotedBlocks(ctx: FsContext): void {
  if (ctx.blocksToStore.size === 0) return;
  const inos = [...ctx.blocksToStore];
  ctx.blocksToStore.clear();
  try {
    const st = ctx.store.stmt(STORE_SQL);
    for (const ino of inos) {
      const e = ctx.blocks.get(ino);
      if (e && e.size >= STORED_BLOCKS_MIN_SIZE) st.run(ino, e.size, e.mtime, e.mtimeNsec, e.ctime, e.ctimeNsec, e.blocks);
    }
  } catch (e) {
    if (missingTable(e)) ctx.blocksTable = false; // else: the next stat counts
  }
}

/**
 * Drops ino's stored count as its inode is purged. The table is advisory: gone (another program
 * dropped it), nothing is stored or read any more, and the purge goes on.
 */
export function forgetBlocks(ctx: FsContext, ino: number): void {
  ctx.blocksToStore.delete(ino);
  if (!ctx.blocksTable) return;
  try {
    ctx.store.stmt(FORGET_BLOCKS_SQL).run(ino);
  } catch (e) {
    if (!missingTable(e)) throw e;
    ctx.blocksTable = false;
  }
}

/** Whether e says that agentfs_fs_blocks is not there. */
export function missingTable(e: unknown): boolean {
  return e instanceof Error && e.message.includes('no such table') && e.message.includes('agentfs_fs_blocks');
}

/** The stored count for these size and times, if any (undefined: count). */
export function readStoredBlocks(ctx: FsContext, ino: number, size: number, mtime: number, mtimeNsec: number, ctime: number, ctimeNsec: number): number | undefined {
  if (!ctx.blocksTable) return undefined;
  try {
    const r = ctx.store.arrayStmt(STORED_BLOCKS_SQL).get(ino, size, mtime, mtimeNsec, ctime, ctimeNsec) as [number] | undefined;
    return r?.[0];
  } catch (e) {
    if (missingTable(e)) ctx.blocksTable = false;
    return undefined;
  }
}
