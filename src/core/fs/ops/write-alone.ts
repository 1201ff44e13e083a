/**
 * A write that is one whole chunk as it will be stored, as ONE statement inside the caller's
 * transaction (ops/scratch.ts): the transaction route (write.ts) takes a savepoint and, for such
 * a write, three statements besides the row's read (the chunk, the inode's size and times, the
 * journal row of a new write burst). Every small file `tar x`, a compiler or an editor writes
 * through a mount is one such write, and so is each page-aligned chunk of a larger one.
 *
 * Whole chunk: the write starts at a chunk's start and ends at its end, or at or past the file's
 * end within it, so nothing of the chunk is kept and nothing is read (write.ts merges a partial
 * chunk with what it read). The row is read first, as on the other route (no write before the
 * checks, so nothing to undo when one refuses); then the chunk, the new size and times go into a
 * scratch table (agentfs_written_*), whose trigger stores them and writes the observer's row
 * (InlineRecorders.write, the journal's first row of a burst). A write that joins a burst already
 * recorded writes no row: it takes the table with no recorder, and the observer is told as usual.
 */
import type { Caller } from '../../types.js';
import { notify, type FsContext } from '../context.js';
import type { FsMutation } from '../mutation.js';
import { isRegMode, knownChunks, rememberChunks, type InodeRow } from '../rows.js';
import { setIdBitsToDrop } from '../set-id.js';
import { now } from '../time.js';
import { runScratch, scratchTable, type ScratchTable } from './scratch.js';

const FIXED = ['k', 'ino', 'idx', 'data', 'size', 'sec', 'nsec', 'offset', 'length', 'row'];

const WRITTEN: ScratchTable = {
  name: 'agentfs_written',
  columns: FIXED,
  triggers: (table, observerSql) => `
    CREATE TEMP TRIGGER IF NOT EXISTS ${table}_all AFTER INSERT ON ${table}
    BEGIN
      DELETE FROM ${table} WHERE k < NEW.k;
      INSERT OR REPLACE INTO fs_data (ino, chunk_index, data) VALUES (NEW.ino, NEW.idx, NEW.data);
      UPDATE fs_inode SET size = NEW.size, mtime = NEW.sec, mtime_nsec = NEW.nsec, ctime = NEW.sec, ctime_nsec = NEW.nsec
        WHERE ino = NEW.ino;
      ${observerSql}
      ${observerSql ? `UPDATE ${table} SET row = last_insert_rowid() WHERE k = NEW.k; -- the observer's row, for its burst` : ''}
    END;`,
  // k and row NULL: the key, and the observer's row id the trigger writes
  insert: (table, observer) =>
    `INSERT INTO temp.${table} (${[...FIXED, ...observer].join(', ')}) VALUES (NULL${', ?'.repeat(FIXED.length - 2)}, NULL${', ?'.repeat(observer.length)})`,
  readBack: (table) => `SELECT row FROM temp.${table} WHERE k = last_insert_rowid()`,
};

/**
 * Writes `src` at `offset` into the file whose row (as this transaction sees it) is `row`, in one
 * statement; the bytes written, or undefined when this route does not take it (nothing written):
 * not one whole chunk, a chunk to pad before it, set-id bits to drop, no transaction open, an
 * observer that cannot record this way.
 */
export function writeAlone(ctx: FsContext, row: InodeRow, offset: number, src: Buffer, caller?: Caller): number | undefined {
  const cs = ctx.chunkSize;
  const len = src.byteLength;
  const idx = Math.floor(offset / cs);
  const end = offset + len;
  if (!isRegMode(row.mode) || len === 0 || offset !== idx * cs || len > cs) return undefined;
  // the stored chunk is the file's last after the write: it must end at the write's end
  const newSize = Math.max(row.size, end);
  if (len !== cs && newSize !== end) return undefined;
  // a last chunk before this one, not full: write.ts pads it
  if (row.size > 0 && Math.floor((row.size - 1) / cs) < idx && row.size % cs !== 0) return undefined;
  if (setIdBitsToDrop(row, caller, false)) return undefined;
  const ino = row.ino;
  const m: FsMutation = { op: 'write', ino, offset, length: len, size: newSize };
  const inline = ctx.observer?.inline?.write;
  if (ctx.observer && !inline) return undefined;
  // a write joining its burst writes no row: the table without the recorder, then the observer
  const joins = inline?.joins(m) ?? true;
  const recorder = joins ? undefined : inline;
  const scratch = scratchTable(ctx, WRITTEN, recorder);
  if (!scratch) return undefined;
  const extra = recorder ? recorder.values(m) : [];
  if (!extra) return undefined;
  const chunksBefore = knownChunks(ctx, row);
  const t = now();
  if (!runScratch(ctx, scratch, [ino, idx, src, newSize, t.sec, t.nsec, offset, len, ...extra])) return undefined;
  // chunks 0..n-1 before and idx written, with no gap between: 0..max(n, idx+1)-1 now
  if (chunksBefore !== undefined && idx <= chunksBefore) rememberChunks(ctx, ino, newSize, t, Math.max(chunksBefore, idx + 1));
  if (recorder) {
    const [id] = scratch.read!.get() as [number];
    recorder.recorded(m, id);
  } else notify(ctx, m);
  return len;
}
