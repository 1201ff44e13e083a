/**
 * AgentFS SPEC v0.4 tables, verbatim, plus our own extension tables (prefixed `agentfs_`).
 * Spec tables never get extra columns, so any SPEC v0.4 implementation can read our files.
 */

export const SCHEMA_VERSION = '0.4';
export const DEFAULT_CHUNK_SIZE = 4096;

/** Spec tables, as the Rust AgentFS and its SDKs create them (what remotes and the bench's bare side get). */
export const SPEC_TEXT_TABLES = [
  `CREATE TABLE IF NOT EXISTS fs_config (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS fs_inode (
    ino INTEGER PRIMARY KEY AUTOINCREMENT,
    mode INTEGER NOT NULL,
    nlink INTEGER NOT NULL DEFAULT 0,
    uid INTEGER NOT NULL DEFAULT 0,
    gid INTEGER NOT NULL DEFAULT 0,
    size INTEGER NOT NULL DEFAULT 0,
    atime INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    ctime INTEGER NOT NULL,
    rdev INTEGER NOT NULL DEFAULT 0,
    atime_nsec INTEGER NOT NULL DEFAULT 0,
    mtime_nsec INTEGER NOT NULL DEFAULT 0,
    ctime_nsec INTEGER NOT NULL DEFAULT 0
  )`,
  `CREATE TABLE IF NOT EXISTS fs_dentry (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    parent_ino INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    UNIQUE(parent_ino, name)
  )`,
  `CREATE INDEX IF NOT EXISTS idx_fs_dentry_parent ON fs_dentry(parent_ino, name)`,
  `CREATE TABLE IF NOT EXISTS fs_data (
    ino INTEGER NOT NULL,
    chunk_index INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (ino, chunk_index)
  )`,
  `CREATE TABLE IF NOT EXISTS fs_symlink (
    ino INTEGER PRIMARY KEY,
    target TEXT NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS fs_whiteout (
    path TEXT PRIMARY KEY,
    parent_path TEXT NOT NULL,
    created_at INTEGER NOT NULL
  )`,
  `CREATE INDEX IF NOT EXISTS idx_fs_whiteout_parent ON fs_whiteout(parent_path)`,
  `CREATE TABLE IF NOT EXISTS fs_origin (
    delta_ino INTEGER PRIMARY KEY,
    base_ino INTEGER NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS kv_store (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at INTEGER DEFAULT (unixepoch()),
    updated_at INTEGER DEFAULT (unixepoch())
  )`,
  `CREATE INDEX IF NOT EXISTS idx_kv_store_created_at ON kv_store(created_at)`,
  `CREATE TABLE IF NOT EXISTS tool_calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    parameters TEXT,
    result TEXT,
    error TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    started_at INTEGER NOT NULL,
    completed_at INTEGER,
    duration_ms INTEGER
  )`,
  `CREATE INDEX IF NOT EXISTS idx_tool_calls_name ON tool_calls(name)`,
  `CREATE INDEX IF NOT EXISTS idx_tool_calls_started_at ON tool_calls(started_at)`,
];

/**
 * The spec's idx_fs_dentry_parent repeats the index of UNIQUE(parent_ino, name), column for
 * column: a second copy of every dentry key, written with each create, unlink and rename. Our
 * databases key it by (parent_ino) instead (and so, as every index does, the rowid: the dentry
 * id), the order listings page in, which needed an index of its own. Lookups by name keep the
 * UNIQUE index; implementations that create the spec's index do so IF NOT EXISTS and leave ours.
 * (An SDK writeFile measured ~5 µs, one WAL frame, cheaper.) ensureFsExtras re-keys older files.
 */
export const DENTRY_PARENT_INDEX = 'CREATE INDEX IF NOT EXISTS idx_fs_dentry_parent ON fs_dentry(parent_ino)';

/** The spec's tables and indexes as our databases get them (see DENTRY_PARENT_INDEX). */
export const SPEC_TABLES: readonly string[] = SPEC_TEXT_TABLES.map((sql) => (/ idx_fs_dentry_parent ON /.test(sql) ? DENTRY_PARENT_INDEX : sql));

/**
 * Our own tables that every database gets. Modules that own a feature (journal, sessions, sync)
 * create their own `agentfs_*` tables with Store.ensureSchema() the first time they run.
 */
export const EXTENSION_TABLES: readonly string[] = [
  // Settings of this database that are not part of the spec (overlay base, journal switch, remote).
  `CREATE TABLE IF NOT EXISTS agentfs_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  )`,
];

/** Tables whose presence marks a file as an AgentFS database. */
export const REQUIRED_TABLES = ['fs_config', 'fs_inode', 'fs_dentry', 'fs_data'];
