import type { Store } from '../../store/index.js';
import type { LazyAtime } from './lazy-atime.js';
import type { FsMutation, MutationObserver } from './mutation.js';

/** State shared by every operation of one InodeFs. */
export interface FsContext {
  readonly store: Store;
  readonly chunkSize: number;
  readonly observer: MutationObserver | undefined;
  /** open handles per inode, in this process: an unlinked inode lives until its last release */
  readonly openCount: Map<number, number>;
  /** inodes unlinked while open here: purged on their last release */
  readonly orphans: Set<number>;
  /** inodes other processes unlinked while open here (a holder's): purged on their last release */
  readonly handed: Set<number>;
  /** this process is registered as keeping files open for others (a mount): see lifecycle.ts */
  holder?: boolean;
  /** access times moved by reads, not yet written */
  readonly atime: LazyAtime;
  /** st_blocks per inode, valid while size, mtime and ctime are as recorded (rows.ts storedBlocks) */
  readonly blocks: Map<number, { size: number; mtime: number; mtimeNsec: number; ctime: number; ctimeNsec: number; blocks: number }>;
}

export function notify(ctx: FsContext, m: FsMutation): void {
  if (ctx.observer) ctx.observer(m);
}
