import { FsError } from '../../errors.js';
import type { FsContext } from '../context.js';
import { getRowAndChunks, isDirMode, isRegMode, type InodeRow } from '../rows.js';
import { relatimeDue } from '../relatime.js';
import { now } from '../time.js';

/**
 * Reads up to `length` bytes at `offset` with one range query over the chunks. Missing chunks
 * (holes) and the missing tail of a short chunk read as zeros. Short only at end of file.
 */
export function read(ctx: FsContext, ino: number, offset: number, length: number): Buffer {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new FsError('EINVAL', 'read', undefined, 'invalid offset or length');
  }
  const cs = ctx.chunkSize;
  // the size and the chunks from one snapshot (rows.ts getRowAndChunks): chunks up to the
  // requested end, as the size is not known before
  const got = getRowAndChunks(ctx, ino, Math.floor(offset / cs), Math.floor((offset + Math.max(length, 1) - 1) / cs));
  if (!got) throw new FsError('ENOENT', 'read', undefined, `no such inode ${ino}`);
  const row = got.row;
  if (isDirMode(row.mode)) throw new FsError('EISDIR', 'read');
  if (!isRegMode(row.mode)) throw new FsError('EINVAL', 'read', undefined, 'not a regular file');
  const end = Math.min(row.size, offset + length);
  if (end <= offset) return Buffer.alloc(0);
  const out = Buffer.alloc(end - offset);
  for (const [index, chunk] of got.chunks) {
    const data = chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk);
    const chunkStart = index * cs;
    const from = Math.max(offset, chunkStart) - chunkStart;
    const to = Math.min(end, chunkStart + data.byteLength) - chunkStart;
    if (to > from) out.set(data.subarray(from, to), chunkStart + from - offset);
  }
  touchAtime(ctx, row);
  return out;
}

/** The new time waits for the next write (LazyAtime). */
export function touchAtime(ctx: FsContext, row: InodeRow): void {
  if (relatimeDue(row.atime, row.atime_nsec, row.mtime, row.mtime_nsec, row.ctime, row.ctime_nsec)) ctx.atime.note(row.ino, now());
}
