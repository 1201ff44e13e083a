/**
 * fallocate(2) on the chunk store. Chunks are rows, so "allocating" cannot reserve anything:
 * mode 0 and KEEP_SIZE only check that the missing chunks would fit in the free space statfs
 * reports (ENOSPC otherwise) and, for mode 0, extend the size over a hole that reads as zeros.
 * PUNCH_HOLE and ZERO_RANGE zero the range: whole chunks are deleted (holes), partly covered
 * ones rewritten. Without this, glibc's posix_fallocate fallback wrote a byte per 4 KiB block
 * and every byte became a stored chunk.
 */
import { FsError } from '../../errors.js';
import { notify, type FsContext } from '../context.js';
import { isDirMode, isRegMode, requireRow, type InodeRow } from '../rows.js';
import { setIdBitsToDrop } from '../set-id.js';
import { now } from '../time.js';
import type { Caller } from '../../types.js';
import { setattr } from './setattr.js';
import { freeBytes } from './statfs.js';
import { truncateData } from './truncate.js';
import { SQL_GET_CHUNK, SQL_PUT_CHUNK, chunkBytes } from './write.js';

/** fallocate(2) mode bits (linux/falloc.h) */
export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
export const FALLOC_FL_ZERO_RANGE = 0x10;

/** caller: who asks; one without privilege drops the file's set-id bits, as a write does (set-id.ts). */
export function fallocate(ctx: FsContext, ino: number, mode: number, offset: number, length: number, caller?: Caller): void {
  const integral = (n: number) => !Number.isFinite(n) || Number.isInteger(n);
  if (!(offset >= 0) || !(length > 0) || !integral(offset) || !integral(length)) throw new FsError('EINVAL', 'fallocate', undefined, 'invalid offset or length');
  if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
    // collapse, insert, unshare, write-zeroes: no such thing on a chunk store
    throw new FsError('ENOTSUP', 'fallocate');
  }
  const punch = (mode & FALLOC_FL_PUNCH_HOLE) !== 0;
  const zero = (mode & FALLOC_FL_ZERO_RANGE) !== 0;
  if (punch && !(mode & FALLOC_FL_KEEP_SIZE)) throw new FsError('ENOTSUP', 'fallocate', undefined, 'PUNCH_HOLE needs KEEP_SIZE');
  if (punch && zero) throw new FsError('EINVAL', 'fallocate');
  const end = offset + length;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || !Number.isSafeInteger(end)) throw new FsError('EFBIG', 'fallocate');
  ctx.store.transaction(() => {
    const row = requireRow(ctx, ino, 'fallocate');
    if (isDirMode(row.mode)) throw new FsError('EISDIR', 'fallocate');
    if (!isRegMode(row.mode)) throw new FsError('EINVAL', 'fallocate', undefined, 'not a regular file');
    if (punch || zero) zeroRange(ctx, row, offset, Math.min(end, row.size));
    if (!punch) requireSpace(ctx, ino, offset, end);
    const t = now();
    const grows = !(mode & FALLOC_FL_KEEP_SIZE) && end > row.size;
    if (grows) {
      truncateData(ctx, row, end, t);
      if (ctx.observer) notify(ctx, { op: 'truncate', ino, size: end });
    } else if (punch || zero) {
      ctx.store.stmt('UPDATE fs_inode SET mtime = ?, mtime_nsec = ?, ctime = ?, ctime_nsec = ? WHERE ino = ?').run(t.sec, t.nsec, t.sec, t.nsec, ino);
    } else {
      ctx.store.stmt('UPDATE fs_inode SET ctime = ?, ctime_nsec = ? WHERE ino = ?').run(t.sec, t.nsec, ino);
    }
    if ((punch || zero) && ctx.observer && offset < row.size) {
      notify(ctx, { op: 'write', ino, offset, length: Math.min(end, row.size) - offset, size: grows ? end : row.size });
    }
    const drop = setIdBitsToDrop(row, caller, false);
    if (drop) setattr(ctx, ino, { mode: row.mode & 0o7777 & ~drop });
  });
}

/** ENOSPC unless the chunks of [offset, end) not stored yet fit in the free space statfs reports. */
function requireSpace(ctx: FsContext, ino: number, offset: number, end: number): void {
  const cs = ctx.chunkSize;
  const first = Math.floor(offset / cs);
  const last = Math.floor((end - 1) / cs);
  const stored = (ctx.store.arrayStmt('SELECT COUNT(*) FROM fs_data WHERE ino = ? AND chunk_index BETWEEN ? AND ?').get(ino, first, last) as [number])[0];
  const missing = (last - first + 1 - stored) * cs;
  // statfs's free blocks, without its inode count
  const free = Math.floor(freeBytes(ctx.store) / 4096) * 4096;
  if (missing > free) throw new FsError('ENOSPC', 'fallocate', undefined, `${missing} bytes requested, ${free} free`);
}

/** Zeros [from, to) of the file's data: covered chunks go (holes), edge chunks are rewritten. */
function zeroRange(ctx: FsContext, row: InodeRow, from: number, to: number): void {
  if (from >= to) return;
  const s = ctx.store;
  const cs = ctx.chunkSize;
  const ino = row.ino;
  const lastOfFile = Math.floor((row.size - 1) / cs);
  // whole chunks: from <= start and (to >= start + cs, or the file's last chunk up to EOF)
  const lo = Math.ceil(from / cs);
  const hi = to >= row.size ? lastOfFile : Math.floor(to / cs) - 1;
  if (lo <= hi) s.stmt('DELETE FROM fs_data WHERE ino = ? AND chunk_index BETWEEN ? AND ?').run(ino, lo, hi);
  for (const idx of new Set([Math.floor(from / cs), Math.floor((to - 1) / cs)])) {
    if (idx >= lo && idx <= hi) continue;
    const r = s.stmt(SQL_GET_CHUNK).get(ino, idx) as { data: ArrayBuffer | Uint8Array } | undefined;
    if (!r) continue; // a hole already
    const chunk = Buffer.from(chunkBytes(r.data));
    const start = idx * cs;
    const a = Math.max(from, start) - start;
    const b = Math.min(to, start + chunk.length) - start;
    if (b <= a) continue;
    chunk.fill(0, a, b);
    s.stmt(SQL_PUT_CHUNK).run(ino, idx, chunk);
  }
}
