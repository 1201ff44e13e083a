/**
 * A new file with content of at most one chunk as ONE self-committing statement, no BEGIN and no
 * COMMIT around it: PathFs.writeFile's quickest route (InodeFs.createWhole). An insert into the
 * per-connection view temp.agentfs_file_create runs a trigger that writes the rows the
 * transaction route writes (the directory's times, the inode, its dentry, its chunk) and the
 * observer's own (the journal's, InlineRecorder), so an SDK writeFile costs about what its rows
 * cost: each statement run from JavaScript costs some microseconds besides its SQLite work.
 *
 * The directory was looked up before, maybe long before (PathFs keeps the directories it wrote
 * to), outside the write lock. The statement checks, under the lock, that it is still the one
 * the path names: walking the path down from the root, a dentry per component, must end at its
 * inode; its mode, owner and group must be as seen; the dentry's UNIQUE key says whether the
 * name is free. Any of these failing aborts the statement, which then wrote
 * nothing, and the caller takes the transaction route, which looks again under the lock.
 *
 * The inode number is proposed by this process (the one after the last it knows of) and checked
 * in the statement to be past every number given so far, as AUTOINCREMENT would choose it; when
 * another process took it, the statement aborts and runs once more with a number read afresh.
 * The statement returns nothing and runs to its end (run()): a RETURNING row read with get()
 * leaves it unfinished, and SQLite runs its WAL checkpoints only after a statement that
 * finished, so the WAL would grow without bound.
 */
import { ROOT_INO, S_IFDIR, S_IFMT, S_IFREG, S_ISGID, type Attr, type Caller } from '../../types.js';
import type { FsContext } from '../context.js';
import { INLINE_STALE, type FsMutation } from '../mutation.js';
import { checkName } from '../names.js';
import { rememberChunks } from '../rows.js';
import { now } from '../time.js';

/** what the trigger raises when the directory is not the one looked up */
export const DIR_CHANGED = 'agentfs: directory changed since its lookup';
/** what it raises when the proposed inode number is not past every one given */
export const INO_TAKEN = 'agentfs: inode number taken';
/** the next inode number AUTOINCREMENT would give (a spec database has fs_inode's sequence row: the root) */
export const NEXT_INO = `max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'fs_inode'), 0), COALESCE((SELECT max(ino) FROM fs_inode), 0)) + 1`;

const FILE_COLUMNS = ['ino', 'parent', 'name', 'mode', 'uid', 'gid', 'size', 'sec', 'nsec', 'data', 'pmode', 'puid', 'pgid'];

/** The view and its trigger, for an observer adding `extra` columns and SQL. */
function shortcutSql(columns: readonly string[], extraSql: string): string[] {
  return [
    `CREATE TEMP VIEW IF NOT EXISTS agentfs_file_create AS SELECT ${columns.map((c) => `NULL AS ${c}`).join(', ')}`,
    `CREATE TEMP TRIGGER IF NOT EXISTS agentfs_file_creating INSTEAD OF INSERT ON agentfs_file_create
    BEGIN
      SELECT RAISE(ABORT, '${DIR_CHANGED}') WHERE NOT NEW.dir_seen;
      -- past the sequence (a spec database always has its row: the root is inode 1); a number
      -- still in use without it breaks the primary key, which says the same
      SELECT RAISE(ABORT, '${INO_TAKEN}') WHERE NEW.ino <= (SELECT seq FROM sqlite_sequence WHERE name = 'fs_inode');
      -- a name that is taken (an overwrite) fails before anything else is written
      INSERT INTO fs_dentry (name, parent_ino, ino) VALUES (NEW.name, NEW.parent, NEW.ino);
      -- nlink as touchDir leaves it: another implementation's directories may have 1 (agentfs-sdk).
      -- The times were taken before the statement waited for the lock: a directory changed after
      -- them (its ctime later) would see its times go back, so the transaction route stamps it
      UPDATE fs_inode SET nlink = MAX(nlink, 2), mtime = NEW.sec, mtime_nsec = NEW.nsec, ctime = NEW.sec, ctime_nsec = NEW.nsec
        WHERE ino = NEW.parent AND mode = NEW.pmode AND uid = NEW.puid AND gid = NEW.pgid
          AND (ctime < NEW.sec OR (ctime = NEW.sec AND ctime_nsec <= NEW.nsec));
      SELECT RAISE(ABORT, '${DIR_CHANGED}') WHERE changes() = 0;
      INSERT INTO fs_inode (ino, mode, nlink, uid, gid, size, atime, mtime, ctime, rdev, atime_nsec, mtime_nsec, ctime_nsec)
        VALUES (NEW.ino, NEW.mode, 1, NEW.uid, NEW.gid, NEW.size, NEW.sec, NEW.sec, NEW.sec, 0, NEW.nsec, NEW.nsec, NEW.nsec);
      INSERT INTO fs_data (ino, chunk_index, data) SELECT NEW.ino, 0, NEW.data WHERE NEW.size > 0;
      ${extraSql}
    END`,
  ];
}

/** deeper directories take the transaction route (each level is one more table in the join; SQLite allows 64) */
const MAX_DEPTH = 32;

/**
 * The insert for a directory `depth` components below the root. dir_seen walks the path down
 * from the root, a dentry per component (each bound after the columns' values, then the
 * directory's inode): one flat join, a dentry a level, each found by its (parent_ino, name) key,
 * much cheaper than a recursive walk up. Not nested subqueries: SQLite's parser stack overflows
 * at 11 levels of them.
 */
function insertSql(columns: readonly string[], depth: number): string {
  let seen = '1';
  if (depth > 0) {
    const from = Array.from({ length: depth }, (_, i) => `fs_dentry d${i}`).join(', ');
    const walk = Array.from({ length: depth }, (_, i) => `d${i}.parent_ino = ${i === 0 ? ROOT_INO : `d${i - 1}.ino`} AND d${i}.name = ?`);
    seen = `EXISTS (SELECT 1 FROM ${from} WHERE ${walk.join(' AND ')} AND d${depth - 1}.ino = ?)`;
  }
  return `INSERT INTO temp.agentfs_file_create (${columns.join(', ')}) VALUES (${columns.slice(0, -1).map(() => '?').join(', ')}, ${seen})`;
}

/**
 * Creates `name` in `dir` (as looked up at `dirPath`, '/' for the root, no symlink on the way)
 * with `data` as its content, in one statement; the new attributes, 'taken' when the name is
 * taken, or undefined when this route cannot be taken for another reason: data of more than one
 * chunk, the view not made yet inside a transaction, an observer that cannot record this way, or
 * the directory not the one at dirPath as seen. Nothing was written unless attributes come back.
 */
export function createAlone(
  ctx: FsContext, dir: Attr, dirPath: string, name: string, mode: number, caller: Caller, data: Uint8Array,
): Attr | 'taken' | undefined {
  if (data.byteLength > ctx.chunkSize || (dir.mode & S_IFMT) !== S_IFDIR || ctx.store.readOnly) return undefined;
  const inline = ctx.observer?.inline?.create;
  if (ctx.observer && !inline) return undefined;
  const comps = dirPath.split('/').filter((c) => c !== '');
  const insert = statement(ctx, comps.length);
  if (!insert) return undefined;
  try {
    checkName(name, 'create');
  } catch {
    return undefined; // the transaction route's lookup says what is wrong with it, as it always did
  }
  mode = S_IFREG | (mode & 0o7777);
  // BSD group semantics on setgid directories, as makeNode (the trigger checks dir.mode still holds)
  const gid = dir.mode & S_ISGID ? dir.gid : caller.gid;
  const size = data.byteLength;
  // the path as the statement checks it under the lock: the journal's cache of directory paths
  // may not know yet of another process's rename
  const path = comps.length ? `/${comps.join('/')}/${name}` : `/${name}`;
  const m: FsMutation = { op: 'create', ino: 0, path, parent: dir.ino, name, mode, uid: caller.uid, gid, written: size > 0 ? size : undefined };
  const extra = inline ? inline.values(m) : [];
  if (!extra) return undefined;
  const t = now();
  const content = size > 0 ? Buffer.from(data.buffer, data.byteOffset, size) : null;
  // the values in one array, passed as one: libsql then binds it as it is (spread out, each call
  // copies them twice), the inode number put in first by each try
  const values: unknown[] = [0, dir.ino, name, mode, caller.uid, gid, size, t.sec, t.nsec, content, dir.mode, dir.uid, dir.gid];
  for (const v of extra) values.push(v);
  if (comps.length) {
    for (const c of comps) values.push(c);
    values.push(dir.ino);
  }
  const made = withNextIno(ctx, (ino) => {
    values[0] = ino;
    ctx.store.autocommit(() => insert.run(values));
    return true;
  });
  if (made === 'taken') return 'taken';
  if (made === 'refused') return undefined;
  m.ino = made;
  rememberChunks(ctx, m.ino, size, t, size > 0 ? 1 : 0);
  inline?.recorded(m);
  return {
    ino: m.ino, mode, nlink: 1, uid: caller.uid, gid, size, rdev: 0, blksize: 4096, blocks: Math.ceil(size / 512),
    atime: t, mtime: { ...t }, ctime: { ...t },
  };
}

/**
 * Runs `insert`, a statement making an inode whose number this process proposes (the one after
 * the last it knows of, checked in the statement to be past every number given), and once more
 * with a number read afresh when another process took it. The number given; 'taken' when the
 * name was; 'refused' when the statement wrote nothing for another reason (insert false: its
 * scratch table gone; the directory changed; the number taken twice).
 */
export function withNextIno(ctx: FsContext, insert: (ino: number) => boolean): number | 'taken' | 'refused' {
  for (let tries = 0; ; tries++) {
    const ino = ctx.nextIno ?? nextIno(ctx);
    try {
      if (!insert(ino)) return 'refused';
      ctx.nextIno = ino + 1;
      return ino;
    } catch (e) {
      const why = refusal(e);
      if (why === undefined) throw e;
      if (why === 'taken') return 'taken';
      if (why === 'changed' || tries > 0) return 'refused';
      ctx.nextIno = undefined;
    }
  }
}

/** Why the statement refused, writing nothing: the inode number or the name was taken, or the directory changed. */
function refusal(e: unknown): 'ino' | 'taken' | 'changed' | undefined {
  if (!(e instanceof Error)) return undefined;
  if (e.message.includes(INO_TAKEN) || /UNIQUE constraint failed: fs_inode\.ino/.test(e.message)) return 'ino';
  if (e.message.includes(DIR_CHANGED) || e.message.includes(INLINE_STALE)) return 'changed';
  // the dentry's UNIQUE (parent_ino, name): the only unique key the statement can break first
  if (/UNIQUE constraint failed: fs_dentry/.test(e.message)) return 'taken';
  return undefined;
}

/** The number AUTOINCREMENT would give the next inode, as committed now. */
function nextIno(ctx: FsContext): number {
  const row = ctx.store.arrayStmt(`SELECT ${NEXT_INO}`).get() as [number];
  return Number(row[0]);
}

/**
 * The insert on this connection for a directory `depth` below the root; the view and trigger are
 * made on first use (outside a transaction: a rollback would take them back).
 */
function statement(ctx: FsContext, depth: number): { run(...args: unknown[]): unknown } | undefined {
  if (depth > MAX_DEPTH) return undefined;
  const inline = ctx.observer?.inline?.create;
  const columns = () => [...FILE_COLUMNS, ...(inline?.columns ?? []), 'dir_seen'];
  if (ctx.createAlone === undefined) {
    if (ctx.store.inTransaction) return undefined;
    try {
      for (const sql of shortcutSql(columns(), inline?.sql ?? '')) ctx.store.db.exec(sql);
      ctx.createAlone = [];
    } catch {
      ctx.createAlone = false; // a database this cannot serve (no sqlite_sequence): the transaction route
    }
  }
  if (!ctx.createAlone) return undefined;
  // the same string each time: the store finds its prepared statement without hashing a new one
  const sql = (ctx.createAlone[depth] ??= insertSql(columns(), depth));
  return ctx.store.stmt(sql);
}
