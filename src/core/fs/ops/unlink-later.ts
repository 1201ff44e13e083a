/**
 * Unlinks answered before they are written, then written sixteen (AGENTFS_FUSE_UNLINK_BATCH) to a
 * statement. A FUSE mount's `rm -rf` sends one UNLINK at a time, and the one statement of each
 * (unlink-alone.ts) costs ~16 µs of libsql, nearly all of it the statement's own (its RETURNING
 * row, its trigger programs and their cursors), against ~4.5 µs a row when one insert carries
 * sixteen to the same triggers (ARCHITECTURE.md, the fifty-fourth session).
 *
 * Taken only inside a mount's open batch (Store.inBatch: the write lock is held, so no other
 * process writes meanwhile), for the last link of a file that nothing holds open, here or in
 * another live holder: the removal then frees the inode, whatever comes between. The checks
 * read the database with the earlier unlinks still pending (Store.quietly): they concern another
 * name, and a file's removal changes no other file's row, nor a directory's but for its times,
 * which are set here. Everything else that uses the store runs the pending ones first
 * (Store.deferWrites); so does the batch's commit, which fails with them if they fail (as a group
 * commit does: reported to the next fsync). What this process keeps in memory (the directory's
 * attributes, the lazy atime, the stored counts) is updated at the answer, as unlink-alone does.
 */
import type { Removal } from '../../types.js';
import { S_IFDIR, S_IFMT } from '../../types.js';
import type { FsContext } from '../context.js';
import { otherLiveHolder } from '../lifecycle.js';
import type { FsMutation } from '../mutation.js';
import { rowsPredictable, writtenRow } from '../rows.js';
import { now } from '../time.js';
import { scratchTable } from './scratch.js';
import { UNLINKED, dirAfterRemoval } from './unlink-alone.js';

/** the name's dentry, inode and directory as the checks need them (the directory's columns in unlink-alone's PARENT order) */
const CHECK = `SELECT d.id, d.ino, i.mode, i.nlink, p.mode, p.nlink, p.uid, p.gid, p.size, p.rdev, p.atime, p.atime_nsec
  FROM fs_dentry d JOIN fs_inode i ON i.ino = d.ino LEFT JOIN fs_inode p ON p.ino = d.parent_ino
  WHERE d.parent_ino = ? AND d.name = ?`;
/** the same without the directory, whose row the last removal there wrote (a listing's unlinks: 15 of 16 in `rm -rf`) */
const CHECK_NAME = `SELECT d.id, d.ino, i.mode, i.nlink FROM fs_dentry d JOIN fs_inode i ON i.ino = d.ino
  WHERE d.parent_ino = ? AND d.name = ?`;

export interface LaterUnlinks {
  /** pending at most: the one that makes this many writes them all (a statement for each count up to it) */
  readonly batch: number;
  /** the pending ones, in order: their mutations (the observer's), and their rows' values one after another */
  readonly pending: FsMutation[];
  readonly values: unknown[];
  /** `${parent}/${name}` of each pending one */
  readonly names: Set<string>;
  /** writes the pending ones (given to Store.deferWrites) */
  readonly write: () => void;
  /** the insert of n of them, by table and n (the same string each time: its hash is kept) */
  readonly sql: Map<string, string>;
}

/** Unlinks of this connection's mount may be answered first (InodeFs.answerUnlinksFirst). */
export function answerUnlinksFirst(ctx: FsContext, batch: number): void {
  if (ctx.laterUnlinks) return;
  const later: LaterUnlinks = { batch, pending: [], values: [], names: new Set(), write: () => writePending(ctx), sql: new Map() };
  ctx.laterUnlinks = later;
  // a batch rolled back takes the pending ones with it (Store.forgetProvisional drops its call)
  ctx.store.onRollback((depth) => {
    if (depth > 1) return;
    later.pending.length = 0;
    later.values.length = 0;
    later.names.clear();
  });
}

/**
 * Answers the unlink of non-directory `name` in `parent` (checked by the caller) and leaves its
 * writing for later; undefined, having changed nothing, when it cannot be left (see the top).
 */
export function unlinkLater(ctx: FsContext, parent: number, name: string): Removal | undefined {
  const later = ctx.laterUnlinks;
  if (!later || !ctx.store.inBatch) return undefined;
  const inline = ctx.observer?.inline?.metadata;
  if (ctx.observer && !inline) return undefined;
  const key = `${parent}/${name}`;
  if (later.names.has(key)) return undefined;
  if (!scratchTable(ctx, UNLINKED, inline)) return undefined;
  const out = ctx.store.quietly(() => {
    const known = writtenRow(ctx, parent, true);
    const r = ctx.store.arrayStmt(known ? CHECK_NAME : CHECK).get(parent, name) as (number | null)[] | undefined;
    if (!r) return undefined;
    const [dentry, ino, mode, nlink] = r as number[];
    const dir = known ? [known.mode, known.nlink, known.uid, known.gid, known.size, known.rdev, known.atime, known.atime_nsec] : r.slice(4);
    if ((mode & S_IFMT) === S_IFDIR || nlink !== 1 || dir[0] === null) return undefined;
    if (ctx.openCount.has(ino) || otherLiveHolder(ctx) !== undefined) return undefined;
    // the directory's attributes come from its row as read (not from another program's trigger)
    if (!rowsPredictable(ctx)) return undefined;
    const m: FsMutation = { op: 'unlink', ino: 0, parent, name };
    const extra = inline ? inline.values(m) : [];
    if (!extra) return undefined;
    const t = now();
    // as unlink-alone's purge: its rows go with the pending statement
    ctx.blocksToStore.delete(ino);
    ctx.atime.forget(ino); // SQLite may hand the number to the next inode
    if (ctx.fresh === ino) ctx.fresh = 0;
    m.ino = ino;
    later.pending.push(m);
    later.values.push(dentry, ino, mode, parent, name, t.sec, t.nsec, ...extra);
    later.names.add(key);
    ctx.store.deferWrites(later.write);
    return { ino, parent: dirAfterRemoval(ctx, parent, t, dir as number[]), links: 0, gone: true };
  });
  if (later.pending.length >= later.batch) ctx.store.runDeferred();
  return out;
}

/** Writes the pending unlinks, in their order, through unlink-alone's table and triggers. */
function writePending(ctx: FsContext): void {
  const later = ctx.laterUnlinks!;
  const pending = later.pending.splice(0);
  const values = later.values.splice(0);
  later.names.clear();
  if (pending.length === 0) return;
  const inline = ctx.observer?.inline?.metadata;
  const scratch = scratchTable(ctx, UNLINKED, inline);
  if (!scratch) throw new Error(`agentfs: ${pending.length} unlinks answered could not be written (no ${UNLINKED.name} table)`);
  const key = `${scratch.table} ${pending.length}`;
  let sql = later.sql.get(key);
  if (sql === undefined) later.sql.set(key, (sql = insertSql(scratch.table, inline?.columns ?? [], pending.length)));
  const changes = Number(ctx.store.stmt(sql).run(values).changes);
  if (changes !== pending.length) throw new Error(`agentfs: ${pending.length - changes} of ${pending.length} unlinks answered found nothing to remove`);
  for (const m of pending) inline?.recorded(m);
}

/**
 * The insert of n pending unlinks into `table` (unlink-alone's triggers do the rest): each row
 * the dentry, inode, mode, directory, name, time and the observer's values; the last link, held
 * by nobody, so purged. VALUES hands its rows over in order, as they were answered.
 */
function insertSql(table: string, observer: readonly string[], n: number): string {
  const row = `(${new Array(7 + observer.length).fill('?').join(', ')})`;
  const obs = observer.map((_, i) => `, column${8 + i}`).join('');
  return `INSERT INTO temp.${table} (${[...UNLINKED.columns, ...observer].join(', ')})
    SELECT NULL, column1, column2, column3, 1, 0, 1, column4, column5, column6, column7, NULL, ${process.pid},
      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL${obs}
    FROM (VALUES ${new Array(n).fill(row).join(', ')})`;
}
