/**
 * Whether the directory entries form a tree. A damaged or foreign database can hold a directory
 * with two entries, or an entry leading back to a directory above it (a cycle); SQLite's
 * integrity_check accepts both, and walks over them would never end. `sync pull` runs this
 * before it commits what it brought in, so no cycle arrives that way.
 */
import type { Store } from '../../store/index.js';
import { ROOT_INO, S_IFDIR, S_IFMT } from '../types.js';

const MAX_DEPTH = 4096;

/**
 * A one-line description of the first defect found, or undefined for a sound tree. `candidates`
 * (a query yielding inode numbers) limits the search to directories reached by new or changed
 * entries: any new cycle passes through one of them. Without it, every directory is checked.
 */
export function findDirectoryCycle(store: Store, candidates?: string): string | undefined {
  const dirs = `SELECT d.ino FROM fs_dentry d JOIN fs_inode i ON i.ino = d.ino
     WHERE (i.mode & ${S_IFMT}) = ${S_IFDIR}${candidates ? ` AND d.ino IN (${candidates})` : ''}`;
  // a directory with two entries (the root with any): hard links to directories do not exist
  const twice = store.db
    .prepare(`SELECT ino FROM fs_dentry WHERE ino IN (${dirs}) GROUP BY ino HAVING count(*) > 1 OR ino = ${ROOT_INO} LIMIT 1`)
    .get() as { ino: number } | undefined;
  if (twice) {
    const names = (store.db.prepare('SELECT parent_ino, name FROM fs_dentry WHERE ino = ? ORDER BY id').all(twice.ino) as Parent[])
      .map((r) => pathOf(store, r.parent_ino, r.name));
    return `directory ${twice.ino === ROOT_INO ? '/' : `inode ${twice.ino}`} has ${names.length === 1 ? 'an entry' : 'two entries'}: ${names.slice(0, 2).join(' and ')}`;
  }
  // with one entry per directory, a cycle is a chain of parents that comes back to its start
  const looped = store.db
    .prepare(
      `WITH RECURSIVE up(start, ino, depth) AS (
         SELECT ino, ino, 0 FROM (${dirs})
         UNION ALL
         SELECT up.start, d.parent_ino, up.depth + 1 FROM up JOIN fs_dentry d ON d.ino = up.ino
          WHERE up.ino != ${ROOT_INO} AND (up.depth = 0 OR up.ino != up.start) AND up.depth < ${MAX_DEPTH}
       )
       SELECT start FROM up WHERE depth > 0 AND ino = start LIMIT 1`,
    )
    .get() as { start: number } | undefined;
  if (looped) {
    const r = store.db.prepare('SELECT parent_ino, name FROM fs_dentry WHERE ino = ?').get(looped.start) as Parent;
    return `directory inode ${looped.start} is its own ancestor (entry ${pathOf(store, r.parent_ino, r.name)})`;
  }
  return undefined;
}

type Parent = { parent_ino: number; name: string };

/** A readable path for an entry, walking up at most a few levels (the chain may loop). */
function pathOf(store: Store, parent: number, name: string): string {
  const parts = [name];
  let cur = parent;
  for (let i = 0; cur !== ROOT_INO && i < 8; i++) {
    const r = store.db.prepare('SELECT parent_ino, name FROM fs_dentry WHERE ino = ? ORDER BY id LIMIT 1').get(cur) as Parent | undefined;
    if (!r) return `.../${parts.reverse().join('/')}`;
    parts.push(r.name);
    cur = r.parent_ino;
  }
  return `${cur === ROOT_INO ? '' : '...'}/${parts.reverse().join('/')}`;
}
