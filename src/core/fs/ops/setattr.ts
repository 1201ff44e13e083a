/** setattr: chmod, chown, truncate and utimens, in one transaction; ctime moves with any change. */
import { FsError } from '../../errors.js';
import { S_IFMT, type Attr, type Caller, type SetAttr, type Timespec } from '../../types.js';
import { notify, type FsContext } from '../context.js';
import { attrOf, isDirMode, isRegMode, rememberBlocks, requireRow, rowToAttr, storedBlocks, type InodeRow } from '../rows.js';
import { setIdBitsToDrop } from '../set-id.js';
import { now, validTimespec } from '../time.js';
import { truncateData } from './truncate.js';

function timeOf(v: Timespec | 'now' | undefined, t: Timespec): Timespec | undefined {
  if (v === undefined) return undefined;
  if (v === 'now') return t;
  if (!validTimespec(v)) throw new FsError('EINVAL', 'utimensat', undefined, 'invalid time');
  return v;
}

/**
 * caller: who asks (a FUSE or NFS request's sender); a truncate by one without privilege drops
 * set-id bits, as a new owner or group does for anyone (set-id.ts) unless a mode comes with it.
 */
export function setattr(ctx: FsContext, ino: number, changes: SetAttr, caller?: Caller): Attr {
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
    const atime = timeOf(changes.atime, t);
    const mtime = timeOf(changes.mtime, t);
    const chown = (changes.uid !== undefined && changes.uid !== -1) || (changes.gid !== undefined && changes.gid !== -1);
    const drop =
      changes.mode !== undefined ? 0 : chown ? setIdBitsToDrop(row, caller, true) : changes.size !== undefined ? setIdBitsToDrop(row, caller, false) : 0;
    const chmod = changes.mode !== undefined || drop !== 0;
    if (chmod || chown || atime || mtime) {
      const mode = changes.mode !== undefined ? (row.mode & S_IFMT) | (changes.mode & 0o7777) : row.mode & ~drop;
      const uid = changes.uid !== undefined && changes.uid !== -1 ? changes.uid : row.uid;
      const gid = changes.gid !== undefined && changes.gid !== -1 ? changes.gid : row.gid;
      const a = atime ?? { sec: row.atime, nsec: row.atime_nsec };
      // a truncate above may already have moved mtime
      const m = mtime ?? (changes.size !== undefined ? t : { sec: row.mtime, nsec: row.mtime_nsec });
      ctx.store
        .stmt(
          `UPDATE fs_inode SET mode = ?, uid = ?, gid = ?, atime = ?, atime_nsec = ?, mtime = ?, mtime_nsec = ?, ctime = ?, ctime_nsec = ?
           WHERE ino = ?`,
        )
        .run(mode, uid, gid, a.sec, a.nsec, m.sec, m.nsec, t.sec, t.nsec, ino);
      ctx.atime.forget(ino); // written just now (a pending read time would undo a utimens)
      if (ctx.observer) {
        if (chmod) notify(ctx, { op: 'chmod', ino, mode });
        if (chown) notify(ctx, { op: 'chown', ino, uid, gid });
        if (atime || mtime) notify(ctx, { op: 'utimens', ino });
      }
      if (changes.size === undefined) {
        // the row as just written, without reading it back; the data is as it was, so are its
        // blocks (tar sets owner, mode and times of every file it writes: no recount for each)
        const blocks = storedBlocks(ctx, row);
        const next: InodeRow = {
          ...row, mode, uid, gid, atime: a.sec, atime_nsec: a.nsec, mtime: m.sec, mtime_nsec: m.nsec, ctime: t.sec, ctime_nsec: t.nsec,
        };
        rememberBlocks(ctx, next, blocks);
        return rowToAttr(ctx, next);
      }
    }
    return attrOf(ctx, ino, 'setattr');
  });
}
