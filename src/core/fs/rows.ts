/**
 * Row-level helpers shared by the operations: the SQL for reading inodes and dentries, turning
 * rows into Attr, and updating times. Every statement is prepared once per store (store.stmt).
 */
import { FsError } from '../errors.js';
import { S_IFDIR, S_IFMT, S_IFREG, type Attr, type Timespec } from '../types.js';
import type { BlocksEntry, FsContext } from './context.js';
import { noteBlocks, readStoredBlocks, STORED_BLOCKS_MIN_SIZE } from './stored-blocks.js';

/** An fs_inode row: Attr's numbers as stored, each time as seconds and nanoseconds columns. */
export interface InodeRow extends Pick<Attr, 'ino' | 'mode' | 'nlink' | 'uid' | 'gid' | 'size' | 'rdev'> {
  atime: number;
  atime_nsec: number;
  mtime: number;
  mtime_nsec: number;
  ctime: number;
  ctime_nsec: number;
}

const COLS = 'ino, mode, nlink, uid, gid, size, rdev, atime, atime_nsec, mtime, mtime_nsec, ctime, ctime_nsec';
const ICOLS = COLS.split(', ').map((c) => `i.${c}`).join(', ');
/** The inode columns (as InodeRow orders them) of the inode aliased `i`, for statements of other readers. */
export const INODE_COLUMNS_OF_I = ICOLS;

export const SQL = {
  inode: `SELECT ${COLS} FROM fs_inode WHERE ino = ?`,
  /** the inode and its chunks in [first, last] (chunk columns null when none), in one statement */
  inodeChunks: `SELECT ${ICOLS}, d.chunk_index, d.data FROM fs_inode i
    LEFT JOIN fs_data d ON d.ino = i.ino AND d.chunk_index >= ? AND d.chunk_index <= ?
    WHERE i.ino = ?`,
  /** the entry's inode (null columns when missing) and the parent's mode, in one query */
  lookupAttr: `SELECT p.mode, ${ICOLS} FROM fs_inode p
    LEFT JOIN fs_dentry d ON d.parent_ino = p.ino AND d.name = ?
    LEFT JOIN fs_inode i ON i.ino = d.ino
    WHERE p.ino = ?`,
  dentry: `SELECT d.id AS dentry_id, ${ICOLS} FROM fs_dentry d JOIN fs_inode i ON i.ino = d.ino WHERE d.parent_ino = ? AND d.name = ?`,
  parentOf: 'SELECT parent_ino, name FROM fs_dentry WHERE ino = ? ORDER BY id LIMIT 1',
  anyChild: 'SELECT 1 AS x FROM fs_dentry WHERE parent_ino = ? LIMIT 1',
  insertInode: `INSERT INTO fs_inode (mode, nlink, uid, gid, size, atime, mtime, ctime, rdev, atime_nsec, mtime_nsec, ctime_nsec)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  insertDentry: 'INSERT OR IGNORE INTO fs_dentry (name, parent_ino, ino) VALUES (?, ?, ?)',
  deleteDentry: 'DELETE FROM fs_dentry WHERE id = ?',
  /** a directory's own link count, its mtime and ctime after an entry was added or removed */
  touchDir: `UPDATE fs_inode SET nlink = MAX(nlink + ?, 2), mtime = ?, mtime_nsec = ?, ctime = ?, ctime_nsec = ? WHERE ino = ?`,
  /** touchDir returning the directory's mode and group: a create's check of its parent and update in one */
  touchDirReturning: `UPDATE fs_inode SET nlink = MAX(nlink + ?, 2), mtime = ?, mtime_nsec = ?, ctime = ?, ctime_nsec = ? WHERE ino = ?
    RETURNING mode, gid`,
  /** touchDir returning the directory's row, as the FUSE server hands it to the kernel after an unlink */
  touchDirRow: `UPDATE fs_inode SET nlink = MAX(nlink + ?, 2), mtime = ?, mtime_nsec = ?, ctime = ?, ctime_nsec = ? WHERE ino = ?
    RETURNING ${COLS}`,
  addLink: 'UPDATE fs_inode SET nlink = nlink + ?, ctime = ?, ctime_nsec = ? WHERE ino = ?',
  touchCtime: 'UPDATE fs_inode SET ctime = ?, ctime_nsec = ? WHERE ino = ?',
  /** an entry was added that changes no listing (a copy): link count and ctime only, returning the mode */
  addEntryQuietly: 'UPDATE fs_inode SET nlink = MAX(nlink + ?, 2), ctime = ?, ctime_nsec = ? WHERE ino = ? RETURNING mode',
} as const;

/** chunks stored for an inode, and the highest index among them (a covering-index scan) */
const SQL_CHUNKS = 'SELECT COUNT(*), MAX(chunk_index) FROM fs_data WHERE ino = ?';
const MAX_CACHED_BLOCKS = 100_000;

/**
 * st_blocks of a regular file: the chunks actually stored (holes, fallocated ranges and punched
 * holes excluded), so `du` tells the truth about sparse files. Counting is an index scan of
 * ~60 ns per chunk (4 ms for 256 MiB), so the result is kept per inode until its size, mtime or
 * ctime changes (every data change moves ctime), which keeps repeated stats at their old cost;
 * a large file's is also kept in the database for the next process (stored-blocks.ts).
 */
export function storedBlocks(ctx: FsContext, r: InodeRow): number {
  if ((r.mode & S_IFMT) !== S_IFREG || r.size === 0) return 0;
  const c = cachedFor(ctx, r);
  if (c) return c.blocks;
  if (r.size >= STORED_BLOCKS_MIN_SIZE) {
    const stored = readStoredBlocks(ctx, r.ino, r.size, r.mtime, r.mtime_nsec, r.ctime, r.ctime_nsec);
    if (stored !== undefined) {
      remember(ctx, r.ino, { size: r.size, mtime: r.mtime, mtimeNsec: r.mtime_nsec, ctime: r.ctime, ctimeNsec: r.ctime_nsec, blocks: stored }, false);
      return stored;
    }
  }
  const [n, max] = ctx.store.arrayStmt(SQL_CHUNKS).get(r.ino) as [number, number | null];
  const blocks = blocksOf(n, max, r.size, ctx.chunkSize);
  // chunks 0..n-1 with none missing: a write can then keep the count without counting again
  remember(ctx, r.ino, { size: r.size, mtime: r.mtime, mtimeNsec: r.mtime_nsec, ctime: r.ctime, ctimeNsec: r.ctime_nsec, blocks, chunks: n === 0 || max === n - 1 ? n : undefined });
  return blocks;
}

/** st_blocks of r's inode when known without counting (storedBlocks' cache), else undefined. */
export function knownBlocks(ctx: FsContext, r: InodeRow): number | undefined {
  if ((r.mode & S_IFMT) !== S_IFREG || r.size === 0) return 0;
  return cachedFor(ctx, r)?.blocks;
}

/**
 * Records st_blocks of r's inode as valid while its size, mtime and ctime are r's (a setattr that
 * left the data alone: owner, mode, times); what was known of its chunks stays known.
 */
export function rememberBlocks(ctx: FsContext, r: InodeRow, blocks: number): void {
  if ((r.mode & S_IFMT) !== S_IFREG || r.size === 0) return;
  const before = ctx.blocks.get(r.ino);
  remember(ctx, r.ino, {
    size: r.size, mtime: r.mtime, mtimeNsec: r.mtime_nsec, ctime: r.ctime, ctimeNsec: r.ctime_nsec, blocks,
    chunks: before && before.size === r.size ? before.chunks : undefined,
  });
}

/** st_blocks of n stored chunks, the highest max, for a file of size bytes. */
function blocksOf(n: number, max: number | null, size: number, cs: number): number {
  if (size === 0) return 0;
  const lastIdx = Math.floor((size - 1) / cs);
  const hasLast = max !== null && max >= lastIdx;
  const bytes = (n - (hasLast ? 1 : 0)) * cs + (hasLast ? size - lastIdx * cs : 0);
  return Math.ceil(bytes / 512);
}

/** The cache entry of r's inode, if it was made for r's size, mtime and ctime. */
function cachedFor(ctx: FsContext, r: InodeRow): BlocksEntry | undefined {
  const c = ctx.blocks.get(r.ino);
  return c && c.size === r.size && c.ctime === r.ctime && c.ctimeNsec === r.ctime_nsec && c.mtime === r.mtime && c.mtimeNsec === r.mtime_nsec
    ? c
    : undefined;
}

/** Caches e as ino's count; a large file's is stored at the commit too unless it came from there (stored-blocks.ts). */
function remember(ctx: FsContext, ino: number, e: BlocksEntry, store = true): void {
  if (ctx.blocks.size >= MAX_CACHED_BLOCKS) ctx.blocks.clear();
  ctx.blocks.set(ino, e);
  if (store) noteBlocks(ctx, ino, e);
}

/**
 * n when the stored chunks of r's inode are known to be exactly indexes 0..n-1 (a new file, one
 * just truncated to 0, one counted so), as of r's size, mtime and ctime; else undefined.
 */
export function knownChunks(ctx: FsContext, r: InodeRow): number | undefined {
  return cachedFor(ctx, r)?.chunks;
}

/**
 * Records that ino's stored chunks are now exactly 0..chunks-1, as of the size and time (mtime
 * and ctime) its row was just given (ctime t, mtime t unless given): the next stat then needs no
 * count of them.
 */
export function rememberChunks(ctx: FsContext, ino: number, size: number, t: Timespec, chunks: number, mtime: Timespec = t): void {
  const blocks = blocksOf(chunks, chunks - 1, size, ctx.chunkSize);
  remember(ctx, ino, { size, mtime: mtime.sec, mtimeNsec: mtime.nsec, ctime: t.sec, ctimeNsec: t.nsec, blocks, chunks });
}

export function rowToAttr(ctx: FsContext, r: InodeRow): Attr {
  return {
    ino: r.ino,
    mode: r.mode,
    nlink: r.nlink,
    uid: r.uid,
    gid: r.gid,
    size: r.size,
    rdev: r.rdev,
    blksize: 4096,
    blocks: storedBlocks(ctx, r),
    atime: { sec: r.atime, nsec: r.atime_nsec },
    mtime: { sec: r.mtime, nsec: r.mtime_nsec },
    ctime: { sec: r.ctime, nsec: r.ctime_nsec },
  };
}

/** The inode row in columns at..at+12 of an array row (COLS order); the hot queries fetch arrays. */
export function inodeAt(a: readonly unknown[], at: number): InodeRow {
  return {
    ino: a[at] as number,
    mode: a[at + 1] as number,
    nlink: a[at + 2] as number,
    uid: a[at + 3] as number,
    gid: a[at + 4] as number,
    size: a[at + 5] as number,
    rdev: a[at + 6] as number,
    atime: a[at + 7] as number,
    atime_nsec: a[at + 8] as number,
    mtime: a[at + 9] as number,
    mtime_nsec: a[at + 10] as number,
    ctime: a[at + 11] as number,
    ctime_nsec: a[at + 12] as number,
  };
}

/** ino's row as noted by noteWritten, if still the database's (undefined: not known without a read). */
export function writtenRow(ctx: FsContext, ino: number, stored = false): InodeRow | undefined {
  if (ctx.written.size === 0) return undefined;
  const w = ctx.written.get(ino);
  if (w === undefined || w.at !== ctx.store.changes) return undefined;
  // stored: as the row holds it (no pending access time applied); the caller must not change it
  return stored ? w.row : ctx.atime.apply({ ...w.row });
}

export function getRow(ctx: FsContext, ino: number): InodeRow | undefined {
  const known = writtenRow(ctx, ino);
  if (known) return known;
  const a = ctx.store.arrayStmt(SQL.inode).get(ino) as unknown[] | undefined;
  return a && ctx.atime.apply(inodeAt(a, 0));
}

/**
 * ino's row and its chunks first..last (unordered), read by one statement and so from one
 * snapshot: read separately, another process could rewrite the file in between, and the old
 * size with the new chunks read as zeros that were never written. Undefined: no such inode.
 */
export function getRowAndChunks(
  ctx: FsContext,
  ino: number,
  first: number,
  last: number,
): { row: InodeRow; chunks: Array<[number, ArrayBuffer | Uint8Array]> } | undefined {
  const rows = ctx.store.arrayStmt(SQL.inodeChunks).all(first, last, ino) as unknown[][];
  if (rows.length === 0) return undefined;
  const chunks: Array<[number, ArrayBuffer | Uint8Array]> = [];
  for (const r of rows) if (r[13] !== null) chunks.push([r[13] as number, r[14] as ArrayBuffer | Uint8Array]);
  return { row: ctx.atime.apply(inodeAt(rows[0]!, 0)), chunks };
}

/**
 * `row` is ino's row as the statement that just ran wrote it, every column: getRow returns it,
 * unread, until the next statement that may write (Store.changes moves) or the transaction's end.
 * Only inside a write transaction: outside one another process may write at any moment. Nor in
 * a database with another program's trigger (rowsPredictable): the row may not be what was written.
 */
export function noteWritten(ctx: FsContext, row: InodeRow): void {
  if (!ctx.store.inTransaction || !rowsPredictable(ctx)) return;
  if (ctx.written.size >= 64) ctx.written.clear();
  ctx.written.set(row.ino, { row, at: ctx.store.changes });
}

/** A trigger of the database's own, not agentfs's (whose sync triggers only mark rows changed). */
const FOREIGN_TRIGGER = "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name NOT LIKE 'agentfs\\_sync\\_%' ESCAPE '\\' LIMIT 1";

/**
 * Whether the rows this connection's statements write are the ones JavaScript works out for
 * noteWritten: not when another program gave the database a trigger of its own, which may change
 * a row ours just wrote (the hostile pass: a directory's group kept by a trigger, shown without
 * its change, and undone by a chmod that wrote the noted row back). Looked up when the filesystem
 * opens (InodeFs) and again once this connection noticed another one's commit (a DDL is one:
 * Store.lastDataVersion, which the mount's change watcher and the journal read anyway), so a
 * write transaction pays no statement for it.
 */
export function rowsPredictable(ctx: FsContext): boolean {
  const seen = ctx.store.lastDataVersion;
  const p = ctx.predictable;
  if (p !== undefined && p.seen === seen) return p.ok;
  let ok = false;
  try {
    ok = ctx.store.arrayStmt(FOREIGN_TRIGGER).get() === undefined;
  } catch {
    /* unreadable now: no rows noted, each is read */
  }
  ctx.predictable = { seen, ok };
  return ok;
}

export function requireRow(ctx: FsContext, ino: number, syscall: string): InodeRow {
  const row = getRow(ctx, ino);
  if (!row) throw new FsError('ENOENT', syscall, undefined, `no such inode ${ino}`);
  return row;
}

export function requireDirRow(ctx: FsContext, ino: number, syscall: string): InodeRow {
  const row = requireRow(ctx, ino, syscall);
  if ((row.mode & S_IFMT) !== S_IFDIR) throw new FsError('ENOTDIR', syscall);
  return row;
}

export function attrOf(ctx: FsContext, ino: number, syscall: string): Attr {
  const row = getRow(ctx, ino);
  if (!row) throw new FsError('ENOENT', syscall, undefined, `no such inode ${ino}`);
  return rowToAttr(ctx, row);
}

export interface DentryRow extends InodeRow {
  dentry_id: number;
}

export function getDentry(ctx: FsContext, parent: number, name: string): DentryRow | undefined {
  const a = ctx.store.arrayStmt(SQL.dentry).get(parent, name) as unknown[] | undefined;
  if (!a) return undefined;
  const row = inodeAt(a, 1) as DentryRow;
  row.dentry_id = a[0] as number;
  return ctx.atime.apply(row);
}

/**
 * lookupAttr's row: the parent's mode (undefined: no such parent) and the entry's inode
 * (undefined: no such name).
 */
export function getLookupRow(ctx: FsContext, parent: number, name: string): { parentMode?: number; row?: InodeRow } {
  const a = ctx.store.arrayStmt(SQL.lookupAttr).get(name, parent) as unknown[] | undefined;
  if (!a) return {};
  return { parentMode: a[0] as number, row: a[1] === null ? undefined : ctx.atime.apply(inodeAt(a, 1)) };
}

/** The error for a name that is not in `parent`: ENOTDIR/ENOENT about the parent, or ENOENT. */
export function missingEntry(ctx: FsContext, parent: number, name: string, syscall: string): FsError {
  requireDirRow(ctx, parent, syscall);
  return new FsError('ENOENT', syscall, name);
}

export function touchDir(ctx: FsContext, dir: number, nlinkDelta: number, t: Timespec): void {
  ctx.store.stmt(SQL.touchDir).run(nlinkDelta, t.sec, t.nsec, t.sec, t.nsec, dir);
}

/** touchDir, returning the directory's attributes after it (undefined: no such directory). */
export function touchDirAttr(ctx: FsContext, dir: number, nlinkDelta: number, t: Timespec): Attr | undefined {
  const a = ctx.store.arrayStmt(SQL.touchDirRow).get(nlinkDelta, t.sec, t.nsec, t.sec, t.nsec, dir) as unknown[] | undefined;
  return a && rowToAttr(ctx, ctx.atime.apply(inodeAt(a, 0)));
}

export function typeOf(mode: number): number {
  return mode & S_IFMT;
}

export { isDir as isDirMode, isReg as isRegMode, isSymlink as isLinkMode } from '../types.js';
