/**
 * rename(2)/renameat2(2) semantics in one transaction: an existing target is replaced
 * atomically, RENAME_NOREPLACE refuses to replace, RENAME_EXCHANGE swaps two entries.
 */
import { FsError } from '../../errors.js';
import { RENAME_EXCHANGE, RENAME_NOREPLACE } from '../../types.js';
import { notify, type FsContext } from '../context.js';
import { checkRenameArgs } from '../names.js';
import { SQL, getDentry, isDirMode, missingEntry, requireDirRow, touchDir } from '../rows.js';
import { now } from '../time.js';
import { isWithin } from './lookup.js';
import { dropDir, dropNonDir } from './remove.js';

export function rename(ctx: FsContext, parent: number, name: string, newParent: number, newName: string, flags = 0): void {
  checkRenameArgs(name, newName, flags);
  ctx.store.transaction(() => {
    const src = getDentry(ctx, parent, name);
    if (!src) throw missingEntry(ctx, parent, name, 'rename');
    if (newParent !== parent) requireDirRow(ctx, newParent, 'rename');
    const srcIsDir = isDirMode(src.mode);
    const dst = getDentry(ctx, newParent, newName);
    // Linux's order: the flags' own refusals, then a directory below itself, then the types.
    if (flags & RENAME_NOREPLACE && dst) throw new FsError('EEXIST', 'rename', newName);
    if (flags & RENAME_EXCHANGE && !dst) throw new FsError('ENOENT', 'rename', newName);
    if (srcIsDir && newParent !== parent && isWithin(ctx, newParent, src.ino)) {
      throw new FsError('EINVAL', 'rename', name, 'cannot move a directory into its own subtree');
    }
    const t = now();

    if (flags & RENAME_EXCHANGE) {
      if (!dst) throw new FsError('ENOENT', 'rename', newName);
      const dstIsDir = isDirMode(dst.mode);
      if (dstIsDir && newParent !== parent && isWithin(ctx, parent, dst.ino)) {
        throw new FsError('EINVAL', 'rename', newName, 'cannot move a directory into its own subtree');
      }
      if (src.ino === dst.ino) return;
      ctx.store.stmt('UPDATE fs_dentry SET ino = ? WHERE id = ?').run(dst.ino, src.dentry_id);
      ctx.store.stmt('UPDATE fs_dentry SET ino = ? WHERE id = ?').run(src.ino, dst.dentry_id);
      const delta = (srcIsDir ? 1 : 0) - (dstIsDir ? 1 : 0);
      touchDir(ctx, parent, newParent === parent ? 0 : -delta, t);
      if (newParent !== parent) touchDir(ctx, newParent, delta, t);
      ctx.store.stmt(SQL.touchCtime).run(t.sec, t.nsec, src.ino);
      ctx.store.stmt(SQL.touchCtime).run(t.sec, t.nsec, dst.ino);
      if (ctx.observer) notify(ctx, { op: 'rename', ino: src.ino, parent, name, newParent, newName });
      return;
    }

    let dirDelta = 0; // change of newParent's subdirectory count from dropping the target
    if (dst) {
      if (flags & RENAME_NOREPLACE) throw new FsError('EEXIST', 'rename', newName);
      // Two names of one inode: POSIX says do nothing.
      if (dst.ino === src.ino) return;
      const dstIsDir = isDirMode(dst.mode);
      if (srcIsDir && !dstIsDir) throw new FsError('ENOTDIR', 'rename', newName);
      if (!srcIsDir && dstIsDir) throw new FsError('EISDIR', 'rename', newName);
      if (dstIsDir) {
        if (ctx.store.stmt(SQL.anyChild).get(dst.ino)) throw new FsError('ENOTEMPTY', 'rename', newName);
        dropDir(ctx, dst);
        dirDelta = -1;
      } else {
        dropNonDir(ctx, dst, t);
      }
    }
    ctx.store.stmt('UPDATE fs_dentry SET parent_ino = ?, name = ? WHERE id = ?').run(newParent, newName, src.dentry_id);
    ctx.store.stmt(SQL.touchCtime).run(t.sec, t.nsec, src.ino);
    if (newParent === parent) {
      touchDir(ctx, parent, dirDelta, t);
    } else {
      touchDir(ctx, parent, srcIsDir ? -1 : 0, t);
      touchDir(ctx, newParent, dirDelta + (srcIsDir ? 1 : 0), t);
    }
    if (ctx.observer) notify(ctx, { op: 'rename', ino: src.ino, parent, name, newParent, newName });
  });
}
