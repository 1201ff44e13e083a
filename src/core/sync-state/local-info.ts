import type { Store } from '../../store/index.js';
import type { InodeRow } from '../fs/rows.js';
import { scalar } from './scalar.js';
import { SYNCED_TABLES } from './tables.js';

/**
 * Changes counted the way people think of them: files (inodes whose content, metadata, target
 * or origin changed, deleted ones included), directory entries, whiteouts, kv keys, tool calls,
 * and the rows a push would send in all.
 */
export interface ChangeSummary {
  files: number;
  entries: number;
  whiteouts: number;
  kvKeys: number;
  toolCalls: number;
  rows: number;
}

/**
 * What sync needs to know about the agent beyond raw rows: paths of inodes (to name conflicts),
 * whether the agent is still empty, and tool call numbering (tool calls merge by renumbering).
 * The path query is plain SQL over spec tables, so the sync adapter runs the same text remotely.
 */
export const PATH_OF_INO_SQL = `WITH RECURSIVE up(ino, path, depth) AS (
    SELECT ?, '', 0
    UNION ALL
    SELECT d.parent_ino, '/' || d.name || up.path, up.depth + 1
      FROM up JOIN fs_dentry d ON d.ino = up.ino
     WHERE up.ino != 1 AND up.depth < 4096
  )
  SELECT path FROM up WHERE ino = 1 ORDER BY depth LIMIT 1`;

/** Rows beyond a fresh `agentfs init` (root inode and config): if none, the agent is empty. */
export const IS_EMPTY_SQL = `SELECT
    (SELECT count(*) FROM fs_inode WHERE ino != 1) +
    (SELECT count(*) FROM fs_dentry) +
    (SELECT count(*) FROM fs_symlink) +
    (SELECT count(*) FROM kv_store) +
    (SELECT count(*) FROM tool_calls) AS n`;

export type DirTimes = Pick<InodeRow, 'atime' | 'atime_nsec' | 'mtime' | 'mtime_nsec' | 'ctime' | 'ctime_nsec'>;

export class LocalInfo {
  constructor(private readonly store: Store) {}

  pathOfIno(ino: bigint | number): string | undefined {
    if (BigInt(ino) === 1n) return '/';
    const p = scalar(this.store.stmt(PATH_OF_INO_SQL), ino) as string | undefined;
    return p || undefined;
  }

  dentry(id: bigint | number): { parent: bigint; name: string } | undefined {
    const r = this.store.stmt('SELECT parent_ino, name FROM fs_dentry WHERE id = ?').get(id) as
      | { parent_ino: number; name: string }
      | undefined;
    return r ? { parent: BigInt(r.parent_ino), name: r.name } : undefined;
  }

  isEmpty(): boolean {
    const n = Number(scalar(this.store.stmt(IS_EMPTY_SQL)));
    if (n > 0) return false;
    const ws = this.store.layout.hasTable('fs_whiteout') ? Number(scalar(this.store.stmt('SELECT count(*) FROM fs_whiteout'))) : 0;
    return ws === 0;
  }

  maxToolCallId(): bigint {
    const v = scalar(this.store.stmt('SELECT max(id) FROM tool_calls')) as number | null;
    return BigInt(v ?? 0);
  }

  chunkSize(): number {
    return this.store.chunkSize;
  }

  /** The inode's mode, or undefined if it does not exist here. */
  modeOf(ino: bigint | number): number | undefined {
    const v = scalar(this.store.stmt('SELECT mode FROM fs_inode WHERE ino = ?'), ino);
    return v === undefined || v === null ? undefined : Number(v);
  }

  /** Times of a directory, kept before a pull overwrites its row (see mergeDirectory). */
  dirTimes(ino: bigint | number): DirTimes | undefined {
    const r = this.store.stmt('SELECT atime, atime_nsec, mtime, mtime_nsec, ctime, ctime_nsec FROM fs_inode WHERE ino = ?').get(ino) as DirTimes | undefined;
    return r ? { ...r } : undefined;
  }

  /**
   * A directory both sides changed (entries added or removed on each side) merges instead of
   * conflicting: after the remote's row is in, times become the later of both and nlink is
   * recounted from the merged entries (2 + subdirectories).
   */
  mergeDirectory(ino: bigint | number, ours: DirTimes): void {
    this.store
      .stmt(
        `UPDATE fs_inode SET
           atime_nsec = CASE WHEN (?1, ?2) > (atime, atime_nsec) THEN ?2 ELSE atime_nsec END,
           atime = max(atime, ?1),
           mtime_nsec = CASE WHEN (?3, ?4) > (mtime, mtime_nsec) THEN ?4 ELSE mtime_nsec END,
           mtime = max(mtime, ?3),
           ctime_nsec = CASE WHEN (?5, ?6) > (ctime, ctime_nsec) THEN ?6 ELSE ctime_nsec END,
           ctime = max(ctime, ?5),
           nlink = 2 + (SELECT count(*) FROM fs_dentry d JOIN fs_inode c ON c.ino = d.ino
                         WHERE d.parent_ino = ?7 AND (c.mode & 61440) = 16384)
         WHERE ino = ?7 AND (mode & 61440) = 16384`,
      )
      .run(ours.atime, ours.atime_nsec, ours.mtime, ours.mtime_nsec, ours.ctime, ours.ctime_nsec, ino);
  }

  /** Whether a row with this id exists here (inodes by ino, entries and tool calls by id). */
  hasRow(table: 'fs_inode' | 'fs_dentry' | 'tool_calls', id: bigint): boolean {
    const col = table === 'fs_inode' ? 'ino' : 'id';
    return this.store.stmt(`SELECT 1 FROM ${table} WHERE ${col} = ?`).get(id) !== undefined;
  }

  /** Rows of the synced tables in all: what a full push sends. */
  syncedRowCount(): number {
    let n = 0;
    for (const t of SYNCED_TABLES) if (this.store.layout.hasTable(t.name)) n += Number(scalar(this.store.stmt(`SELECT count(*) FROM ${t.name}`)));
    return n;
  }

  /** What the agent holds, counted as `sync stats` reports pending changes (a first push sends it all). */
  contentSummary(): ChangeSummary {
    const count = (sql: string) => Number(scalar(this.store.stmt(sql)));
    const has = (t: string) => this.store.layout.hasTable(t);
    return {
      files: count('SELECT count(*) FROM fs_inode'),
      entries: count('SELECT count(*) FROM fs_dentry'),
      whiteouts: has('fs_whiteout') ? count('SELECT count(*) FROM fs_whiteout') : 0,
      kvKeys: count('SELECT count(*) FROM kv_store'),
      toolCalls: count('SELECT count(*) FROM tool_calls'),
      rows: this.syncedRowCount(),
    };
  }

  maxIno(): bigint {
    return BigInt((scalar(this.store.stmt('SELECT max(ino) FROM fs_inode')) as number | null) ?? 0);
  }

  maxDentryId(): bigint {
    return BigInt((scalar(this.store.stmt('SELECT max(id) FROM fs_dentry')) as number | null) ?? 0);
  }

  /**
   * Gives local inodes new numbers from `startAt` on (an inode this machine created under the
   * same number as one the remote got from elsewhere). Every reference moves along: entries,
   * data, symlink, origin, and our own local tables that name inodes.
   */
  renumberInodes(inos: readonly bigint[], startAt: bigint): Map<bigint, bigint> {
    const refs: [string, string][] = [
      ['fs_dentry', 'ino'],
      ['fs_dentry', 'parent_ino'],
      ['fs_data', 'ino'],
      ['fs_symlink', 'ino'],
      ['fs_origin', 'delta_ino'],
      ['agentfs_journal', 'ino'],
      ['agentfs_overlay_dir', 'delta_ino'],
      ['agentfs_overlay_copyup', 'delta_ino'],
      ['agentfs_overlay_origin', 'delta_ino'],
      ['agentfs_fs_orphan', 'ino'],
    ];
    const present = refs.filter(([t]) => this.store.schemaHas(t));
    const moved = new Map<bigint, bigint>();
    let next = startAt;
    this.store.transaction(() => {
      for (const ino of [...inos].sort(cmp)) {
        if (this.store.stmt('UPDATE fs_inode SET ino = ? WHERE ino = ?').run(next, ino).changes === 0) continue;
        for (const [t, c] of present) this.store.stmt(`UPDATE ${t} SET ${c} = ? WHERE ${c} = ?`).run(next, ino);
        moved.set(ino, next);
        next++;
      }
    });
    return moved;
  }

  /** Gives local directory entries new ids from `startAt` on. */
  renumberDentries(ids: readonly bigint[], startAt: bigint): Map<bigint, bigint> {
    const moved = new Map<bigint, bigint>();
    let next = startAt;
    this.store.transaction(() => {
      for (const id of [...ids].sort(cmp)) {
        if (this.store.stmt('UPDATE fs_dentry SET id = ? WHERE id = ?').run(next, id).changes === 0) continue;
        moved.set(id, next);
        next++;
      }
    });
    return moved;
  }

  /**
   * Moves local tool calls to new ids from `startAt` on, in their order, so they do not collide
   * with tool calls another machine pushed under the same ids. Returns how many moved.
   */
  renumberToolCalls(ids: readonly bigint[], startAt: bigint): number {
    const sorted = [...ids].sort(cmp);
    const stmt = this.store.stmt('UPDATE tool_calls SET id = ? WHERE id = ?');
    // local tables that point at tool call ids move along (they are never synced)
    const refs: string[] = [];
    if (this.store.schemaHas('agentfs_tool_call_ext')) refs.push('UPDATE agentfs_tool_call_ext SET id = ? WHERE id = ?', 'UPDATE agentfs_tool_call_ext SET parent_id = ? WHERE parent_id = ?');
    if (this.store.schemaHas('agentfs_journal')) refs.push('UPDATE agentfs_journal SET tool_call_id = ? WHERE tool_call_id = ?');
    let next = startAt;
    this.store.transaction(() => {
      for (const id of sorted) {
        if (stmt.run(next, id).changes === 0) continue;
        for (const sql of refs) this.store.stmt(sql).run(next, id);
        next++;
      }
    });
    return Number(next - startAt);
  }
}

function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
