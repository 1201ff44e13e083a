/**
 * Inode lifetime: when the last link goes, the inode and its data go too, unless a handle in
 * this process still has it open (then it becomes an orphan until release), or another live
 * process that keeps files open (a mount, registered in agentfs_fs_holder) may have it open: then
 * it becomes that process's orphan. An orphan goes from holder to holder in the order of their
 * pids, starting with the lowest, each keeping it while it has it open (several mounts of one
 * database may each hold it), and the last one frees it; one left to a process that is gone goes
 * on to the live holders, or is freed when there are none, the next time the database is opened
 * for writing.
 */
import { DENTRY_PARENT_INDEX, type Store } from '../../store/index.js';
import { S_IFMT, S_IFREG, S_IFLNK } from '../types.js';
import type { FsContext } from './context.js';
import { BLOCKS_TABLE, forgetBlocks } from './stored-blocks.js';

/**
 * Our own additions: an index to walk dentries upwards (pathOf, rename loop checks) and the
 * orphan list. Listings page in cookie (dentry id) order through idx_fs_dentry_parent as our
 * databases key it (DENTRY_PARENT_INDEX).
 */
const EXTRAS = [
  'CREATE INDEX IF NOT EXISTS agentfs_idx_fs_dentry_ino ON fs_dentry(ino)',
  `CREATE TABLE IF NOT EXISTS agentfs_fs_orphan (
    ino INTEGER PRIMARY KEY,
    pid INTEGER NOT NULL
  )`,
  // processes that keep files open for others (mounts): another process's unlink keeps their data
  'CREATE TABLE IF NOT EXISTS agentfs_fs_holder (pid INTEGER PRIMARY KEY)',
  // large files' st_blocks (stored-blocks.ts)
  BLOCKS_TABLE,
];
const EXTRA_NAMES = ['agentfs_idx_fs_dentry_ino', 'agentfs_fs_orphan', 'agentfs_fs_holder', 'agentfs_fs_blocks'];
/** the index by (parent_ino) of earlier versions, beside the spec's copy of the UNIQUE one */
const OLD_PARENT_ID_INDEX = 'agentfs_idx_fs_dentry_parent_id';

/**
 * Creates the extras when missing, and keys idx_fs_dentry_parent as DENTRY_PARENT_INDEX says in
 * files made by earlier versions or other implementations (a read-only database simply goes
 * without: its listings sort each page).
 */
export function ensureFsExtras(store: Store): boolean {
  const rows = store
    .stmt(`SELECT name, sql FROM sqlite_master WHERE name IN (${[...EXTRA_NAMES, OLD_PARENT_ID_INDEX, 'idx_fs_dentry_parent'].map(() => '?').join(', ')})`)
    .all(...EXTRA_NAMES, OLD_PARENT_ID_INDEX, 'idx_fs_dentry_parent') as { name: string; sql: string | null }[];
  const have = new Map(rows.map((r) => [r.name, r.sql]));
  const rekey = have.has(OLD_PARENT_ID_INDEX) || normalized(have.get('idx_fs_dentry_parent')) !== normalized(DENTRY_PARENT_INDEX);
  if (!rekey && EXTRA_NAMES.every((n) => have.has(n))) return true;
  try {
    store.transaction(() => {
      for (const sql of EXTRAS) store.db.exec(sql);
      if (rekey) {
        store.db.exec('DROP INDEX IF EXISTS idx_fs_dentry_parent');
        store.db.exec(DENTRY_PARENT_INDEX);
        store.db.exec(`DROP INDEX IF EXISTS ${OLD_PARENT_ID_INDEX}`);
      }
    });
    return true;
  } catch {
    return false;
  }
}

/** DDL as sqlite_master keeps it (without IF NOT EXISTS), spaces folded. */
function normalized(sql: string | null | undefined): string | undefined {
  return sql?.replace(/\s+IF\s+NOT\s+EXISTS/i, '').replace(/\s+/g, ' ').trim();
}

const PURGE_INODE = 'DELETE FROM fs_inode WHERE ino = ? RETURNING EXISTS (SELECT 1 FROM fs_origin o WHERE o.delta_ino = fs_inode.ino)';

/** Deletes an inode and everything that hangs off it. */
export function purgeInode(ctx: FsContext, ino: number, mode: number): void {
  const s = ctx.store;
  const type = mode & S_IFMT;
  if (type === S_IFREG) {
    s.stmt('DELETE FROM fs_data WHERE ino = ?').run(ino);
    forgetBlocks(ctx, ino);
  } else if (type === S_IFLNK) s.stmt('DELETE FROM fs_symlink WHERE ino = ?').run(ino);
  // only overlay copies have an origin: the inode's delete says whether to delete one
  const origin = s.arrayStmt(PURGE_INODE).get(ino) as [number] | undefined;
  if (origin?.[0]) s.stmt('DELETE FROM fs_origin WHERE delta_ino = ?').run(ino);
  ctx.atime.forget(ino); // SQLite may hand the number to the next inode
  if (ctx.fresh === ino) ctx.fresh = 0;
}

/** Called when an inode's link count reached zero. Returns true when the inode is gone (purged). */
export function lastLinkGone(ctx: FsContext, ino: number, mode: number): boolean {
  if ((ctx.openCount.get(ino) ?? 0) > 0) {
    ctx.store.stmt('INSERT OR REPLACE INTO agentfs_fs_orphan (ino, pid) VALUES (?, ?)').run(ino, process.pid);
    ctx.orphans.add(ino);
    return false;
  }
  const holder = otherLiveHolder(ctx);
  if (holder !== undefined) {
    // a mount may have it open (the kernel's handles are not ours to see): it purges it
    ctx.store.stmt('INSERT OR REPLACE INTO agentfs_fs_orphan (ino, pid) VALUES (?, ?)').run(ino, holder);
    return false;
  }
  purgeInode(ctx, ino, mode);
  return true;
}

/**
 * Another live holder, if any. Read once per write transaction: no other process can register
 * while it is open (a holder that dies meanwhile is handed orphans that purgeDeadOrphans frees).
 */
export function otherLiveHolder(ctx: FsContext): number | undefined {
  const serial = ctx.store.writeSerial;
  if (serial !== 0 && ctx.holderCheck?.serial === serial) return ctx.holderCheck.pid;
  const pid = readOtherLiveHolder(ctx);
  ctx.holderCheck = { serial, pid };
  return pid;
}

function readOtherLiveHolder(ctx: FsContext): number | undefined {
  return liveHolderAfter(ctx, 0);
}

/** The live holder with the lowest pid above `after`, this process apart. */
function liveHolderAfter(ctx: FsContext, after: number): number | undefined {
  let rows: { pid: number }[];
  try {
    rows = ctx.store.stmt('SELECT pid FROM agentfs_fs_holder WHERE pid > ? AND pid <> ? ORDER BY pid').all(after, process.pid) as { pid: number }[];
  } catch {
    return undefined; // no such table (a database we could not add it to)
  }
  return rows.map((r) => Number(r.pid)).find((pid) => alive(pid));
}

/**
 * An orphan not open here goes on: our own (unlinked here) to the lowest other live holder, one
 * handed to us to the next one above us; freed when there is none. Inside a transaction.
 */
function passOn(ctx: FsContext, ino: number): void {
  const next = liveHolderAfter(ctx, ctx.orphans.has(ino) ? 0 : process.pid);
  ctx.orphans.delete(ino);
  ctx.handed.delete(ino);
  if (next === undefined) {
    const row = ctx.store.stmt('SELECT mode, nlink FROM fs_inode WHERE ino = ?').get(ino) as { mode: number; nlink: number } | undefined;
    if (row && row.nlink <= 0) purgeInode(ctx, ino, row.mode);
    ctx.store.stmt('DELETE FROM agentfs_fs_orphan WHERE ino = ?').run(ino);
  } else {
    ctx.store.stmt('UPDATE agentfs_fs_orphan SET pid = ? WHERE ino = ?').run(next, ino);
  }
}

/** This process keeps files open for others (a mount): registers it; returns the unregister. */
export function registerHolder(ctx: FsContext): () => void {
  ctx.holderCheck = undefined;
  ctx.store.transaction(() => {
    ctx.store.stmt('INSERT OR REPLACE INTO agentfs_fs_holder (pid) VALUES (?)').run(process.pid);
  });
  return () => {
    ctx.holderCheck = undefined;
    ctx.store.transaction(() => {
      ctx.store.stmt('DELETE FROM agentfs_fs_holder WHERE pid = ?').run(process.pid);
      // orphans handed to us by other processes that we never had open, or hold no longer
      purgeHandedOrphans(ctx);
    });
  };
}

/**
 * Passes on (or frees, passOn) this holder's orphans that are not open here: those other processes
 * handed to it, and its own after their last release; those still open are remembered
 * (ctx.handed) and go by a later call. A holder calls this whenever another process has committed
 * (the mount polls PRAGMA data_version) and after such a release (handedDue), so a release needs
 * no query of its own: an orphan handed over after the last call goes by the next one if it was
 * released meanwhile.
 */
export function purgeHandedOrphans(ctx: FsContext): void {
  const mine = ctx.store.stmt('SELECT ino FROM agentfs_fs_orphan WHERE pid = ?').all(process.pid) as { ino: number }[];
  for (const { ino: i } of mine) {
    const ino = Number(i);
    if (!ctx.openCount.has(ino)) passOn(ctx, ino);
    else if (!ctx.orphans.has(ino)) ctx.handed.add(ino);
  }
  ctx.handedDue = false; // (a failure above leaves it due: the next poll tries again)
}

/**
 * At the last release here of an orphan (one another process handed us, or a holder's own): it
 * is due for the holder's next purgeHandedOrphans. Not freed here: the kernel may
 * hold it open through a handle the FUSE addon opened natively and reported to this process
 * only after this release (its OPENED still queued): a mount purged a file that a reader had
 * open while the SDK renamed over its name, and the reader's next read failed (ENOENT). The
 * mount's check takes the addon's opens first (FuseServer's change watcher).
 */
export function handedReleased(ctx: FsContext, ino: number): void {
  if (ctx.handed.has(ino) || ctx.orphans.has(ino)) ctx.handedDue = true;
}

/**
 * After the last release of our own orphan: another live holder may have it open too (a second
 * mount of the database), so it goes on to them (passOn), else it is freed. A holder waits for
 * its next check instead (handedReleased), as for the orphans handed to it.
 */
export function purgeOrphan(ctx: FsContext, ino: number): void {
  if (ctx.holder) return handedReleased(ctx, ino);
  ctx.store.transaction(() => passOn(ctx, ino));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Purges inodes without links that no live process holds open. Returns how many. */
export function purgeDeadOrphans(ctx: FsContext): number {
  const rows = ctx.store
    .stmt(
      `SELECT i.ino AS ino, i.mode AS mode, o.pid AS pid FROM fs_inode i LEFT JOIN agentfs_fs_orphan o ON o.ino = i.ino
       WHERE i.nlink <= 0 AND i.ino <> 1`,
    )
    .all() as { ino: number; mode: number; pid: number | null }[];
  const dead = rows.filter((r) => r.pid === null || !alive(r.pid));
  // one a live holder may have open (another mount of the database) goes on to the lowest of them
  const holder = liveHolderAfter(ctx, 0);
  try {
    const holders = ctx.store.stmt('SELECT pid FROM agentfs_fs_holder').all() as { pid: number }[];
    const gone = holders.filter((h) => !alive(Number(h.pid)));
    if (gone.length) ctx.store.transaction(() => gone.forEach((h) => ctx.store.stmt('DELETE FROM agentfs_fs_holder WHERE pid = ?').run(h.pid)));
  } catch {
    /* no holder table */
  }
  if (!dead.length) return 0;
  ctx.store.transaction(() => {
    for (const r of dead) {
      if (holder !== undefined) {
        ctx.store.stmt('INSERT OR REPLACE INTO agentfs_fs_orphan (ino, pid) VALUES (?, ?)').run(r.ino, holder);
        continue;
      }
      purgeInode(ctx, r.ino, r.mode);
      ctx.store.stmt('DELETE FROM agentfs_fs_orphan WHERE ino = ?').run(r.ino);
    }
  });
  return holder === undefined ? dead.length : 0;
}
