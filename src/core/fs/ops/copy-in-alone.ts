/**
 * copyIn (ops/copy-in.ts) of a regular file or directory as ONE statement inside the caller's
 * transaction (ops/scratch.ts): the overlay's copy-up of a base file, with the append that caused
 * it (`echo >> f`), or of a directory, is then one statement where the transaction route took a dozen or more (the
 * overlay's savepoint, a lookup of the name, copyIn's savepoint, the directory's update, the
 * inode, its dentry, its chunk, the journal's row and the path it names, the overlay's three
 * origin rows). `run`'s edit of 500 files spent ~150 us of each first write in them.
 *
 * The statement inserts into a scratch view (agentfs_copied_*; a view stores nothing, and the
 * content may be 128 KiB) whose trigger writes the dentry first (a name that is taken breaks its
 * UNIQUE key: nothing written, and the caller takes the transaction route, which finds whose
 * copy it is), then the directory's link count and ctime (not its mtime: a copy-up changes no
 * listing), the inode, its chunks, the caller's own rows (CopyRows: the overlay's origin of the
 * copy) and the observer's row of the append (InlineRecorders.write), whose id it keeps in a
 * side table for the write burst's totals. The inode number is proposed as create-alone.ts does.
 */
import { S_IFDIR, S_IFMT, S_IFREG, type Attr } from '../../types.js';
import type { FsContext } from '../context.js';
import type { FsMutation, InlineRecorder, InlineWriteRecorder } from '../mutation.js';
import { checkName } from '../names.js';
import { rememberChunks } from '../rows.js';
import { setIdBitsToDrop } from '../set-id.js';
import { now } from '../time.js';
import type { CopySource } from './copy-in.js';
import { DIR_CHANGED, INO_TAKEN, withNextIno } from './create-alone.js';
import { insertOf, keptRow, runScratch, scratchTable, type ScratchTable, type WantedScratch } from './scratch.js';
import { chunkList, storeChunks } from './write-alone.js';

/**
 * Rows of the caller's own written by the copy's statement: `sql` reads the copy's number as
 * NEW.ino and `values` as NEW.<columns[i]>. The same sql, with the same columns, each time (a
 * scratch view is made for each sql).
 */
export interface CopyRows {
  readonly columns: readonly string[];
  readonly sql: string;
  readonly values: readonly unknown[];
}

/**
 * More bytes than this (content and append): the transaction route. As write-alone.ts measured,
 * each chunk's substr() of the bound data costs in proportion to the data's size.
 */
export const COPY_IN_ALONE_BYTES = 128 * 1024;

const FIXED = [
  'ino', 'parent', 'name', 'mode', 'nlink', 'uid', 'gid', 'size', 'asec', 'ansec', 'msec', 'mnsec', 'sec', 'nsec',
  'chunks', 'cs', 'data', 'offset', 'length',
];

const COPIED: ScratchTable = {
  name: 'agentfs_copied',
  columns: FIXED,
  view: true,
  // the caller's rows come first in the SQL given (see recorderWith), the observer's last: the
  // side table keeps last_insert_rowid(), the observer's row when it wrote one
  triggers: (table, sql) => `
    ${keptRow.table(table)}
    CREATE TEMP TRIGGER IF NOT EXISTS ${table}_all INSTEAD OF INSERT ON ${table}
    BEGIN
      SELECT RAISE(ABORT, '${INO_TAKEN}') WHERE NEW.ino <= (SELECT seq FROM sqlite_sequence WHERE name = 'fs_inode');
      INSERT INTO fs_dentry (name, parent_ino, ino) VALUES (NEW.name, NEW.parent, NEW.ino);
      -- a subdirectory adds a link (as touchDir; another implementation's directories may have 1)
      UPDATE fs_inode SET nlink = MAX(nlink + (NEW.nlink = 2), 2), ctime = NEW.sec, ctime_nsec = NEW.nsec
        WHERE ino = NEW.parent AND mode & ${S_IFMT} = ${S_IFDIR};
      SELECT RAISE(ABORT, '${DIR_CHANGED}') WHERE changes() = 0;
      INSERT INTO fs_inode (ino, mode, nlink, uid, gid, size, atime, mtime, ctime, rdev, atime_nsec, mtime_nsec, ctime_nsec)
        VALUES (NEW.ino, NEW.mode, NEW.nlink, NEW.uid, NEW.gid, NEW.size, NEW.asec, NEW.msec, NEW.sec, 0, NEW.ansec, NEW.mnsec, NEW.nsec);
      ${storeChunks('0')}
      ${sql}
      ${keptRow.keep(table)}
    END;`,
  insert: (table, columns) => insertOf(table, [...FIXED, ...columns]),
  readBack: keptRow.read,
};

/**
 * The scratch views a copy with rows of this shape takes (made ahead by InodeFs.prepareWrites):
 * a directory's or a plain file's (no observer's row), and a file's with its append when the
 * context's observer records that write here.
 */
export function copyInTables(ctx: FsContext, rows: CopyRowsShape): WantedScratch[] {
  const write = ctx.observer?.inline?.write;
  return [undefined, ...(write ? [write] : [])].map((observer) => ({ t: COPIED, recorder: recorderWith(rows, observer) }));
}

/** What names a copy's scratch view: the rows' columns and SQL (their values differ each copy). */
export type CopyRowsShape = Pick<CopyRows, 'columns' | 'sql'>;

/**
 * The recorder a scratch view is made for: the caller's rows, then the observer's (none when it
 * records nothing of this copy). One object per pair, so the view's name is worked out once.
 */
const combined = new WeakMap<object, Map<string, InlineRecorder>>();
const NO_OBSERVER = {};

function recorderWith(rows: CopyRowsShape | undefined, observer: InlineWriteRecorder | undefined): InlineRecorder | undefined {
  if (!rows) return observer;
  const byRows = combined.get(observer ?? NO_OBSERVER) ?? combined.set(observer ?? NO_OBSERVER, new Map()).get(observer ?? NO_OBSERVER)!;
  // keyed by the sql string itself: its hash is kept with it, where a key built each time is hashed anew
  const key = rows.sql;
  let r = byRows.get(key);
  if (!r) {
    r = {
      columns: [...rows.columns, ...(observer?.columns ?? [])],
      sql: `${rows.sql}\n${observer?.sql ?? ''}`,
      values: () => undefined, // never called: copyInAlone takes each part's values itself
      recorded: () => undefined,
    };
    byRows.set(key, r);
  }
  return r;
}

/** A file's content, with the data appended after it. */
function dataOf(src: CopySource, appended: Uint8Array | undefined): Buffer {
  const content = src.content ?? Buffer.alloc(0);
  if (!appended) return Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  return Buffer.concat([content, appended]);
}

/**
 * copyIn of a regular file or directory in one statement, with `rows` written by it; undefined
 * when this route does not take it (nothing written): another type, more than
 * COPY_IN_ALONE_BYTES, set-id bits that the append drops, no transaction open, an observer that
 * cannot record the append this way, the name taken, or the parent no directory (the
 * transaction route then finds out what to do or say).
 */
export function copyInAlone(ctx: FsContext, parent: number, name: string, src: CopySource, rows?: CopyRows): Attr | undefined {
  const type = src.mode & S_IFMT;
  if ((type !== S_IFREG && type !== S_IFDIR) || ctx.store.readOnly) return undefined;
  const dir = type === S_IFDIR;
  const copied = dir ? 0 : (src.content?.byteLength ?? 0);
  const appended = !dir && src.then && src.then.data.byteLength > 0 ? src.then : undefined;
  const size = copied + (appended?.data.byteLength ?? 0);
  if (size > COPY_IN_ALONE_BYTES) return undefined;
  try {
    checkName(name, 'copy-up');
  } catch {
    return undefined; // the transaction route says what is wrong with it
  }
  // a write by a writer without privilege drops set-id bits: the transaction route journals that chmod
  if (appended && setIdBitsToDrop(src, appended.caller, false)) return undefined;
  const t = now();
  const m: FsMutation = { op: 'write', ino: 0, parent, name, offset: copied, length: appended?.data.byteLength ?? 0, size };
  const inline = ctx.observer?.inline?.write;
  if (appended && ctx.observer && (!inline || inline.joins(m))) return undefined;
  const observer = appended ? inline : undefined;
  const scratch = scratchTable(ctx, COPIED, recorderWith(rows, observer));
  if (!scratch) return undefined;
  const extra = observer ? observer.values(m) : [];
  if (!extra) return undefined;
  const data = dir ? null : dataOf(src, appended?.data);
  const cs = ctx.chunkSize;
  const chunks = Math.ceil(size / cs);
  // a write moves mtime; a plain copy keeps the source's
  const mtime = appended ? t : src.mtime;
  const { atime } = src;
  const mode = type | (src.mode & 0o7777);
  const nlink = dir ? 2 : 1;
  const args = (ino: number) => [
    ino, parent, name, mode, nlink, src.uid, src.gid, size, atime.sec, atime.nsec, mtime.sec, mtime.nsec, t.sec, t.nsec,
    chunkList(chunks), cs, data, m.offset, m.length, ...(rows?.values ?? []), ...extra,
  ];
  const made = withNextIno(ctx, (ino) => runScratch(ctx, scratch, args(ino)) !== undefined);
  if (typeof made !== 'number') return undefined;
  m.ino = made;
  if (!dir) rememberChunks(ctx, m.ino, size, t, chunks, mtime);
  if (observer) {
    const [id] = scratch.read!.get() as [number];
    observer.recorded(m, id);
  }
  return {
    ino: m.ino, mode, nlink, uid: src.uid, gid: src.gid, size, rdev: 0, blksize: 4096,
    blocks: dir ? 0 : Math.ceil(size / 512), atime: { ...atime }, mtime: { ...mtime }, ctime: t,
  };
}
