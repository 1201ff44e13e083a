import type { Store } from '../../store/index.js';
import type { LazyAtime } from './lazy-atime.js';
import type { FsMutation, MutationObserver } from './mutation.js';
import type { Scratch } from './ops/scratch.js';
import type { LaterUnlinks } from './ops/unlink-later.js';
import type { InodeRow } from './rows.js';

/** State shared by every operation of one InodeFs. */
export interface FsContext {
  readonly store: Store;
  readonly chunkSize: number;
  /** told of every mutation (the journal); unset while InodeFs.unobserved runs */
  observer: MutationObserver | undefined;
  /** open handles per inode, in this process: an unlinked inode lives until its last release */
  readonly openCount: Map<number, number>;
  /** inodes unlinked while open here: purged on their last release */
  readonly orphans: Set<number>;
  /** inodes other processes unlinked while open here (a holder's): purged after their last release */
  readonly handed: Set<number>;
  /**
   * An orphan (one of them, or a holder's own) had its last release here: the holder's next check
   * (purgeHandedOrphans) passes it on or frees it, once the opens its FUSE addon answered
   * meanwhile are counted (lifecycle.ts)
   */
  handedDue?: boolean;
  /** this process is registered as keeping files open for others (a mount): see lifecycle.ts */
  holder?: boolean;
  /**
   * The inode the last create made (0: none), until the next write transaction begins: the open
   * that follows a create (FUSE's CREATE, the SDK's open with O_CREAT) needs no lookup of the row.
   */
  fresh: number;
  /** otherLiveHolder's answer, valid in the write transaction it was read in (lifecycle.ts) */
  holderCheck?: { serial: number; pid: number | undefined };
  /** unlinks answered and not yet written (ops/unlink-later.ts); undefined: each is written at once */
  laterUnlinks?: LaterUnlinks;
  /**
   * Rows as this connection's open write transaction last wrote them, each with Store.changes
   * right after its write: while that has not moved, no statement ran since and the row is the
   * database's (rows.ts noteWritten, getRow). tar x reads each file's row before its write and
   * each of its three setattrs, and the kernel's GETATTR after a create reads the directory's.
   */
  readonly written: Map<number, { row: InodeRow; at: number }>;
  /**
   * Whether `written` may note rows at all: not when the database has a trigger of another
   * program's (rows.ts rowsPredictable), as of Store.lastDataVersion `seen`.
   */
  predictable?: { seen: number; ok: boolean };
  /** access times moved by reads, not yet written */
  readonly atime: LazyAtime;
  /** st_blocks per inode, valid while size, mtime and ctime are as recorded (rows.ts storedBlocks) */
  readonly blocks: Map<number, BlocksEntry>;
  /** inodes whose count in `blocks` is to be stored at the commit (stored-blocks.ts) */
  readonly blocksToStore: Set<number>;
  /** the database has agentfs_fs_blocks (stored-blocks.ts; a read-only one may not) */
  blocksTable?: boolean;
  /** the one-statement create of ops/create-alone.ts on this connection: its SQL by depth (false: it cannot be made here) */
  createAlone?: string[] | false;
  /** the one-statement operations of ops/scratch.ts on this connection, by table name (false: it cannot be made here) */
  readonly scratch: Map<string, Scratch | false>;
  /**
   * The inode number the next one-statement create proposes (undefined: read it afresh): the one
   * after the last this process made. The statement checks it; another process's creates make it
   * stale, which costs one refused try.
   */
  nextIno?: number;
}

export interface BlocksEntry {
  size: number;
  mtime: number;
  mtimeNsec: number;
  ctime: number;
  ctimeNsec: number;
  blocks: number;
  /** when known: the stored chunks are exactly indexes 0..chunks-1 (see rows.ts knownChunks) */
  chunks?: number;
}

export function notify(ctx: FsContext, m: FsMutation): void {
  if (ctx.observer) ctx.observer(m);
}
