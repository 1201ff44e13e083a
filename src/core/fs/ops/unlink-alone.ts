/**
 * An unlink as ONE statement inside the caller's transaction (ops/scratch.ts): the transaction
 * route (ops/remove.ts) takes a savepoint and seven statements (the dentry's delete, the chunks',
 * the inode's, the directory's times, the journal row, the savepoint's pair).
 *
 * The statement inserts the file's dentry and inode, as found under the write lock, into a
 * scratch table (agentfs_unlinked_*); its triggers write what the transaction route writes: the
 * dentry deleted, the inode purged with its last link (chunks, stored st_blocks, symlink target,
 * overlay origin) or left as an orphan (open here, or maybe open in another live holder:
 * lifecycle.ts), else its link count less one; the directory's times; the observer's row
 * (InlineRecorders.metadata, the journal's).
 * What only this process knows goes in as values: the inodes open here and the other live holder.
 * No row inserted (no such name, a directory, a dentry without its inode) means nothing was
 * written, and the transaction route works out the error by reading, as it always did. RETURNING
 * hands back the row and the directory's as the insert's read found it; with the trigger's change
 * applied here, that is the directory's attributes the FUSE server hands the kernel (no read of
 * their own after the statement), unless another program's trigger may have changed them too
 * (rows.ts rowsPredictable): then they are read.
 */
import type { Attr, Removal, Timespec } from '../../types.js';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../../types.js';
import type { FsContext } from '../context.js';
import { otherLiveHolder } from '../lifecycle.js';
import type { FsMutation } from '../mutation.js';
import { getRow, noteWritten, rowsPredictable, rowToAttr, type InodeRow } from '../rows.js';
import { now } from '../time.js';
import { getScratch, registerScratch, scratchTable, type ScratchTable } from './scratch.js';

/** more open files than this here: the transaction route (the statement gets them as a list) */
const MAX_HELD = 64;

/** the directory's columns as the insert's read found them (null: no such inode), before its triggers changed its row */
const PARENT = ['pmode', 'pnlink', 'puid', 'pgid', 'psize', 'prdev', 'patime', 'patime_nsec'];
const FIXED = ['k', 'dentry', 'ino', 'mode', 'nlink', 'held', 'purge', 'parent', 'name', 'sec', 'nsec', 'holder', 'me', ...PARENT];

export const UNLINKED: ScratchTable = {
  name: 'agentfs_unlinked',
  columns: FIXED,
  triggers: (table, observerSql) => `
    CREATE TEMP TRIGGER IF NOT EXISTS ${table}_all AFTER INSERT ON ${table}
    BEGIN
      DELETE FROM ${table} WHERE k < NEW.k;
      DELETE FROM fs_dentry WHERE id = NEW.dentry;
      -- nlink as touchDir leaves it: another implementation's directories may have 1 (agentfs-sdk)
      UPDATE fs_inode SET nlink = MAX(nlink, 2), mtime = NEW.sec, mtime_nsec = NEW.nsec, ctime = NEW.sec, ctime_nsec = NEW.nsec
        WHERE ino = NEW.parent;
      ${observerSql}
    END;
    CREATE TEMP TRIGGER IF NOT EXISTS ${table}_last AFTER INSERT ON ${table} WHEN NEW.purge
    BEGIN
      DELETE FROM fs_data WHERE ino = NEW.ino AND NEW.mode & ${S_IFMT} = ${S_IFREG};
      DELETE FROM agentfs_fs_blocks WHERE ino = NEW.ino AND NEW.mode & ${S_IFMT} = ${S_IFREG};
      DELETE FROM fs_symlink WHERE ino = NEW.ino AND NEW.mode & ${S_IFMT} = ${S_IFLNK};
      DELETE FROM fs_origin WHERE delta_ino = NEW.ino;
      DELETE FROM fs_inode WHERE ino = NEW.ino;
    END;
    CREATE TEMP TRIGGER IF NOT EXISTS ${table}_kept AFTER INSERT ON ${table} WHEN NOT NEW.purge
    BEGIN
      INSERT OR REPLACE INTO agentfs_fs_orphan (ino, pid)
        SELECT NEW.ino, CASE WHEN NEW.held THEN NEW.me ELSE NEW.holder END WHERE NEW.nlink <= 1;
      UPDATE fs_inode SET nlink = nlink - 1, ctime = NEW.sec, ctime_nsec = NEW.nsec WHERE ino = NEW.ino AND NEW.nlink >= 1;
    END;`,
  // ?1 parent, ?2 name, ?3 the other live holder (null: none), ?4/?5 the time, ?6 this process,
  // ?7 the inodes open here (',1,5,' or null), then the observer's values. Purged: the last link,
  // not open here and no other holder (lifecycle.ts lastLinkGone).
  insert: (table, observer) => `INSERT INTO temp.${table} (${[...FIXED, ...observer].join(', ')})
    SELECT NULL, id, ino, mode, nlink, held, nlink <= 1 AND NOT held AND ?3 IS NULL, ?1, ?2, ?4, ?5, ?3, ?6,
      pmode, pnlink, puid, pgid, psize, prdev, patime, patime_nsec${observer.map((_, i) => `, ?${8 + i}`).join('')}
    FROM (SELECT d.id, d.ino, i.mode, i.nlink, ?7 IS NOT NULL AND instr(?7, ',' || d.ino || ',') > 0 AS held,
        p.mode AS pmode, p.nlink AS pnlink, p.uid AS puid, p.gid AS pgid, p.size AS psize, p.rdev AS prdev,
        p.atime AS patime, p.atime_nsec AS patime_nsec
      FROM fs_dentry d JOIN fs_inode i ON i.ino = d.ino LEFT JOIN fs_inode p ON p.ino = d.parent_ino
      WHERE d.parent_ino = ?1 AND d.name = ?2 AND i.mode & ${S_IFMT} <> ${S_IFDIR})
    RETURNING ino, nlink, held, purge, ${PARENT.join(', ')}`,
  returning: true,
};
registerScratch(UNLINKED, (ctx) => (ctx.observer && !ctx.observer.inline?.metadata ? [] : [ctx.observer?.inline?.metadata]));

/**
 * Unlinks the non-directory `name` in `parent` (name checked by the caller) in one statement;
 * undefined when nothing was written: no such file (or a directory: the caller's route says
 * which error), or this route cannot be taken here (no transaction open, too many open files,
 * an observer that cannot record this way, a database the triggers cannot serve).
 */
export function unlinkAlone(ctx: FsContext, parent: number, name: string): Removal | undefined {
  if (ctx.openCount.size > MAX_HELD) return undefined;
  const inline = ctx.observer?.inline?.metadata;
  if (ctx.observer && !inline) return undefined;
  const scratch = scratchTable(ctx, UNLINKED, inline);
  if (!scratch) return undefined;
  const m: FsMutation = { op: 'unlink', ino: 0, parent, name };
  const extra = inline ? inline.values(m) : [];
  if (!extra) return undefined;
  const held = ctx.openCount.size ? `,${[...ctx.openCount.keys()].join(',')},` : null;
  const t = now();
  const r = getScratch(ctx, scratch, [parent, name, otherLiveHolder(ctx) ?? null, t.sec, t.nsec, process.pid, held, ...extra]);
  if (!r) return undefined;
  const [ino, nlink, wasHeld, purged, pmode, pnlink, puid, pgid, psize, prdev, patime, patimeNsec] = r as number[];
  if (purged) {
    ctx.blocksToStore.delete(ino); // its row went with it (the trigger): none to store again
    ctx.atime.forget(ino); // SQLite may hand the number to the next inode
    if (ctx.fresh === ino) ctx.fresh = 0;
  } else if (wasHeld && nlink <= 1) ctx.orphans.add(ino);
  m.ino = ino;
  inline?.recorded(m);
  const dir = pmode === null ? undefined : dirAfterRemoval(ctx, parent, t, [pmode, pnlink, puid, pgid, psize, prdev, patime, patimeNsec]);
  return { ino, parent: dir, links: Math.max(0, nlink - 1), gone: Boolean(purged) };
}

/**
 * The attributes of directory `parent` after a removal at t, from its columns (PARENT's order) as
 * read before: what the trigger's UPDATE leaves, unless another program's trigger may have
 * changed the row too (rowsPredictable), when they are read.
 */
export function dirAfterRemoval(ctx: FsContext, parent: number, t: Timespec, p: readonly number[]): Attr | undefined {
  const [pmode, pnlink, puid, pgid, psize, prdev, patime, patimeNsec] = p;
  if (!rowsPredictable(ctx)) {
    const row = getRow(ctx, parent);
    return row && rowToAttr(ctx, row);
  }
  const row: InodeRow = {
    ino: parent, mode: pmode, nlink: Math.max(pnlink, 2), uid: puid, gid: pgid, size: psize, rdev: prdev,
    atime: patime, atime_nsec: patimeNsec, mtime: t.sec, mtime_nsec: t.nsec, ctime: t.sec, ctime_nsec: t.nsec,
  };
  noteWritten(ctx, row);
  return rowToAttr(ctx, ctx.atime.apply({ ...row }));
}
