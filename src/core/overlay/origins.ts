import { nsOf, sameTime, tsOf, type HostStat } from './host-stat.js';
import type { Store } from '../../store/index.js';
import type { Timespec } from '../types.js';
import type { CopyRows } from '../fs/index.js';

export interface CopyUpRecord {
  deltaIno: number;
  basePath: string;
  baseIno: number;
  size: number;
  mtimeNs: bigint;
}

/** The base file a delta inode was copied from: its inode number (fs_origin) and birth time, if known. */
export interface BaseOrigin {
  ino: number;
  birth: Timespec | undefined;
}

/** A birth time as stored (nanoseconds, text), or undefined. */
function birthOf(ns: string | null | undefined): Timespec | undefined {
  return ns === null || ns === undefined ? undefined : tsOf(BigInt(ns));
}

/** record()'s rows as the SQL of a copy's own statement (rowsOfCopy) */
const COPY_ROW_COLUMNS = ['o_base_ino', 'o_same', 'o_path', 'o_size', 'o_mtime_ns', 'o_at', 'o_birth'];
const COPY_ROW_SQL = `INSERT OR REPLACE INTO fs_origin (delta_ino, base_ino) SELECT NEW.ino, NEW.o_base_ino WHERE NEW.o_same;
      INSERT OR REPLACE INTO agentfs_overlay_copyup (delta_ino, base_path, base_ino, size, mtime_ns, copied_at)
        VALUES (NEW.ino, NEW.o_path, NEW.o_base_ino, NEW.o_size, NEW.o_mtime_ns, NEW.o_at);
      INSERT OR REPLACE INTO agentfs_overlay_origin (delta_ino, base_birth_ns) SELECT NEW.ino, NEW.o_birth WHERE NEW.o_birth IS NOT NULL;`;

/**
 * Where delta inodes came from: fs_origin (spec: delta ino -> base ino, so stat keeps showing the
 * base inode number) plus our copy-up record (the base file's state at copy-up, for commit), and
 * directory redirects (agentfs_overlay_dir).
 */
export class Origins {
  constructor(private readonly store: Store) {}

  baseIno(deltaIno: number): number | undefined {
    const row = this.store.stmt('SELECT base_ino FROM fs_origin WHERE delta_ino = ?').get(deltaIno) as { base_ino: number } | undefined;
    return row?.base_ino;
  }

  /** The base inode numbers of every copy (fs_origin) but delta inode `except`'s. */
  baseNumbers(except: number): number[] {
    const rows = this.store.arrayStmt('SELECT base_ino FROM fs_origin WHERE delta_ino != ?').all(except) as [number][];
    return rows.map((r) => r[0]);
  }

  /** fs_origin's base inode number of deltaIno and the birth time of that base file (agentfs_overlay_origin). */
  origin(deltaIno: number): BaseOrigin | undefined {
    const row = this.store
      .stmt(
        `SELECT o.base_ino, b.base_birth_ns FROM fs_origin o LEFT JOIN agentfs_overlay_origin b ON b.delta_ino = o.delta_ino
         WHERE o.delta_ino = ?`,
      )
      .get(deltaIno) as { base_ino: number; base_birth_ns: string | null } | undefined;
    return row && { ino: row.base_ino, birth: birthOf(row.base_birth_ns) };
  }

  /**
   * A copy-up of the base file at basePath. `sameNumber`: the copy goes on showing the base
   * file's inode number (fs_origin); not for a file of a file system mounted inside the base,
   * whose number means nothing on the base's own (inodes.ts BaseInos).
   */
  record(deltaIno: number, basePath: string, st: HostStat, sameNumber = true): void {
    if (sameNumber) this.store.stmt('INSERT OR REPLACE INTO fs_origin (delta_ino, base_ino) VALUES (?, ?)').run(deltaIno, st.ino);
    else this.store.stmt('DELETE FROM fs_origin WHERE delta_ino = ?').run(deltaIno);
    this.store
      .stmt(
        `INSERT OR REPLACE INTO agentfs_overlay_copyup (delta_ino, base_path, base_ino, size, mtime_ns, copied_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(deltaIno, basePath, st.ino, st.size, nsOf(st.mtime).toString(), Math.floor(Date.now() / 1000));
    if (st.birth) this.store.stmt('INSERT OR REPLACE INTO agentfs_overlay_origin (delta_ino, base_birth_ns) VALUES (?, ?)').run(deltaIno, nsOf(st.birth).toString());
    else this.store.stmt('DELETE FROM agentfs_overlay_origin WHERE delta_ino = ?').run(deltaIno);
  }

  /**
   * record()'s rows of a copy made by the copy's own statement (InodeFs.copyInAlone), where its
   * number is NEW.ino: a new inode, so there is nothing of an older one to delete.
   */
  /** The columns and SQL of every rowsOfCopy (the delta's scratch view for them is made ahead). */
  readonly copyRowsShape = { columns: COPY_ROW_COLUMNS, sql: COPY_ROW_SQL };

  rowsOfCopy(basePath: string, st: HostStat, sameNumber = true): CopyRows {
    const birth = st.birth ? nsOf(st.birth).toString() : null;
    return {
      columns: COPY_ROW_COLUMNS,
      sql: COPY_ROW_SQL,
      values: [st.ino, sameNumber ? 1 : 0, basePath, st.size, nsOf(st.mtime).toString(), Math.floor(Date.now() / 1000), birth],
    };
  }

  /** The delta inodes that were copied up from a base file (one query, for whole-tree walks). */
  copiedUp(): Set<number> {
    const rows = this.store.stmt('SELECT delta_ino FROM agentfs_overlay_copyup').all() as { delta_ino: number }[];
    return new Set(rows.map((r) => r.delta_ino));
  }

  copyUp(deltaIno: number): CopyUpRecord | undefined {
    const r = this.store
      .stmt('SELECT delta_ino, base_path, base_ino, size, mtime_ns FROM agentfs_overlay_copyup WHERE delta_ino = ?')
      .get(deltaIno) as { delta_ino: number; base_path: string; base_ino: number; size: number; mtime_ns: string } | undefined;
    return r && { deltaIno: r.delta_ino, basePath: r.base_path, baseIno: r.base_ino, size: r.size, mtimeNs: BigInt(r.mtime_ns) };
  }

  /** Copy-up records made from the base file at basePath (its copy may have moved since). */
  copiedFrom(basePath: string): CopyUpRecord[] {
    const rows = this.store
      .stmt('SELECT delta_ino, base_path, base_ino, size, mtime_ns FROM agentfs_overlay_copyup WHERE base_path = ?')
      .all(basePath) as { delta_ino: number; base_path: string; base_ino: number; size: number; mtime_ns: string }[];
    return rows.map((r) => ({ deltaIno: r.delta_ino, basePath: r.base_path, baseIno: r.base_ino, size: r.size, mtimeNs: BigInt(r.mtime_ns) }));
  }

  /**
   * The delta copy of the base file `st` made through another of its hard links, while that base
   * file is as it was at copy-up (same ino, size, mtime and birth time, where both are known:
   * not a new file under a reused ino).
   */
  copyOfLinkedBase(st: HostStat): number | undefined {
    return this.copyOf(st, (r) => this.baseIno(r.delta_ino) !== undefined);
  }

  /**
   * The delta copy of `st`, a file of a file system mounted inside the base, made through another
   * of its hard links: its copies have no fs_origin row, and inode numbers repeat across devices,
   * so the copy's base path must still name this very file (`isFile`) as it was at copy-up.
   */
  copyOfOtherDeviceLink(st: HostStat, isFile: (basePath: string) => boolean): number | undefined {
    return this.copyOf(st, (r) => this.baseIno(r.delta_ino) === undefined && isFile(r.base_path));
  }

  /** The copy-up of a base file numbered st.ino, as it still is (size, mtime, birth), that `accept` takes. */
  private copyOf(st: HostStat, accept: (r: { delta_ino: number; base_path: string }) => boolean): number | undefined {
    const rows = this.store
      .stmt(
        `SELECT c.delta_ino, c.base_path, c.size, c.mtime_ns, b.base_birth_ns FROM agentfs_overlay_copyup c
         LEFT JOIN agentfs_overlay_origin b ON b.delta_ino = c.delta_ino WHERE c.base_ino = ?`,
      )
      .all(st.ino) as { delta_ino: number; base_path: string; size: number; mtime_ns: string; base_birth_ns: string | null }[];
    const mtimeNs = nsOf(st.mtime).toString();
    const born = (r: { base_birth_ns: string | null }) => {
      const b = birthOf(r.base_birth_ns);
      return b === undefined || st.birth === undefined || sameTime(b, st.birth);
    };
    return rows.find((r) => r.size === st.size && r.mtime_ns === mtimeNs && born(r) && accept(r))?.delta_ino;
  }

  /** The copy of deltaIno now sits under basePath, another name of the same base file. */
  movedTo(deltaIno: number, basePath: string): void {
    this.store.stmt('UPDATE agentfs_overlay_copyup SET base_path = ? WHERE delta_ino = ?').run(basePath, deltaIno);
  }

  forget(deltaIno: number): void {
    this.store.stmt('DELETE FROM fs_origin WHERE delta_ino = ?').run(deltaIno);
    this.store.stmt('DELETE FROM agentfs_overlay_copyup WHERE delta_ino = ?').run(deltaIno);
    this.store.stmt('DELETE FROM agentfs_overlay_origin WHERE delta_ino = ?').run(deltaIno);
    this.store.stmt('DELETE FROM agentfs_overlay_dir WHERE delta_ino = ?').run(deltaIno);
  }

  /** undefined: no row (merge with the base at the implicit path); null: opaque; else the base path. */
  redirect(deltaIno: number): string | null | undefined {
    const row = this.store.stmt('SELECT base_path FROM agentfs_overlay_dir WHERE delta_ino = ?').get(deltaIno) as
      | { base_path: string | null }
      | undefined;
    return row === undefined ? undefined : row.base_path;
  }

  /** deltaIno merges with the base directory at its own path again (see redirect) */
  dropRedirect(deltaIno: number): void {
    this.store.stmt('DELETE FROM agentfs_overlay_dir WHERE delta_ino = ?').run(deltaIno);
  }

  setRedirect(deltaIno: number, basePath: string | null): void {
    this.store.stmt('INSERT OR REPLACE INTO agentfs_overlay_dir (delta_ino, base_path) VALUES (?, ?)').run(deltaIno, basePath);
  }

  /** The base directory `from` was moved to `to` (by commit): base paths recorded below it follow. */
  rebase(from: string, to: string): void {
    const lo = `${from}/`;
    const hi = `${from}0`;
    for (const table of ['agentfs_overlay_dir', 'agentfs_overlay_copyup']) {
      this.store
        .stmt(`UPDATE ${table} SET base_path = ? || substr(base_path, ?) WHERE base_path = ? OR (base_path > ? AND base_path < ?)`)
        .run(to, from.length + 1, from, lo, hi);
    }
  }

  /** Every directory redirect (see redirect). */
  redirects(): { deltaIno: number; basePath: string | null }[] {
    const rows = this.store.stmt('SELECT delta_ino, base_path FROM agentfs_overlay_dir').all() as { delta_ino: number; base_path: string | null }[];
    return rows.map((r) => ({ deltaIno: r.delta_ino, basePath: r.base_path }));
  }
}
