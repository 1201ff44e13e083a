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

/**
 * Per connection (TEMP, never in the file): start and finish of a call as one statement each,
 * with no transaction around them (a statement is atomic with what its triggers do).
 * Start: the ext row's values wait in agentfs_call_next, and the insert of the pending
 * tool_calls row writes the ext row from them (the row's id is the insert's own). Finish: an
 * insert into the view agentfs_call_finish checks that the call is pending (else aborts with
 * CALL_NOT_PENDING, changing nothing), stores its end and closes its ext row and announcement.
 * Only for the layout with tool_calls.status.
 */
export const CALL_NOT_PENDING = 'agentfs: tool call not pending';
export const CALL_SHORTCUTS: readonly string[] = [
  `CREATE TEMP TABLE IF NOT EXISTS agentfs_call_next (
    k INTEGER PRIMARY KEY CHECK (k = 0),
    parent_id INTEGER,
    started_ns INTEGER NOT NULL,
    pid INTEGER NOT NULL
  )`,
  `CREATE TEMP TRIGGER IF NOT EXISTS agentfs_call_started AFTER INSERT ON main.tool_calls WHEN NEW.status = 'pending'
  BEGIN
    INSERT INTO agentfs_tool_call_ext (id, parent_id, started_ns, pid) SELECT NEW.id, parent_id, started_ns, pid FROM agentfs_call_next;
    DELETE FROM agentfs_call_next;
  END`,
  `CREATE TEMP VIEW IF NOT EXISTS agentfs_call_finish AS
    SELECT NULL AS id, NULL AS status, NULL AS result, NULL AS error, NULL AS completed_at, NULL AS duration_ms, NULL AS completed_ns`,
  `CREATE TEMP TRIGGER IF NOT EXISTS agentfs_call_finishing INSTEAD OF INSERT ON agentfs_call_finish
  BEGIN
    SELECT RAISE(ABORT, '${CALL_NOT_PENDING}') WHERE NOT EXISTS (SELECT 1 FROM tool_calls WHERE id = NEW.id AND status = 'pending');
    UPDATE tool_calls SET status = NEW.status, result = NEW.result, error = NEW.error, completed_at = NEW.completed_at,
      duration_ms = NEW.duration_ms WHERE id = NEW.id;
    UPDATE agentfs_tool_call_ext SET completed_ns = NEW.completed_ns WHERE id = NEW.id;
    DELETE FROM agentfs_active_call WHERE id = NEW.id;
  END`,
];
