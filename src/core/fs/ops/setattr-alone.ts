/**
 * A chmod, a chown or a utimens (one of them; no truncate) as ONE statement inside the caller's
 * transaction (ops/scratch.ts): the transaction route (setattr.ts) takes a savepoint and four
 * statements (the row's read, its update, the journal row, the savepoint's pair), and `tar x`
 * makes three of these a file. The row is read first (no write before it, so nothing to undo if
 * a check refuses), then its new attributes go into a scratch view (agentfs_setattr_*), whose
 * INSTEAD OF trigger updates the inode and writes the observer's row (InlineRecorders.metadata,
 * the journal's). A view stores nothing: against a scratch table (its row, and the delete of the
 * one before) it saves 1.2 us of SQLite's 9.2 a change (with the journal row, measured in one
 * transaction). With no observer there is no row besides the inode's: a plain UPDATE of it, which
 * costs SQLite less than the scratch row and its trigger (4.8 against 6.9 us here).
 */
import type { Attr, Caller, SetAttr } from '../../types.js';
import type { FsContext } from '../context.js';
import { requireRow } from '../rows.js';
import { now } from '../time.js';
import { insertOf, registerScratch, runScratch, scratchTable, type ScratchTable } from './scratch.js';
import { attrMutations, attrsWritten, planAttrs } from './attr-change.js';

const FIXED = ['ino', 'mode', 'uid', 'gid', 'asec', 'ansec', 'msec', 'mnsec', 'csec', 'cnsec'];

const SETATTR: ScratchTable = {
  name: 'agentfs_setattr',
  columns: FIXED,
  view: true,
  triggers: (table, observerSql) => `
    CREATE TEMP TRIGGER IF NOT EXISTS ${table}_all INSTEAD OF INSERT ON ${table}
    BEGIN
      UPDATE fs_inode SET mode = NEW.mode, uid = NEW.uid, gid = NEW.gid, atime = NEW.asec, atime_nsec = NEW.ansec,
        mtime = NEW.msec, mtime_nsec = NEW.mnsec, ctime = NEW.csec, ctime_nsec = NEW.cnsec
        WHERE ino = NEW.ino;
      ${observerSql}
    END;`,
  insert: (table, observer) => insertOf(table, [...FIXED, ...observer]),
};
registerScratch(SETATTR, (ctx) => (ctx.observer && !ctx.observer.inline?.metadata ? [] : [ctx.observer?.inline?.metadata]));

/** The unobserved route's statement: the same columns as the trigger's UPDATE, in FIXED's order. */
const UPDATE = `UPDATE fs_inode SET mode = ?2, uid = ?3, gid = ?4, atime = ?5, atime_nsec = ?6,
  mtime = ?7, mtime_nsec = ?8, ctime = ?9, ctime_nsec = ?10 WHERE ino = ?1`;

/** The attributes after the change, or undefined when this route does not take it (nothing written). */
export function setattrAlone(ctx: FsContext, ino: number, changes: SetAttr, caller?: Caller): Attr | undefined {
  const inline = ctx.observer?.inline?.metadata;
  if (ctx.observer && !inline) return undefined;
  if (!ctx.store.inTransaction) return undefined;
  const scratch = ctx.observer ? scratchTable(ctx, SETATTR, inline) : undefined;
  if (ctx.observer && !scratch) return undefined;
  const row = requireRow(ctx, ino, 'setattr');
  const t = now();
  const c = planAttrs(row, changes, t, caller);
  const ms = c ? attrMutations(ino, c) : [];
  // nothing to change, or two kinds of change (two journal rows): the transaction route
  if (!c || ms.length !== 1) return undefined;
  const extra = inline ? inline.values(ms[0]!) : [];
  if (!extra) return undefined;
  const args = [ino, c.mode, c.uid, c.gid, c.atime.sec, c.atime.nsec, c.mtime.sec, c.mtime.nsec, t.sec, t.nsec, ...extra];
  // an insert into a view counts no rows: undefined only when the view went with a rollback
  if (scratch ? runScratch(ctx, scratch, args) === undefined : !ctx.store.stmt(UPDATE).run(...args).changes) return undefined;
  inline?.recorded(ms[0]!);
  return attrsWritten(ctx, row, c, t);
}
