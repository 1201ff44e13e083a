/**
 * A create, mkdir or mknod as ONE statement inside the caller's transaction (ops/scratch.ts): the
 * transaction route (create.ts makeNode) takes a savepoint and five statements (the directory's
 * update, the inode, its dentry, the journal row, the savepoint's pair), and every file `tar x`
 * or a compiler writes through a mount starts with one.
 *
 * The statement inserts the new node into a scratch table (agentfs_made_*) from a read of its
 * directory under the write lock: no row when the parent is not a directory (the transaction
 * route then says why, as it always did). The same read gives what the directory decides: a
 * setgid directory hands its group to the node, and its set-gid bit to a subdirectory. The inode
 * number is the one AUTOINCREMENT would give next. The triggers write the dentry (a name that is
 * taken breaks its UNIQUE key, which aborts the statement: nothing written, EEXIST), the inode,
 * the directory's times and link count, and the observer's row (InlineRecorders.node, the
 * journal's). RETURNING hands back the number, mode and group, and the directory's row as the
 * read found it: with the triggers' change applied here, it is noted as written (rows.ts
 * noteWritten), so the directory's attributes the FUSE server hands the kernel next (it asks
 * after every create) need no read of their own.
 */
import { FsError } from '../../errors.js';
import { S_IFDIR, S_IFMT, S_IFREG, S_ISGID, type Attr, type Caller } from '../../types.js';
import type { FsContext } from '../context.js';
import type { FsMutation } from '../mutation.js';
import { noteWritten, rememberChunks } from '../rows.js';
import { now } from '../time.js';
import { NEXT_INO } from './create-alone.js';
import { getScratch, registerScratch, scratchTable, type ScratchTable } from './scratch.js';

/** the directory's columns as the insert's read found them, before its triggers changed its row */
const PARENT = ['pmode', 'pnlink', 'puid', 'pgid', 'psize', 'prdev', 'patime', 'patime_nsec'];
const FIXED = ['k', 'ino', 'parent', 'name', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'sec', 'nsec', ...PARENT];

const MADE: ScratchTable = {
  name: 'agentfs_made',
  columns: FIXED,
  triggers: (table, observerSql) => `
    CREATE TEMP TRIGGER IF NOT EXISTS ${table}_all AFTER INSERT ON ${table}
    BEGIN
      DELETE FROM ${table} WHERE k < NEW.k;
      -- first: a name that is taken ends the statement before anything else is written
      INSERT INTO fs_dentry (name, parent_ino, ino) VALUES (NEW.name, NEW.parent, NEW.ino);
      INSERT INTO fs_inode (ino, mode, nlink, uid, gid, size, atime, mtime, ctime, rdev, atime_nsec, mtime_nsec, ctime_nsec)
        VALUES (NEW.ino, NEW.mode, NEW.nlink, NEW.uid, NEW.gid, 0, NEW.sec, NEW.sec, NEW.sec, NEW.rdev, NEW.nsec, NEW.nsec, NEW.nsec);
      -- as touchDir: a subdirectory adds a link; another implementation's directories may have 1
      UPDATE fs_inode SET nlink = MAX(nlink + (NEW.mode & ${S_IFMT} = ${S_IFDIR}), 2),
        mtime = NEW.sec, mtime_nsec = NEW.nsec, ctime = NEW.sec, ctime_nsec = NEW.nsec
        WHERE ino = NEW.parent;
      ${observerSql}
    END;`,
  // ?1 parent, ?2 name, ?3 mode, ?4 nlink, ?5 uid, ?6 gid, ?7 rdev, ?8/?9 the time, then the observer's values
  insert: (table, observer) => `INSERT INTO temp.${table} (${[...FIXED, ...observer].join(', ')})
    SELECT NULL, ${NEXT_INO}, ?1, ?2,
      CASE WHEN p.mode & ${S_ISGID} AND ?3 & ${S_IFMT} = ${S_IFDIR} THEN ?3 | ${S_ISGID} ELSE ?3 END,
      ?4, ?5, CASE WHEN p.mode & ${S_ISGID} THEN p.gid ELSE ?6 END, ?7, ?8, ?9,
      p.mode, p.nlink, p.uid, p.gid, p.size, p.rdev, p.atime, p.atime_nsec${observer.map((_, i) => `, ?${10 + i}`).join('')}
    FROM fs_inode p WHERE p.ino = ?1 AND p.mode & ${S_IFMT} = ${S_IFDIR}
    RETURNING ino, mode, gid, ${PARENT.join(', ')}`,
  returning: true,
};
registerScratch(MADE, (ctx) => (ctx.observer && !ctx.observer.inline?.node ? [] : [ctx.observer?.inline?.node]));

/**
 * Makes the node `name` (checked by the caller) in `parent` in one statement; undefined when
 * nothing was written: the parent is no directory (the caller's route says which error), or this
 * route cannot be taken here (no transaction open, an observer that cannot record this way, a
 * database the triggers cannot serve). EEXIST when the name is taken.
 */
export function makeAlone(
  ctx: FsContext, op: 'mkdir' | 'mknod' | 'create', parent: number, name: string, mode: number, rdev: number, caller: Caller,
): Attr | undefined {
  if (name === '.' || name === '..') return undefined; // the transaction route's checkNotDot
  const inline = ctx.observer?.inline?.node;
  if (ctx.observer && !inline) return undefined;
  const scratch = scratchTable(ctx, MADE, inline);
  if (!scratch) return undefined;
  const type = mode & S_IFMT;
  const nlink = type === S_IFDIR ? 2 : 1;
  const m: FsMutation = { op, ino: 0, parent, name, mode, uid: caller.uid, gid: caller.gid };
  const extra = inline ? inline.values(m) : [];
  if (!extra) return undefined;
  const t = now();
  let r: unknown[] | undefined;
  try {
    r = getScratch(ctx, scratch, [parent, name, mode, nlink, caller.uid, caller.gid, rdev, t.sec, t.nsec, ...extra]);
  } catch (e) {
    // the dentry's UNIQUE (parent_ino, name): the only unique key its triggers can break first
    if (e instanceof Error && /UNIQUE constraint failed: fs_dentry/.test(e.message)) throw new FsError('EEXIST', op, name);
    throw e;
  }
  if (!r) return undefined;
  const [ino, madeMode, gid, pmode, pnlink, puid, pgid, psize, prdev, patime, patimeNsec] = r as number[];
  if (ctx.nextIno !== undefined && ino >= ctx.nextIno) ctx.nextIno = ino + 1; // create-alone.ts proposes past it
  if (type === S_IFREG) rememberChunks(ctx, ino, 0, t, 0);
  m.ino = ino;
  m.mode = madeMode;
  m.gid = gid;
  inline?.recorded(m);
  noteWritten(ctx, { ino, mode: madeMode, nlink, uid: caller.uid, gid, size: 0, rdev, atime: t.sec, atime_nsec: t.nsec, mtime: t.sec, mtime_nsec: t.nsec, ctime: t.sec, ctime_nsec: t.nsec });
  // the directory as the trigger left it (its UPDATE above)
  noteWritten(ctx, {
    ino: parent, mode: pmode, nlink: Math.max(pnlink + (type === S_IFDIR ? 1 : 0), 2), uid: puid, gid: pgid, size: psize, rdev: prdev,
    atime: patime, atime_nsec: patimeNsec, mtime: t.sec, mtime_nsec: t.nsec, ctime: t.sec, ctime_nsec: t.nsec,
  });
  return {
    ino, mode: madeMode, nlink, uid: caller.uid, gid, size: 0, rdev, blksize: 4096, blocks: 0,
    atime: t, mtime: { ...t }, ctime: { ...t },
  };
}
