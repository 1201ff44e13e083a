/** setattr: chmod, chown, truncate and utimens, in one transaction; ctime moves with any change. */
import { FsError } from '../../errors.js';
import type { Attr, Caller, SetAttr } from '../../types.js';
import { notify, type FsContext } from '../context.js';
import { attrOf, isDirMode, isRegMode, requireRow } from '../rows.js';
import { now } from '../time.js';
import { attrMutations, attrsWritten, planAttrs } from './attr-change.js';
import { setattrAlone } from './setattr-alone.js';
import { truncateData } from './truncate.js';

/**
 * caller: who asks (a FUSE or NFS request's sender); a truncate by one without privilege drops
 * set-id bits, as a new owner or group does for anyone (set-id.ts) unless a mode comes with it.
 */
export function setattr(ctx: FsContext, ino: number, changes: SetAttr, caller?: Caller): Attr {
  if (changes.size === undefined) {
    const alone = setattrAlone(ctx, ino, changes, caller);
    if (alone) return alone;
  }
  return ctx.store.transaction(() => {
    const row = requireRow(ctx, ino, 'setattr');
    const t = now();
    if (changes.size !== undefined) {
      const size = changes.size;
      if (isDirMode(row.mode)) throw new FsError('EISDIR', 'truncate');
      if (!isRegMode(row.mode)) throw new FsError('EINVAL', 'truncate', undefined, 'not a regular file');
      if (!(size >= 0) || (Number.isFinite(size) && !Number.isInteger(size))) throw new FsError('EINVAL', 'truncate', undefined, 'invalid size');
      if (!Number.isSafeInteger(size)) throw new FsError('EFBIG', 'truncate');
      truncateData(ctx, row, size, t);
      if (ctx.observer) notify(ctx, { op: 'truncate', ino, size });
    }
    const c = planAttrs(row, changes, t, caller);
    if (c) {
      ctx.store
        .stmt(
          `UPDATE fs_inode SET mode = ?, uid = ?, gid = ?, atime = ?, atime_nsec = ?, mtime = ?, mtime_nsec = ?, ctime = ?, ctime_nsec = ?
           WHERE ino = ?`,
        )
        .run(c.mode, c.uid, c.gid, c.atime.sec, c.atime.nsec, c.mtime.sec, c.mtime.nsec, t.sec, t.nsec, ino);
      if (ctx.observer) for (const m of attrMutations(ino, c)) notify(ctx, m);
      if (changes.size === undefined) return attrsWritten(ctx, row, c, t);
      ctx.atime.forget(ino);
    }
    return attrOf(ctx, ino, 'setattr');
  });
}
