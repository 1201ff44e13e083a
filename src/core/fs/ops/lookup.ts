import { FsError } from '../../errors.js';
import { ROOT_INO, S_IFDIR, S_IFMT, type Attr } from '../../types.js';
import type { FsContext } from '../context.js';
import { checkName } from '../names.js';
import { SQL, attrOf, getLookupRow, requireDirRow, rowToAttr } from '../rows.js';

/** The attributes of `name` in directory `parent` (one query on the hot path). */
export function lookup(ctx: FsContext, parent: number, name: string): Attr {
  if (name === '.' || name === '..') {
    requireDirRow(ctx, parent, 'lookup');
    return attrOf(ctx, name === '.' ? parent : parentOf(ctx, parent), 'lookup');
  }
  checkName(name, 'lookup');
  // a miss (every create starts with one) needs no second query to tell ENOENT from ENOTDIR
  const { parentMode, row } = getLookupRow(ctx, parent, name);
  if (parentMode === undefined) throw new FsError('ENOENT', 'lookup', undefined, `no such inode ${parent}`);
  if ((parentMode & S_IFMT) !== S_IFDIR) throw new FsError('ENOTDIR', 'lookup');
  if (!row) throw new FsError('ENOENT', 'lookup', name);
  return rowToAttr(ctx, row);
}

/** The directory that holds `ino` (root is its own parent). */
export function parentOf(ctx: FsContext, ino: number): number {
  if (ino === ROOT_INO) return ROOT_INO;
  const row = ctx.store.stmt(SQL.parentOf).get(ino) as { parent_ino: number } | undefined;
  if (!row) throw new FsError('ENOENT', 'lookup', undefined, `inode ${ino} has no parent`);
  return row.parent_ino;
}

/** The oldest dentry of `ino` (the one pathOf follows): its directory and name; undefined if unlinked or the root. */
export function entryOf(ctx: FsContext, ino: number): { parent: number; name: string } | undefined {
  if (ino === ROOT_INO) return undefined;
  const row = ctx.store.stmt(SQL.parentOf).get(ino) as { parent_ino: number; name: string } | undefined;
  return row && { parent: row.parent_ino, name: row.name };
}

/** A path of `ino` from the root, following the oldest dentry of each inode (undefined if unlinked). */
export function pathOf(ctx: FsContext, ino: number): string | undefined {
  const parts: string[] = [];
  let cur = ino;
  for (let depth = 0; cur !== ROOT_INO; depth++) {
    if (depth > 4096) return undefined;
    const row = ctx.store.stmt(SQL.parentOf).get(cur) as { parent_ino: number; name: string } | undefined;
    if (!row) return undefined;
    parts.push(row.name);
    cur = row.parent_ino;
  }
  return '/' + parts.reverse().join('/');
}

/** True when `dir` is `ancestor` or lies below it (used to refuse moving a directory into itself). */
export function isWithin(ctx: FsContext, dir: number, ancestor: number): boolean {
  let cur = dir;
  for (let depth = 0; depth <= 4096; depth++) {
    if (cur === ancestor) return true;
    if (cur === ROOT_INO) return false;
    const row = ctx.store.stmt(SQL.parentOf).get(cur) as { parent_ino: number } | undefined;
    if (!row) return false;
    cur = row.parent_ino;
  }
  return false;
}
