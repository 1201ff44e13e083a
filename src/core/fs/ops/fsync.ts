import type { FsContext } from '../context.js';
import { requireRow } from '../rows.js';

/** Makes what was written to `ino` durable: pending atimes, then the database itself. */
export function fsync(ctx: FsContext, ino: number): void {
  requireRow(ctx, ino, 'fsync');
  ctx.atime.flush();
  ctx.store.sync();
}
