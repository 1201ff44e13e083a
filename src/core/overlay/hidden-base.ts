import type { Store } from '../../store/index.js';
import { nsOf, type HostStat } from './host-stat.js';
import { range } from './whiteouts.js';

/** What a base entry looked like when the overlay first hid it (agentfs_overlay_hidden). */
export interface HiddenRecord {
  /** the overlay path it was hidden at */
  path: string;
  /** the base path of the entry hidden there (differs from path below a moved directory) */
  basePath: string;
  ino: number;
  /** file type bits (S_IFMT) */
  type: number;
  size: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

interface Row {
  path: string;
  base_path: string;
  base_ino: number;
  type: number;
  size: number;
  mtime_ns: string;
  ctime_ns: string;
}

/**
 * The state of each base entry the overlay hid by deleting it or by renaming something over it,
 * taken when it was first hidden at that path: commit compares the base with it before deleting
 * or replacing the entry there. The whiteout's own time is in whole seconds (spec), so a host
 * edit in the second after a deletion was deleted with it. A record outlives its whiteout (a
 * directory's whiteout stands in for those of the entries removed before it; a name re-created
 * over a deleted one hides the same base entry) and goes when commit or discard settles its path.
 */
export class HiddenBase {
  constructor(private readonly store: Store) {}

  /**
   * The base entry `st` at basePath is hidden at overlay path `path` now (kept if it was already;
   * a record there of another base entry stays too).
   */
  note(path: string, basePath: string, st: HostStat): void {
    this.store
      .stmt(
        `INSERT OR IGNORE INTO agentfs_overlay_hidden (path, base_path, base_ino, type, size, mtime_ns, ctime_ns)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(path, basePath, st.ino, st.mode & 0o170000, st.size, nsOf(st.mtime).toString(), nsOf(st.ctime).toString());
  }

  /** The record at `path`, that of the base entry of the same path first. */
  at(path: string): HiddenRecord | undefined {
    const r = this.store
      .stmt('SELECT path, base_path, base_ino, type, size, mtime_ns, ctime_ns FROM agentfs_overlay_hidden WHERE path = ? ORDER BY base_path = path DESC LIMIT 1')
      .get(path) as Row | undefined;
    return r && toRecord(r);
  }

  /**
   * The record of the base entry at `basePath`, wherever it was hidden: one deleted inside a
   * directory moved here has its record at its new path, while the diff names the base path.
   */
  of(basePath: string): HiddenRecord | undefined {
    const r = this.store
      .stmt('SELECT path, base_path, base_ino, type, size, mtime_ns, ctime_ns FROM agentfs_overlay_hidden WHERE base_path = ? ORDER BY path LIMIT 1')
      .get(basePath) as Row | undefined;
    return r && toRecord(r);
  }

  /**
   * Commit removed or replaced a name of hard-linked base file `ino`: its other names' ctime moved
   * with the link count, nothing else did. Their records take the new ctime (else a later commit
   * of one of them saw a host edit that never was), where the rest still matches exactly.
   */
  relinked(ino: number, lstat: (basePath: string) => HostStat | undefined): void {
    const rows = this.rowsOf(ino);
    const set = this.store.stmt('UPDATE agentfs_overlay_hidden SET ctime_ns = ? WHERE path = ? AND base_path = ?');
    for (const r of rows) {
      const st = lstat(r.base_path);
      if (!st || st.ino !== ino || (st.mode & 0o170000) !== Number(r.type) || st.size !== Number(r.size)) continue;
      if (nsOf(st.mtime).toString() === r.mtime_ns) set.run(nsOf(st.ctime).toString(), r.path, r.base_path);
    }
  }

  /** The records of the base entries with inode `ino` (the names of a hard-linked file). */
  withIno(ino: number): HiddenRecord[] {
    return this.rowsOf(ino).map(toRecord);
  }

  private rowsOf(ino: number): Row[] {
    return this.store
      .stmt('SELECT path, base_path, base_ino, type, size, mtime_ns, ctime_ns FROM agentfs_overlay_hidden WHERE base_ino = ?')
      .all(ino) as Row[];
  }

  /** Drops the records at `path` and below it. */
  drop(path: string): void {
    if (path === '/') {
      this.store.stmt('DELETE FROM agentfs_overlay_hidden').run();
      return;
    }
    const [lo, hi] = range(path);
    this.store.stmt('DELETE FROM agentfs_overlay_hidden WHERE path = ? OR (path > ? AND path < ?)').run(path, lo, hi);
  }

  /**
   * A directory showing base directory `baseDir` (null: none, opaque) moved from `from` to `to`:
   * the records below it of entries of that base directory move along, as its whiteouts do. Those
   * of a base directory deleted there before stay: they are about what is at that path.
   */
  moveUnder(from: string, to: string, baseDir: string | null): void {
    if (baseDir === null) return;
    const [lo, hi] = range(from);
    const [blo, bhi] = range(baseDir);
    const rows = this.store
      .stmt(
        `SELECT path, base_path, base_ino, type, size, mtime_ns, ctime_ns FROM agentfs_overlay_hidden
         WHERE path > ? AND path < ? AND base_path > ? AND base_path < ?`,
      )
      .all(lo, hi, blo, bhi) as Row[];
    if (!rows.length) return;
    const del = this.store.stmt('DELETE FROM agentfs_overlay_hidden WHERE path = ? AND base_path = ?');
    // a record already at the new place is about the base entry there: it stays
    const ins = this.store.stmt(
      `INSERT OR IGNORE INTO agentfs_overlay_hidden (path, base_path, base_ino, type, size, mtime_ns, ctime_ns)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    const fromLen = from === '/' ? 0 : from.length;
    const prefix = to === '/' ? '' : to;
    for (const r of rows) del.run(r.path, r.base_path);
    for (const r of rows) ins.run(prefix + r.path.slice(fromLen), r.base_path, r.base_ino, r.type, r.size, r.mtime_ns, r.ctime_ns);
  }
}

function toRecord(r: Row): HiddenRecord {
  return {
    path: r.path, basePath: r.base_path, ino: Number(r.base_ino), type: Number(r.type), size: Number(r.size),
    mtimeNs: BigInt(r.mtime_ns), ctimeNs: BigInt(r.ctime_ns),
  };
}
