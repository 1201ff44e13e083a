/** open/release bookkeeping (keeps unlinked-but-open inodes alive). */
import { notify, type FsContext } from '../context.js';
import { handedReleased, purgeOrphan } from '../lifecycle.js';
import { requireRow } from '../rows.js';

export function open(ctx: FsContext, ino: number, flags: number, seen = false): void {
  if (ctx.fresh === ino) ctx.fresh = 0; // the last create made it, and no write transaction began since
  else if (!seen) requireRow(ctx, ino, 'open');
  ctx.openCount.set(ino, (ctx.openCount.get(ino) ?? 0) + 1);
  if (ctx.observer) notify(ctx, { op: 'open', ino, mode: flags });
}

export function release(ctx: FsContext, ino: number): void {
  const n = ctx.openCount.get(ino) ?? 0;
  if (n > 1) ctx.openCount.set(ino, n - 1);
  else ctx.openCount.delete(ino);
  if (ctx.observer) notify(ctx, { op: 'release', ino });
  if (n <= 1 && ctx.orphans.has(ino)) purgeOrphan(ctx, ino);
  else if (n <= 1 && ctx.holder) handedReleased(ctx, ino);
}
