/**
 * Our tables beside the spec's tool_calls (never new columns in it, so other implementations
 * still read the file).
 */
/** Calls still open (pending) with the process that runs them: what a writable open checks for orphans. */
export const OPEN_CALL_INDEX = `CREATE INDEX IF NOT EXISTS agentfs_idx_tool_call_ext_open ON agentfs_tool_call_ext(pid)
  WHERE completed_ns IS NULL AND pid IS NOT NULL`;

/**
 * Children of a call (nesting queries, `e.parent_id = ?`). Partial: a top-level call (most of
 * them) then writes no index page when it starts. Replaces PARENT_INDEX_OLD, a full index.
 */
export const PARENT_INDEX = `CREATE INDEX IF NOT EXISTS agentfs_idx_tool_call_ext_parent ON agentfs_tool_call_ext(parent_id)
  WHERE parent_id IS NOT NULL`;
export const PARENT_INDEX_OLD = 'idx_agentfs_tool_call_ext_parent';

export const TOOL_CALLS_SCHEMA: readonly string[] = [
  // Per call we started: the enclosing call (nesting), nanosecond times for ordering against the
  // file-operation journal, and the process that ran it.
  `CREATE TABLE IF NOT EXISTS agentfs_tool_call_ext (
    id INTEGER PRIMARY KEY,
    parent_id INTEGER,
    started_ns INTEGER,
    completed_ns INTEGER,
    pid INTEGER
  )`,
  PARENT_INDEX,
  OPEN_CALL_INDEX,
  // Calls announced to other processes while they run (agentfs record / run): a mount served by
  // another process attributes the file operations it journals to the newest live one.
  `CREATE TABLE IF NOT EXISTS agentfs_active_call (
    id INTEGER PRIMARY KEY,
    pid INTEGER NOT NULL,
    started_ns INTEGER NOT NULL
  )`,
  // Spec-text layout only (tool_calls without status, completed_at NOT NULL): pending calls wait
  // here under their reserved id until they finish.
  `CREATE TABLE IF NOT EXISTS agentfs_tool_call_pending (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    parameters TEXT,
    started_at INTEGER NOT NULL
  )`,
];
