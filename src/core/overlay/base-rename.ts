import type { OverlayParts } from './parts.js';
import type { OverlayTransactions } from './transaction.js';

/** agentfs_meta key: a base directory rename commit has started (JSON { from, to }) */
const PENDING_RENAME = 'overlay.commit_rename';

/**
 * Commit renames a base directory that was moved in the overlay: the intent is recorded first, so
 * an overlay opened after a commit killed between the two steps finishes (or forgets) it.
 */
export class BaseRenames {
  constructor(
    private readonly o: OverlayParts,
    private readonly tx: OverlayTransactions,
  ) {}

  /** Commit is about to rename base directory `from` to `to` (recorded for recovery). */
  begin(from: string, to: string): void {
    this.o.store.setMeta(PENDING_RENAME, JSON.stringify({ from, to }));
  }

  /** The base directory `from` now lives at `to` (commit renamed it): follow it. */
  done(from: string, to: string): void {
    this.tx.run(() => {
      this.o.origins.rebase(from, to);
      this.o.store.setMeta(PENDING_RENAME, undefined);
    });
    this.o.base.forgetAll();
    this.o.paths.invalidate();
  }

  /** Finishes (or forgets) a base rename that a commit was killed in the middle of. */
  recover(): void {
    const { store, base } = this.o;
    const raw = store.getMeta(PENDING_RENAME);
    if (!raw || store.readOnly) return; // recovery is the next writer's
    const { from, to } = JSON.parse(raw) as { from: string; to: string };
    if (!base.lstat(from) && base.lstat(to)) this.done(from, to);
    else store.setMeta(PENDING_RENAME, undefined);
  }
}
