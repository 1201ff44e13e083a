/**
 * Group commit, as in the FUSE server: the changes of the calls served within a few ms share one
 * storage transaction, and replies go out before it commits (2-3x the small-file operations per
 * second in a quick check here). A kill of the server can therefore lose the last few ms of
 * acknowledged changes, like the mount's; COMMIT and FILE_SYNC / DATA_SYNC writes commit and sync
 * before they answer, and the write verifier (new at every start) makes clients resend UNSTABLE
 * writes they had not committed. With `ms: 0` every burst commits before its replies are sent.
 */

/** Opens and commits a transaction spanning several calls (Store.beginBatch/commitBatch). */
export interface GroupCommit {
  /** false when a transaction is already open (nothing was opened) */
  begin(): boolean;
  commit(): void;
}

export const GROUP_COMMIT_MS = 10;
/** commit early after this much written data, to keep the open transaction small */
const GROUP_MAX_BYTES = 64 << 20;

export class GroupCommitter {
  private open = false;
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly group: GroupCommit | undefined,
    /** longest a change waits for its commit; 0: before the replies of its burst */
    private readonly ms = GROUP_COMMIT_MS,
    /** a commit that failed after its replies went out (it can only be reported) */
    private readonly onCommitError?: (e: unknown) => void,
    /** any failed commit: its changes were rolled back, acknowledged ones included */
    private readonly onRollback?: () => void,
  ) {}

  /** Before a change (with the bytes it writes): joins, or opens, the group transaction. */
  mutating(bytes = 0): void {
    this.bytes += bytes;
    if (this.open || !this.group) return;
    if (this.group.begin()) this.open = true;
  }

  /**
   * A burst of calls was served and its replies are about to go out: commit now (strict mode, or
   * after much written data), or within `ms`. Throws when a commit now fails.
   */
  endOfBurst(): void {
    if (!this.open) return;
    if (this.ms <= 0 || this.bytes >= GROUP_MAX_BYTES) {
      this.commit();
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      try {
        this.commit();
      } catch (e) {
        this.onCommitError?.(e);
      }
    }, this.ms);
  }

  /** Commits the group transaction, if one is open. */
  commit(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.bytes = 0;
    if (!this.open) return;
    this.open = false;
    try {
      this.group!.commit();
    } catch (e) {
      this.onRollback?.();
      throw e;
    }
  }
}
