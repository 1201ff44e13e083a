import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import { NAME_MAX, type StatFs } from '../../types.js';
import type { FsContext } from '../context.js';

const BSIZE = 4096;
/** Inodes cost a row, not a slot: report plenty free. */
const FREE_INODES = 1 << 30;

/**
 * Capacity as the host sees it: space used by the database plus what the host filesystem
 * under it still has free; inodes in use plus a large free count.
 */
export function statfs(ctx: FsContext): StatFs {
  const s = ctx.store;
  const pageSize = (s.stmt('PRAGMA page_size').get() as { page_size: number }).page_size;
  const pages = (s.stmt('PRAGMA page_count').get() as { page_count: number }).page_count;
  const freePages = (s.stmt('PRAGMA freelist_count').get() as { freelist_count: number }).freelist_count;
  const inodes = (s.stmt('SELECT COUNT(*) AS n FROM fs_inode').get() as { n: number }).n;
  let hostFree = 0;
  try {
    const h = statfsSync(s.path === ':memory:' ? tmpdir() : dirname(s.path));
    hostFree = h.bavail * h.bsize;
  } catch {
    /* no host numbers: report the database alone */
  }
  const used = (pages - freePages) * pageSize;
  const free = hostFree + freePages * pageSize;
  const blocks = Math.ceil((used + free) / BSIZE);
  const bfree = Math.floor(free / BSIZE);
  return { bsize: BSIZE, frsize: BSIZE, blocks, bfree, bavail: bfree, files: inodes + FREE_INODES, ffree: FREE_INODES, namemax: NAME_MAX };
}
