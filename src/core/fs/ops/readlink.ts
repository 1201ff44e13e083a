import { FsError } from '../../errors.js';
import { storedText } from '../../stored-text.js';
import type { FsContext } from '../context.js';
import { requireRow } from '../rows.js';

/** The target of symlink `ino` (EINVAL for anything else). */
export function readlink(ctx: FsContext, ino: number): string {
  const row = ctx.store.stmt('SELECT CAST(target AS BLOB) AS target FROM fs_symlink WHERE ino = ?').get(ino) as { target: unknown } | undefined;
  if (row) {
    const target = storedText(row.target);
    if (target === null) throw new FsError('EILSEQ', 'readlink', undefined, 'the symlink target is not valid UTF-8 (written by another program or damaged)');
    return target;
  }
  requireRow(ctx, ino, 'readlink');
  throw new FsError('EINVAL', 'readlink', undefined, 'not a symbolic link');
}
