/**
 * Group commit for the FUSE server: changes made within a few ms share one storage transaction,
 * and their replies go out before it commits (as with a page cache); fsync is the durability
 * point. Near a full disk changes are committed one by one before their replies instead, so
 * that lack of space fails a request rather than a group whose writes were already answered.
 */
import { errnoOf } from '../core/errors.js';
import { eatsReserve, SPACE_PER_BYTE } from '../core/fs/room.js';

/** Opens and commits a transaction that spans several requests (Store.beginBatch/commitBatch). */
export interface GroupCommit {
  /** false when a transaction is already open (nothing was opened) */
  begin(): boolean;
  commit(): void;
  /** bytes the storage can still grow by (free space of its filesystem); see lowOnSpace */
  room?(): number;
  /** changes are now (no longer) committed one by one for lack of space */
  lowSpace?(on: boolean): void;
}

export const GROUP_COMMIT_MS = 10;
/**
 * Below this much free space (after what the open group may still need) changes are committed
 * before they are answered: a group commit that fails for lack of space would lose writes that
 * were already acknowledged, while a change committed alone fails with ENOSPC to its caller.
 */
const LOW_SPACE = 64 << 20;
const ROOM_POLL_MS = 50;
/**
 * Free space beyond which GroupCommit.room need not be exact: far above LOW_SPACE plus what a
 * full group and one poll's writes may use (SPACE_PER_BYTE x GROUP_MAX_BYTES, and then some).
 */
export const ROOM_ENOUGH = 1 << 30;
/** commit early after this much written data, to keep the open transaction small */
const GROUP_MAX_BYTES = 64 << 20;
/**
 * With native reads (FuseServer.shareReads), commit early once this many requests in a row only
 * read: while a group is open every request goes to JavaScript, and a workload that stopped
 * writing (git status right after git clone, find after tar x) would wait out the window there.
 * Workloads that write between reads (a lookup before each create) never get this far.
 */
const READS_BEFORE_COMMIT = 32;

export class GroupCommitter {
  private open = false;
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;
  /** when the open group is due (performance.now() ms) */
  private dueAt = 0;
  /** errno of a failed group commit not yet reported to an fsync (0: none) */
  private lostError = 0;
  private room = Infinity;
  private roomAt = 0;
  private roomUsed = 0;
  private reads = 0;
  /** what lowOnSpace said last */
  private low = false;
  /** commit an open group after READS_BEFORE_COMMIT read-only requests in a row */
  commitOnReads = false;

  /** Without a GroupCommit every change commits by itself; onError hears of failed group commits. */
  constructor(
    private readonly storage: GroupCommit | undefined,
    private readonly windowMs: number,
    private readonly onError: (e: unknown) => void,
  ) {}

  /** Starts a group unless one is open: changes of the next few ms share one commit. */
  begin(): void {
    this.reads = 0;
    const g = this.storage;
    if (!g || this.open) return;
    if (!g.begin()) return;
    this.open = true;
    this.dueAt = performance.now() + this.windowMs;
    this.timer = setTimeout(() => this.commit(), this.windowMs);
  }

  /** Commits the open group if its window has passed (for a caller that keeps the timer from running). */
  commitIfDue(): void {
    if (this.open && performance.now() >= this.dueAt) this.commit();
  }

  /** Commits the open group. Its replies went out already; a failed commit can only be reported. */
  commit(): void {
    if (!this.open) return;
    this.open = false;
    this.bytes = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    try {
      this.storage!.commit();
    } catch (e) {
      this.lostError = errnoOf(e);
      this.onError(e);
    }
  }

  /** A request that changes nothing was served (see READS_BEFORE_COMMIT). */
  read(): void {
    if (this.open && this.commitOnReads && ++this.reads >= READS_BEFORE_COMMIT) this.commit();
  }

  /** Counts data written in the open group; a large group is committed early. */
  wrote(bytes: number): void {
    if (!this.open) return;
    this.bytes += bytes;
    if (this.bytes >= GROUP_MAX_BYTES) this.commit();
  }

  /** The errno of a group commit that failed after its writes were answered (0: none); said once, to the next fsync. */
  takeLostError(): number {
    const errno = this.lostError;
    this.lostError = 0;
    return errno;
  }

  /** The storage is close to full (free space polled every 50 ms, minus what was written since). */
  lowOnSpace(incoming: number): boolean {
    const g = this.storage;
    if (!g?.room) return false;
    const now = Date.now();
    if (now - this.roomAt >= ROOM_POLL_MS) {
      try {
        this.room = g.room();
      } catch {
        this.room = Infinity;
      }
      this.roomAt = now;
      this.roomUsed = 0;
    }
    this.roomUsed += incoming;
    const low = this.room - (this.roomUsed + this.bytes) * SPACE_PER_BYTE < LOW_SPACE;
    if (low !== this.low) {
      this.low = low;
      try {
        g.lowSpace?.(low);
      } catch (e) {
        this.onError(e);
      }
    }
    return low;
  }

  /** After lowOnSpace: a write of incoming bytes would eat into the reserve, and is not counted. */
  refuses(incoming: number): boolean {
    // roomUsed counts incoming already (lowOnSpace)
    if (eatsReserve(this.room - (this.roomUsed - incoming) * SPACE_PER_BYTE, incoming)) {
      this.roomUsed -= incoming;
      return true;
    }
    return false;
  }
}
