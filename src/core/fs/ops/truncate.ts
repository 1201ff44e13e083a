import type { Timespec } from '../../types.js';
import type { FsContext } from '../context.js';
import { rememberChunks, type InodeRow } from '../rows.js';
import { padChunk } from './write.js';

/**
 * Sets a regular file's size. Down: chunks past the end go, the new last chunk is trimmed.
 * Up: the old last chunk is padded with zeros (to the full chunk size if it is no longer last);
 * the rest stays a hole.
 */
export function truncateData(ctx: FsContext, row: InodeRow, size: number, t: Timespec): void {
  const s = ctx.store;
  const cs = ctx.chunkSize;
  const ino = row.ino;
  let emptied = false;
  if (size < row.size) {
    if (size === 0) {
      s.stmt('DELETE FROM fs_data WHERE ino = ?').run(ino);
      emptied = true;
    } else {
      const lastIdx = Math.floor((size - 1) / cs);
      const keep = size - lastIdx * cs;
      s.stmt('DELETE FROM fs_data WHERE ino = ? AND chunk_index > ?').run(ino, lastIdx);
      s.stmt('UPDATE fs_data SET data = substr(data, 1, ?) WHERE ino = ? AND chunk_index = ? AND length(data) > ?').run(keep, ino, lastIdx, keep);
    }
  } else if (size > row.size && row.size > 0) {
    const oldLast = Math.floor((row.size - 1) / cs);
    padChunk(ctx, ino, oldLast, Math.min(cs, size - oldLast * cs));
  }
  s.stmt('UPDATE fs_inode SET size = ?, mtime = ?, mtime_nsec = ?, ctime = ?, ctime_nsec = ? WHERE ino = ?').run(
    size, t.sec, t.nsec, t.sec, t.nsec, ino,
  );
  if (emptied) rememberChunks(ctx, ino, 0, t, 0); // a rewrite (O_TRUNC, then writes) needs no count
}
