/**
 * What another reader of the same database file needs to answer read-only requests exactly as
 * this filesystem would: the FUSE mount's native read path (native/reader.cc) serves lookup,
 * getattr, readdir, read, readlink and statfs from a connection of its own, on its own thread,
 * with the statements below. The core keeps the SQL; the reader only runs it, by column position.
 *
 * Two things live only in this process's memory, and are handed over here:
 * - uncommitted writes: while a write transaction is open here (onWriting(true)), the other
 *   reader cannot see them and must leave every request to this filesystem;
 * - access times moved by reads and not stored yet (LazyAtime): the other reader is told of
 *   them (pending/stored) and tells us of those its reads move (noteAtime).
 */
import { NAME_MAX, type Timespec } from '../types.js';
import type { FsContext } from './context.js';
import type { AtimeListener } from './lazy-atime.js';
import { INODE_COLUMNS_OF_I, SQL } from './rows.js';
import { FREE_INODES, INODE_COUNT_SQL, SPACE_SQL, STATFS_BSIZE } from './ops/statfs.js';
import { STORED_BLOCKS_MIN_SIZE, STORED_BLOCKS_SQL } from './stored-blocks.js';

export interface SharedReadSql {
  /** (name, parent) -> parent's mode, then the entry's inode columns (NULL when no such name); no row: no parent */
  lookup: string;
  /** (ino) -> inode columns */
  inode: string;
  /** (dir, after dentry id, limit) -> dentry id, name (as a blob), inode columns; by id */
  page: string;
  /**
   * (dir, after dentry id, limit) -> dentry id, name (as a blob), ino, mode; by id. What a plain
   * READDIR needs: the thirteen inode columns more of `page` cost SQLite twice the time per entry.
   */
  names: string;
  /**
   * (dir, after dentry id, limit) -> dentry id, name (as a blob), ino; by id. The dentries alone:
   * for entries whose types the addon knows (inode numbers are never used twice: AUTOINCREMENT).
   */
  entries: string;
  /** (ino) -> number of chunks stored, highest chunk index */
  chunks: string;
  /** (ino, first index, last index) -> chunk_index, data; by index */
  read: string;
  /** (ino) -> symlink target (as a blob) */
  readlink: string;
  /** (dir) -> the directory holding it */
  parent: string;
  /** () -> page size, pages, free pages, data version (then this connection's changes, unread) */
  space: string;
  /** () -> inodes in use */
  inodes: string;
  /** (ino, size, mtime, mtime_nsec, ctime, ctime_nsec) -> st_blocks stored for the file as of those (stored-blocks.ts) */
  storedBlocks: string;
  /** files at least this large may have a stored st_blocks; smaller ones are counted */
  storedBlocksMinSize: number;
}

/** statfs's fixed numbers (ops/statfs.ts), for a reader that answers it. */
export interface SharedStatfs {
  blockSize: number;
  freeInodes: number;
  nameMax: number;
}

export const SHARED_READ_SQL: SharedReadSql = {
  lookup: SQL.lookupAttr,
  inode: SQL.inode,
  page: `SELECT d.id, CAST(d.name AS BLOB), ${INODE_COLUMNS_OF_I} FROM fs_dentry d JOIN fs_inode i ON i.ino = d.ino
    WHERE d.parent_ino = ? AND d.id > ? ORDER BY d.id LIMIT ?`,
  names: `SELECT d.id, CAST(d.name AS BLOB), i.ino, i.mode FROM fs_dentry d JOIN fs_inode i ON i.ino = d.ino
    WHERE d.parent_ino = ? AND d.id > ? ORDER BY d.id LIMIT ?`,
  entries: 'SELECT id, CAST(name AS BLOB), ino FROM fs_dentry WHERE parent_ino = ? AND id > ? ORDER BY id LIMIT ?',
  chunks: 'SELECT COUNT(*), MAX(chunk_index) FROM fs_data WHERE ino = ?',
  read: 'SELECT chunk_index, data FROM fs_data WHERE ino = ? AND chunk_index >= ? AND chunk_index <= ? ORDER BY chunk_index',
  readlink: 'SELECT CAST(target AS BLOB) FROM fs_symlink WHERE ino = ?',
  parent: 'SELECT parent_ino FROM fs_dentry WHERE ino = ? ORDER BY id LIMIT 1',
  space: SPACE_SQL,
  inodes: INODE_COUNT_SQL,
  storedBlocks: STORED_BLOCKS_SQL,
  storedBlocksMinSize: STORED_BLOCKS_MIN_SIZE,
};

export const SHARED_STATFS: SharedStatfs = { blockSize: STATFS_BSIZE, freeInodes: FREE_INODES, nameMax: NAME_MAX };

export interface SharedReads {
  /** the database file */
  readonly path: string;
  readonly chunkSize: number;
  readonly sql: SharedReadSql;
  readonly statfs: SharedStatfs;
  /** reads move access times (false: the database is open read-only here, as noatime) */
  readonly atimes: boolean;
  /** fn(true) when a write transaction opens here, fn(false) when it ended */
  onWriting(fn: (writing: boolean) => void): void;
  /** tells the other reader of access times held in memory here, and of their storing */
  watchAtimes(listener: AtimeListener): void;
  /** a read served by the other reader moved ino's access time to t: stored with the next write */
  noteAtime(ino: number, t: Timespec): void;
}

/** The shared reads of an InodeFs on ctx (undefined when its database is not a file). */
export function sharedReads(ctx: FsContext): SharedReads | undefined {
  const store = ctx.store;
  if (store.path === ':memory:' || store.path === '' || store.onDisk !== undefined) return undefined;
  return {
    path: store.path,
    chunkSize: ctx.chunkSize,
    sql: SHARED_READ_SQL,
    statfs: SHARED_STATFS,
    atimes: !store.readOnly,
    onWriting(fn) {
      // before LazyAtime writes out pending times (and tells the reader they are stored): in
      // between, the reader would answer from the database, without them, and the kernel cache it
      store.onBeginWrite(() => fn(true), true);
      store.onEndWrite(() => fn(false));
    },
    watchAtimes(listener) {
      ctx.atime.listener = listener;
    },
    noteAtime(ino, t) {
      ctx.atime.note(ino, t, false); // the other reader holds this time already
    },
  };
}
