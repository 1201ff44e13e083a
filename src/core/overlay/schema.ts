import type { Store } from '../../store/index.js';

/**
 * Our own overlay tables (the spec's fs_whiteout and fs_origin cannot carry these facts):
 * - agentfs_overlay_dir: a delta directory whose base layer is not the base directory at its own
 *   path. base_path is the base directory it merges with after a rename ('/old/name'), or NULL
 *   for an opaque directory (re-created over a deleted base path: shows no base entries).
 *   Delta directories without a row merge with the base directory at parent's base path + name,
 *   which is what a database written by another SPEC implementation means.
 * - agentfs_overlay_copyup: what the base file looked like when it was copied up, so commit can
 *   tell whether the base changed underneath since.
 * - agentfs_overlay_origin: the birth time of the base file a delta inode was copied from, beside
 *   its fs_origin row (spec: delta ino -> base ino only). The host gives a removed file's inode
 *   number to a later file; the birth time tells the two apart (lookup.ts baseNode), also in a
 *   later session. No row: not known (the file system gives none, or an older copy-up).
 * - agentfs_overlay_hidden: what a base entry looked like when it was first hidden at an overlay
 *   path (deleted, or replaced by a rename over it), to the nanosecond, so commit can tell whether
 *   the base changed there since (fs_whiteout.created_at is whole seconds). See hidden-base.ts.
 */
export const OVERLAY_DDL = [
  `CREATE TABLE IF NOT EXISTS agentfs_overlay_dir (
    delta_ino INTEGER PRIMARY KEY,
    base_path TEXT
  )`,
  `CREATE TABLE IF NOT EXISTS agentfs_overlay_copyup (
    delta_ino INTEGER PRIMARY KEY,
    base_path TEXT NOT NULL,
    base_ino INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns TEXT NOT NULL,
    copied_at INTEGER NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS agentfs_overlay_origin (
    delta_ino INTEGER PRIMARY KEY,
    base_birth_ns TEXT NOT NULL
  )`,
  // keyed by both paths: a name can hide one base entry, be removed, and then hide another (a
  // directory moved over it), and both must be checked
  `CREATE TABLE IF NOT EXISTS agentfs_overlay_hidden (
    path TEXT NOT NULL,
    base_path TEXT NOT NULL,
    base_ino INTEGER NOT NULL,
    type INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns TEXT NOT NULL,
    ctime_ns TEXT NOT NULL,
    PRIMARY KEY (path, base_path)
  )`,
  // commit looks a deletion up by base path (below a moved directory the record is elsewhere)
  `CREATE INDEX IF NOT EXISTS agentfs_overlay_hidden_base ON agentfs_overlay_hidden(base_path)`,
];

export function ensureOverlaySchema(store: Store): void {
  store.ensureSchema('overlay', OVERLAY_DDL);
}
