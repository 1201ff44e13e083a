/**
 * The whole-file write of PathFs.writeFile (InodeFs.writeWhole): a new file with its content, or
 * an existing regular file's content replaced, as the rows the result needs and nothing more (no
 * open/close, no truncate-then-write pair, no read of what was just written). It runs inside the
 * caller's transaction (PathFs's batch, a savepoint when nested), which rolls it back on a throw.
 */
import { FsError } from '../../errors.js';
import { isReg, type Attr, type Caller } from '../../types.js';
import { notify, type FsContext } from '../context.js';
import { rememberChunks } from '../rows.js';
import { now } from '../time.js';
import { createWith, putChunks } from './create.js';

/** Where writeWhole writes: an existing regular file (as just looked up), or a new name in a directory. */
export type WholeTarget = Attr | { parent: number; name: string; mode: number; caller: Caller };

export function writeWhole(ctx: FsContext, target: WholeTarget, data: Uint8Array): Attr {
  if (!ctx.store.inTransaction) throw new Error('writeWhole runs inside a transaction');
  const content = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if ('parent' in target) return createWith(ctx, target.parent, target.name, target.mode, target.caller, content);
  return replaceContent(ctx, target, content);
}

/** O_TRUNC and one write at 0, as one change: same inode, so hard links and open handles see the new content. */
function replaceContent(ctx: FsContext, a: Attr, content: Buffer): Attr {
  if (!isReg(a.mode)) throw new FsError('EINVAL', 'write', undefined, 'not a regular file');
  const ino = a.ino;
  const size = content.byteLength;
  const t = now();
  // every old chunk goes (a sparse or fallocated file may have some past the new end)
  if (a.size > 0) ctx.store.stmt('DELETE FROM fs_data WHERE ino = ?').run(ino);
  const chunks = putChunks(ctx, ino, content);
  ctx.store.stmt('UPDATE fs_inode SET size = ?, mtime = ?, mtime_nsec = ?, ctime = ?, ctime_nsec = ? WHERE ino = ?').run(
    size, t.sec, t.nsec, t.sec, t.nsec, ino,
  );
  rememberChunks(ctx, ino, size, t, chunks);
  if (ctx.observer) {
    // the rows open(O_TRUNC) and a write give: a truncate only when there was content to drop
    if (a.size > 0) notify(ctx, { op: 'truncate', ino, size: 0, written: size > 0 ? size : undefined });
    else if (size > 0) notify(ctx, { op: 'write', ino, offset: 0, length: size, size, whole: true });
  }
  return { ...a, size, blocks: Math.ceil(size / 512), mtime: t, ctime: { ...t } };
}
