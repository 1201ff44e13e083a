/**
 * pwrite at any offset, keeping chunks spec-shaped: every chunk is exactly chunk_size bytes
 * except the file's last. Whole chunks are replaced without reading them; only a partially
 * covered first/last chunk is read, merged and rewritten. Writing past EOF leaves the chunks in
 * between absent (a sparse hole) but pads the old last chunk, which is no longer last.
 */
import { FsError } from '../../errors.js';
import { notify, type FsContext } from '../context.js';
import { isDirMode, isRegMode, knownChunks, noteWritten, rememberChunks, requireRow, type InodeRow } from '../rows.js';
import { setIdBitsToDrop } from '../set-id.js';
import { now } from '../time.js';
import type { Caller } from '../../types.js';
import { setattr } from './setattr.js';
import { writeAlone } from './write-alone.js';

export const SQL_PUT_CHUNK = 'INSERT OR REPLACE INTO fs_data (ino, chunk_index, data) VALUES (?, ?, ?)';
export const SQL_GET_CHUNK = 'SELECT data FROM fs_data WHERE ino = ? AND chunk_index = ?';

/** Whole chunks stored per statement: a statement costs the driver ~2 µs besides its rows (a MiB is 256 chunks). */
const PUT_GROUP = 32;
const putManySql: string[] = [];

/**
 * Stores `pieces` as ino's chunks first, first+1, ...: PUT_GROUP of them a statement (measured
 * on 256 chunks: 25-30% less time than a statement each).
 */
export function putChunkRun(ctx: FsContext, ino: number, first: number, pieces: readonly Uint8Array[]): void {
  for (let i = 0; i < pieces.length; i += PUT_GROUP) {
    const n = Math.min(PUT_GROUP, pieces.length - i);
    const args: unknown[] = new Array(n * 3);
    for (let j = 0; j < n; j++) {
      args[3 * j] = ino;
      args[3 * j + 1] = first + i + j;
      args[3 * j + 2] = pieces[i + j];
    }
    const sql = n === 1 ? SQL_PUT_CHUNK : (putManySql[n] ??= `INSERT OR REPLACE INTO fs_data (ino, chunk_index, data) VALUES ${Array(n).fill('(?, ?, ?)').join(', ')}`);
    ctx.store.stmt(sql).run(...args);
  }
}

export function chunkBytes(v: ArrayBuffer | Uint8Array): Uint8Array {
  return v instanceof Uint8Array ? v : new Uint8Array(v);
}

/** Pads chunk `idx` with zeros up to `len` bytes if it is shorter. */
export function padChunk(ctx: FsContext, ino: number, idx: number, len: number): void {
  const r = ctx.store.stmt(SQL_GET_CHUNK).get(ino, idx) as { data: ArrayBuffer | Uint8Array } | undefined;
  if (!r) return;
  const data = chunkBytes(r.data);
  if (data.byteLength >= len) return;
  const buf = Buffer.alloc(len);
  buf.set(data, 0);
  ctx.store.stmt(SQL_PUT_CHUNK).run(ino, idx, buf);
}

/** Writes data at the end of the file as this transaction sees it; returns where it landed. */
export function append(ctx: FsContext, ino: number, data: Uint8Array, caller?: Caller): number {
  let at = 0;
  noteWrite(ctx, () => {
    const row = requireRow(ctx, ino, 'write');
    checkRange(row.size, data.byteLength);
    at = row.size;
    return writeRow(ctx, row, row.size, data, caller);
  });
  return at;
}

/** caller: the writer; one without privilege drops the file's set-id bits (set-id.ts). */
export function write(ctx: FsContext, ino: number, offset: number, data: Uint8Array, caller?: Caller): number {
  checkRange(offset, data.byteLength);
  if (ctx.store.inTransaction && data.byteLength > 0) {
    // whole chunks as one statement (write-alone.ts); the row, read under the lock, is the same
    // for the savepoint of the other route
    const row = requireRow(ctx, ino, 'write');
    const n = writeAlone(ctx, row, offset, Buffer.from(data.buffer, data.byteOffset, data.byteLength), caller);
    if (n !== undefined) return n;
    noteWrite(ctx, () => writeRow(ctx, row, offset, data, caller));
    return data.byteLength;
  }
  noteWrite(ctx, () => writeRow(ctx, requireRow(ctx, ino, 'write'), offset, data, caller));
  return data.byteLength;
}

/**
 * Runs a write in a transaction (a savepoint inside the caller's), then notes the row it left
 * (rows.ts noteWritten): the savepoint's release is a statement, so the note can only follow it.
 * The next write or stat then reads no row, and a mount hands the attributes to its native side
 * (a 1 MiB write goes this way).
 */
function noteWrite(ctx: FsContext, fn: () => InodeRow | undefined): void {
  const row = ctx.store.transaction(fn);
  if (row) noteWritten(ctx, row);
}

function checkRange(offset: number, len: number): void {
  if (!(offset >= 0) || (Number.isFinite(offset) && !Number.isInteger(offset))) throw new FsError('EINVAL', 'write', undefined, 'invalid offset');
  // beyond 2^53 a JavaScript number cannot hold every offset: too large for this filesystem
  if (!Number.isSafeInteger(offset)) throw new FsError('EFBIG', 'write');
  if (!Number.isSafeInteger(offset + len)) throw new FsError('EFBIG', 'write');
}

/**
 * The write itself, into the file whose row (as this transaction sees it) is `row`; returns the
 * row as the write left it (undefined: it changed nothing, or a setattr followed).
 */
function writeRow(ctx: FsContext, row: InodeRow, offset: number, data: Uint8Array, caller?: Caller): InodeRow | undefined {
  const ino = row.ino;
  const len = data.byteLength;
  if (isDirMode(row.mode)) throw new FsError('EISDIR', 'write');
  if (!isRegMode(row.mode)) throw new FsError('EINVAL', 'write', undefined, 'not a regular file');
  if (len === 0) return undefined;
  const s = ctx.store;
  const cs = ctx.chunkSize;
  const src = Buffer.from(data.buffer, data.byteOffset, len);
  const end = offset + len;
  const oldSize = row.size;
  const newSize = Math.max(oldSize, end);
  const first = Math.floor(offset / cs);
  const last = Math.floor((end - 1) / cs);
  const newLast = Math.floor((newSize - 1) / cs);
  const chunksBefore = knownChunks(ctx, row);
  if (oldSize > 0) {
    const oldLast = Math.floor((oldSize - 1) / cs);
    if (oldLast < first) padChunk(ctx, ino, oldLast, cs);
  }
  const put = s.stmt(SQL_PUT_CHUNK);
  // whole chunks (all but maybe the first and the last) go in runs, several a statement
  const whole: Buffer[] = [];
  let wholeFrom = first;
  for (let idx = first; idx <= last; idx++) {
    const chunkStart = idx * cs;
    const from = Math.max(offset, chunkStart) - chunkStart;
    const to = Math.min(end, chunkStart + cs) - chunkStart;
    const piece = src.subarray(chunkStart + from - offset, chunkStart + to - offset);
    const target = idx === newLast ? newSize - chunkStart : cs;
    if (from === 0 && to === target) {
      if (whole.length === 0) wholeFrom = idx;
      whole.push(piece);
      continue;
    }
    if (whole.length) putChunkRun(ctx, ino, wholeFrom, whole.splice(0));
    const chunk = Buffer.alloc(target);
    const old = s.stmt(SQL_GET_CHUNK).get(ino, idx) as { data: ArrayBuffer | Uint8Array } | undefined;
    if (old) {
      const bytes = chunkBytes(old.data);
      chunk.set(bytes.byteLength > target ? bytes.subarray(0, target) : bytes, 0);
    }
    chunk.set(piece, from);
    put.run(ino, idx, chunk);
  }
  if (whole.length) putChunkRun(ctx, ino, wholeFrom, whole);
  const t = now();
  s.stmt('UPDATE fs_inode SET size = ?, mtime = ?, mtime_nsec = ?, ctime = ?, ctime_nsec = ? WHERE ino = ?').run(
    newSize, t.sec, t.nsec, t.sec, t.nsec, ino,
  );
  // chunks 0..n-1 before and first..last written, with no gap between: 0..max(n, last+1)-1 now
  if (chunksBefore !== undefined && first <= chunksBefore) rememberChunks(ctx, ino, newSize, t, Math.max(chunksBefore, last + 1));
  if (ctx.observer) notify(ctx, { op: 'write', ino, offset, length: len, size: newSize });
  const drop = setIdBitsToDrop(row, caller, false);
  if (drop) {
    setattr(ctx, ino, { mode: row.mode & 0o7777 & ~drop });
    return undefined;
  }
  return { ...row, size: newSize, mtime: t.sec, mtime_nsec: t.nsec, ctime: t.sec, ctime_nsec: t.nsec };
}
