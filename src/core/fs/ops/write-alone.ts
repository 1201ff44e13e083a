/**
 * A write of whole chunks as they will be stored (one, or several of up to 128 KiB in all), as
 * ONE statement inside the caller's transaction (ops/scratch.ts): the transaction route
 * (write.ts) takes a savepoint and, for such a write, a statement a chunk besides the inode's
 * update, the journal row of a new write burst and the row's read. Every small file `tar x`, a
 * compiler or an editor writes through a mount is one such write, and so is each write of cp
 * (128 KiB from a file's start).
 *
 * Whole chunks: the write starts at a chunk's start and ends at a chunk's end, or at or past the
 * file's end, so nothing of a chunk is kept and nothing is read (write.ts merges a partial chunk
 * with what it read). The row is read first, as on the other route (no write before the checks,
 * so nothing to undo when one refuses); then the data, the new size and times go into a scratch
 * view (agentfs_written_*; a view stores nothing, and the data may be a MiB), whose trigger cuts
 * the data into its chunks, stores them and the inode's size and times, and writes the
 * observer's row (InlineRecorders.write, the journal's first row of a burst), whose id it keeps
 * in a side table for the burst's totals. A write that joins a burst already recorded writes no
 * row: it takes the view with no recorder, and the observer is told as usual.
 */
import type { Caller } from '../../types.js';
import { notify, type FsContext } from '../context.js';
import type { FsMutation } from '../mutation.js';
import { isRegMode, knownChunks, noteWritten, rememberChunks, type InodeRow } from '../rows.js';
import { setIdBitsToDrop } from '../set-id.js';
import { now } from '../time.js';
import { insertOf, keptRow, registerScratch, runScratch, scratchTable, type ScratchTable } from './scratch.js';

const FIXED = ['ino', 'idx', 'chunks', 'cs', 'data', 'size', 'sec', 'nsec', 'offset', 'length'];

/**
 * More than one chunk and more bytes than this in one write (cp writes 128 KiB): the transaction
 * route. Each chunk's substr() of the bound data costs in proportion to the data's size, so
 * chunks × bytes is what grows: measured in one statement against a statement a chunk (4 KiB
 * chunks), 8 chunks 13 against 50 µs, 32 chunks 57 against 348, 64 about even, 128 and 256 (a
 * MiB, what the kernel hands over of a larger write) two to three times slower; and the hostile
 * pass measured 32 chunks of 1 MiB 466 against 105 ms. One chunk of any size costs one substr().
 */
const MAX_BYTES = 128 * 1024;

const WRITTEN: ScratchTable = {
  name: 'agentfs_written',
  columns: FIXED,
  view: true,
  triggers: (table, observerSql) => `
    ${keptRow.table(table)}
    CREATE TEMP TRIGGER IF NOT EXISTS ${table}_all INSTEAD OF INSERT ON ${table}
    BEGIN
      ${storeChunks('NEW.idx')}
      UPDATE fs_inode SET size = NEW.size, mtime = NEW.sec, mtime_nsec = NEW.nsec, ctime = NEW.sec, ctime_nsec = NEW.nsec
        WHERE ino = NEW.ino;
      ${observerSql}
      ${observerSql ? keptRow.keep(table) : ''}
    END;`,
  insert: (table, observer) => insertOf(table, [...FIXED, ...observer]),
  readBack: keptRow.read,
};

/**
 * A trigger's statement storing NEW.data as chunks of NEW.cs bytes of NEW.ino from chunk `first`
 * on. NEW.chunks: a JSON array of as many elements as chunks (chunkList), whose keys number them.
 */
export function storeChunks(first: string): string {
  return `INSERT OR REPLACE INTO fs_data (ino, chunk_index, data)
        SELECT NEW.ino, ${first} + c.key, substr(NEW.data, c.key * NEW.cs + 1, NEW.cs) FROM json_each(NEW.chunks) c;`;
}

// its two tables: a write that starts a burst records it, one that joins it does not
registerScratch(WRITTEN, (ctx) => {
  const inline = ctx.observer?.inline?.write;
  return ctx.observer && !inline ? [] : inline ? [undefined, inline] : [undefined];
});

/** '[0,0,...]' with n elements, made once for each n (storeChunks' NEW.chunks) */
const chunkLists: string[] = [];
export const chunkList = (n: number): string => (chunkLists[n] ??= `[${Array(n).fill(0).join(',')}]`);

/**
 * Writes `src` at `offset` into the file whose row (as this transaction sees it) is `row`, in one
 * statement; the bytes written, or undefined when this route does not take it (nothing written):
 * not whole chunks, several of more than 128 KiB, a chunk to pad before them, set-id bits to
 * drop, no transaction open, an observer that cannot record this way.
 */
export function writeAlone(ctx: FsContext, row: InodeRow, offset: number, src: Buffer, caller?: Caller): number | undefined {
  const cs = ctx.chunkSize;
  const len = src.byteLength;
  const first = Math.floor(offset / cs);
  const end = offset + len;
  const last = Math.floor((end - 1) / cs);
  if (!isRegMode(row.mode) || len === 0 || offset !== first * cs || (last > first && len > MAX_BYTES)) return undefined;
  // the last chunk written is full, or the file's last after the write (it ends at the write's end)
  const newSize = Math.max(row.size, end);
  if (end % cs !== 0 && newSize !== end) return undefined;
  // a last chunk before these, not full: write.ts pads it
  if (row.size > 0 && Math.floor((row.size - 1) / cs) < first && row.size % cs !== 0) return undefined;
  if (setIdBitsToDrop(row, caller, false)) return undefined;
  const ino = row.ino;
  const m: FsMutation = { op: 'write', ino, offset, length: len, size: newSize };
  const inline = ctx.observer?.inline?.write;
  if (ctx.observer && !inline) return undefined;
  // a write joining its burst writes no row: the view without the recorder, then the observer
  const joins = inline?.joins(m) ?? true;
  const recorder = joins ? undefined : inline;
  const scratch = scratchTable(ctx, WRITTEN, recorder);
  if (!scratch) return undefined;
  const extra = recorder ? recorder.values(m) : [];
  if (!extra) return undefined;
  const chunksBefore = knownChunks(ctx, row);
  const t = now();
  // an insert into a view counts no rows: undefined only when the view went with a rollback
  const args = [ino, first, chunkList(last - first + 1), cs, src, newSize, t.sec, t.nsec, offset, len, ...extra];
  if (runScratch(ctx, scratch, args) === undefined) return undefined;
  noteWritten(ctx, { ...row, size: newSize, mtime: t.sec, mtime_nsec: t.nsec, ctime: t.sec, ctime_nsec: t.nsec });
  // chunks 0..n-1 before and first..last written, with no gap between: 0..max(n, last+1)-1 now
  if (chunksBefore !== undefined && first <= chunksBefore) rememberChunks(ctx, ino, newSize, t, Math.max(chunksBefore, last + 1));
  if (recorder) {
    const [id] = scratch.read!.get() as [number];
    recorder.recorded(m, id);
  } else notify(ctx, m);
  return len;
}
