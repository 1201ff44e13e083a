import { FsError } from '../../errors.js';
import type { Attr } from '../../types.js';
import { notify, type FsContext } from '../context.js';
import { checkName, checkNotDot } from '../names.js';
import { SQL, attrOf, isDirMode, requireDirRow, requireRow, touchDir } from '../rows.js';
import { now } from '../time.js';

/** A new name for an existing inode (hard link): nlink + 1, same data. */
export function link(ctx: FsContext, ino: number, newParent: number, newName: string): Attr {
  checkName(newName, 'link');
  return ctx.store.transaction(() => {
    const row = requireRow(ctx, ino, 'link');
    if (isDirMode(row.mode)) throw new FsError('EPERM', 'link', newName, 'hard links to directories are not allowed');
    requireDirRow(ctx, newParent, 'link');
    checkNotDot(newName, 'link');
    if (ctx.store.stmt(SQL.insertDentry).run(newName, newParent, ino).changes === 0) throw new FsError('EEXIST', 'link', newName);
    const t = now();
    ctx.store.stmt(SQL.addLink).run(1, t.sec, t.nsec, ino);
    touchDir(ctx, newParent, 0, t);
    if (ctx.observer) notify(ctx, { op: 'link', ino, newParent, newName });
    return attrOf(ctx, ino, 'link');
  });
}
