import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import type { Store } from '../../../store/index.js';
import { NAME_MAX, type StatFs } from '../../types.js';
import type { FsContext } from '../context.js';

const BSIZE = 4096;
/** Inodes cost a row, not a slot: report plenty free. */
const FREE_INODES = 1 << 30;

function pragma(s: Store, name: string): number {
  return (s.stmt(`PRAGMA ${name}`).get() as Record<string, number>)[name]!;
}

/**
 * Bytes the database can still grow by: free space under it plus its own free pages (cheap).
 * enough: a host with this much free is answer enough (the pages are not counted: reading them
 * takes a read transaction, ~100 us before the first write after reads, every poll of the FUSE
 * server's group commit).
 */
export function freeBytes(s: Store, enough = Infinity): number {
  let hostFree = 0;
  try {
    const h = statfsSync(s.path === ':memory:' ? tmpdir() : dirname(s.path));
    hostFree = h.bavail * h.bsize;
  } catch {
    /* no host numbers: the database's free pages alone */
  }
  if (hostFree >= enough) return hostFree;
  return hostFree + pragma(s, 'freelist_count') * pragma(s, 'page_size');
}

/**
 * Capacity as the host sees it: space used by the database plus what the host filesystem
 * under it still has free; inodes in use plus a large free count.
 */
export function statfs(ctx: FsContext): StatFs {
  const s = ctx.store;
  const pageSize = pragma(s, 'page_size');
  const pages = pragma(s, 'page_count');
  const freePages = pragma(s, 'freelist_count');
  const inodes = (s.stmt('SELECT COUNT(*) AS n FROM fs_inode').get() as { n: number }).n;
  const used = (pages - freePages) * pageSize;
  const free = freeBytes(s);
  const blocks = Math.ceil((used + free) / BSIZE);
  const bfree = Math.floor(free / BSIZE);
  return { bsize: BSIZE, frsize: BSIZE, blocks, bfree, bavail: bfree, files: inodes + FREE_INODES, ffree: FREE_INODES, namemax: NAME_MAX };
}
