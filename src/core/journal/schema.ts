/**
 * The file-operation journal: our own table (the spec's tables are untouched). One row per
 * mutating operation; a burst of writes to one file between open and close is one row.
 */
export const JOURNAL_SCHEMA: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS agentfs_journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ns INTEGER NOT NULL,
    end_ns INTEGER,
    op TEXT NOT NULL,
    path TEXT,
    new_path TEXT,
    ino INTEGER NOT NULL,
    offset INTEGER,
    length INTEGER,
    bytes INTEGER,
    writes INTEGER,
    size INTEGER,
    mode INTEGER,
    uid INTEGER,
    gid INTEGER,
    tool_call_id INTEGER,
    pid INTEGER
  )`,
  // No index at all: each one is another page written with every commit (the time index
  // measured ~5% of mount create throughput). Readers go by id, which is commit order; per-call
  // and time-range queries scan the journal, which audits can afford.
];

/** The time index of earlier versions, dropped when a journal opens the database for writing. */
export const OBSOLETE_JOURNAL_INDEX = 'idx_agentfs_journal_time';

/** Operations the journal records (InodeFs mutations minus open/release bookkeeping). */
export const JOURNAL_OPS = [
  'create', 'mknod', 'mkdir', 'symlink', 'link', 'unlink', 'rmdir', 'rename', 'write', 'truncate', 'chmod', 'chown', 'utimens',
] as const;
export type JournalOp = (typeof JOURNAL_OPS)[number];
