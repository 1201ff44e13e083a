import type { Store } from '../../store/index.js';
import { baseName, parentOf } from './base.js';

/**
 * Whiteouts (spec table fs_whiteout): overlay paths whose base entry is hidden. Keyed by the
 * path in the merged view; a renamed directory carries its whiteouts to the new prefix.
 */
export class Whiteouts {
  /**
   * Names whited out per directory, for the directories looked at lately: a lookup in the base
   * then costs no query. Kept in step by every change made through this object; a transaction
   * rolled back, or another process changing whiteouts, is covered by invalidate().
   */
  private readonly cache = new Map<string, Set<string>>();
  /**
   * True while `cache` holds every whiteout (a table of at most WHOLE_TABLE rows is read in one
   * statement): a directory missing from it has none, with no query per directory (a walk of the
   * base, `find` or `git status`, met one query per directory).
   */
  private whole = false;

  private readonly listeners: ((change: WhiteoutChange) => void)[] = [];

  constructor(private readonly store: Store) {}

  /** Calls `listener` after every change to the whiteouts (or to what is known of them). */
  onChange(listener: (change: WhiteoutChange) => void): void {
    this.listeners.push(listener);
  }

  private changed(change: WhiteoutChange): void {
    for (const l of this.listeners) l(change);
  }

  /** Whether there is any whiteout at all. */
  any(): boolean {
    if (this.whole) {
      for (const names of this.cache.values()) if (names.size) return true;
      return false;
    }
    return this.store.stmt('SELECT 1 FROM fs_whiteout LIMIT 1').get() !== undefined;
  }

  invalidate(): void {
    this.drop();
    this.changed('unknown');
  }

  private drop(): void {
    this.cache.clear();
    this.whole = false;
  }

  has(path: string): boolean {
    return this.namesIn(parentOf(path)).has(baseName(path));
  }

  /** `named`: the caller told the host-file listeners of its directory first (NodeTable.hiding). */
  add(path: string, named = false): void {
    this.store
      .stmt('INSERT OR REPLACE INTO fs_whiteout (path, parent_path, created_at) VALUES (?, ?, ?)')
      .run(path, parentOf(path), Math.floor(Date.now() / 1000));
    const dir = parentOf(path);
    const names = this.cache.get(dir);
    if (names) names.add(baseName(path));
    else if (this.whole) this.cache.set(dir, new Set([baseName(path)]));
    this.changed(named ? 'named' : 'unknown');
  }

  remove(path: string): void {
    this.store.stmt('DELETE FROM fs_whiteout WHERE path = ?').run(path);
    this.cache.get(parentOf(path))?.delete(baseName(path));
    this.changed('fewer');
  }

  /** Names whited out directly in directory `dir` (do not modify the set). */
  namesIn(dir: string): Set<string> {
    let names = this.cache.get(dir);
    if (names) return names;
    if (!this.whole) this.loadWhole();
    if (this.whole) return this.cache.get(dir) ?? NONE;
    const rows = this.store.stmt('SELECT path FROM fs_whiteout WHERE parent_path = ?').all(dir) as { path: string }[];
    names = new Set(rows.map((r) => baseName(r.path)));
    if (this.cache.size >= 1024) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(dir, names);
    return names;
  }

  /** The directories holding a whiteout (merged paths), or undefined when the table is too big to read whole. */
  dirs(): string[] | undefined {
    if (!this.whole) this.loadWhole();
    if (!this.whole) return undefined;
    return [...this.cache].filter(([, names]) => names.size > 0).map(([dir]) => dir);
  }

  /** Reads the whole table into `cache` when it is small; else leaves the per-directory cache. */
  private loadWhole(): void {
    const rows = this.store.stmt('SELECT path FROM fs_whiteout LIMIT ?').all(WHOLE_TABLE + 1) as { path: string }[];
    if (rows.length > WHOLE_TABLE) return;
    this.cache.clear();
    for (const { path } of rows) {
      const dir = parentOf(path);
      let names = this.cache.get(dir);
      if (!names) this.cache.set(dir, (names = new Set()));
      names.add(baseName(path));
    }
    this.whole = true;
  }

  /** Every whiteout strictly below `dir`, with its creation time. */
  under(dir: string): { path: string; createdAt: number }[] {
    const [lo, hi] = range(dir);
    return (
      this.store.stmt('SELECT path, created_at FROM fs_whiteout WHERE path > ? AND path < ? ORDER BY path').all(lo, hi) as {
        path: string;
        created_at: number;
      }[]
    ).map((r) => ({ path: r.path, createdAt: r.created_at }));
  }

  createdAt(path: string): number | undefined {
    const row = this.store.stmt('SELECT created_at FROM fs_whiteout WHERE path = ?').get(path) as { created_at: number } | undefined;
    return row?.created_at;
  }

  removeUnder(dir: string): void {
    const [lo, hi] = range(dir);
    this.store.stmt('DELETE FROM fs_whiteout WHERE path > ? AND path < ?').run(lo, hi);
    if (!this.whole) this.cache.clear();
    // kept whole (rm -rf removes a directory after each of its emptied subdirectories: reading
    // the table again each time would cost a pass over it per directory)
    else for (const d of [...this.cache.keys()]) if (d === dir || (d > lo && d < hi)) this.cache.delete(d);
    this.changed('fewer');
  }

  /** A directory moved from `from` to `to`: its whiteouts move along. */
  moveUnder(from: string, to: string): void {
    // each stays in the directory it was in (which moves): no change a listener must hear
    this.drop();
    const [lo, hi] = range(from);
    const fromLen = from === '/' ? 0 : from.length;
    const prefix = to === '/' ? '' : to;
    const rows = this.store.stmt('SELECT path, created_at FROM fs_whiteout WHERE path > ? AND path < ?').all(lo, hi) as {
      path: string;
      created_at: number;
    }[];
    if (!rows.length) return;
    this.store.stmt('DELETE FROM fs_whiteout WHERE path > ? AND path < ?').run(lo, hi);
    const ins = this.store.stmt('INSERT OR REPLACE INTO fs_whiteout (path, parent_path, created_at) VALUES (?, ?, ?)');
    for (const r of rows) {
      const p = prefix + r.path.slice(fromLen);
      ins.run(p, parentOf(p), r.created_at);
    }
  }

  count(): number {
    return (this.store.stmt('SELECT COUNT(*) AS n FROM fs_whiteout').get() as { n: number }).n;
  }
}

/**
 * What changed: 'named', one whiteout added in a directory whose host-file listeners were told
 * first; 'fewer', whiteouts removed; 'unknown', anything else (added unannounced, or the cache
 * dropped: a rollback, another process).
 */
export type WhiteoutChange = 'named' | 'fewer' | 'unknown';

const WHOLE_TABLE = 10_000;
const NONE: Set<string> = new Set();

/** Half-open key range [dir + '/', dir + '0') covering every path strictly below dir. */
export function range(dir: string): [string, string] {
  const p = dir === '/' ? '' : dir;
  return [`${p}/`, `${p}0`];
}
