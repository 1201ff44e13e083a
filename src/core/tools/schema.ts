/**
 * Our tables beside the spec's tool_calls (never new columns in it, so other implementations
 * still read the file).
 */
/**
 * The partial index of open calls of earlier versions, dropped: its entry was a WAL frame at
 * every start and another at every finish (~11 µs of a start+success at WAL+NORMAL). A writable
 * open reads the calls from OPEN_FROM_KEY on instead.
 */
export const OLD_OPEN_CALL_INDEX = 'agentfs_idx_tool_call_ext_open';
/** agentfs_meta key: every call with a lower id was closed when a writable open last looked */
export const OPEN_FROM_KEY = 'tool_calls_open_from';

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
 * with no transaction around them (a statement is atomic with what its triggers do). Only for
 * the layout with tool_calls.status.
 * Start: an insert into the view agentfs_call_start writes the pending tool_calls row, its ext
 * row and (shared) its announcement. The id is proposed by this process (NEXT_CALL_ID, read
 * outside the write lock) and checked here, under it, to be past every id given so far, as
 * AUTOINCREMENT would choose it: taken (CALL_ID_TAKEN, or the primary key), the statement wrote
 * nothing and runs again with an id read afresh. (Choosing it inside the statement needed its
 * RETURNING row back: ~1.5 µs more a start.)
 * Finish: an insert into the view agentfs_call_finish stores the call's end if it is pending (else
 * aborts with CALL_NOT_PENDING, changing nothing), closes its ext row and drops its announcement.
 */
export const CALL_NOT_PENDING = 'agentfs: tool call not pending';
export const CALL_ID_TAKEN = 'agentfs: tool call id taken';
export const CALL_SHORTCUTS: readonly string[] = [
  `CREATE TEMP VIEW IF NOT EXISTS agentfs_call_start AS
    SELECT NULL AS id, NULL AS name, NULL AS parameters, NULL AS started_at, NULL AS parent_id, NULL AS started_ns, NULL AS pid, NULL AS shared`,
  `CREATE TEMP TRIGGER IF NOT EXISTS agentfs_call_starting INSTEAD OF INSERT ON agentfs_call_start
  BEGIN
    SELECT RAISE(ABORT, '${CALL_ID_TAKEN}') WHERE NEW.id <= (SELECT seq FROM sqlite_sequence WHERE name = 'tool_calls');
    INSERT INTO tool_calls (id, name, parameters, status, started_at) VALUES (NEW.id, NEW.name, NEW.parameters, 'pending', NEW.started_at);
    INSERT OR REPLACE INTO agentfs_tool_call_ext (id, parent_id, started_ns, pid) VALUES (NEW.id, NEW.parent_id, NEW.started_ns, NEW.pid);
    INSERT OR REPLACE INTO agentfs_active_call (id, pid, started_ns) SELECT NEW.id, NEW.pid, NEW.started_ns WHERE NEW.shared;
  END`,
  `CREATE TEMP VIEW IF NOT EXISTS agentfs_call_finish AS
    SELECT NULL AS id, NULL AS status, NULL AS result, NULL AS error, NULL AS completed_at, NULL AS duration_ms, NULL AS completed_ns, NULL AS shared`,
  `CREATE TEMP TRIGGER IF NOT EXISTS agentfs_call_finishing INSTEAD OF INSERT ON agentfs_call_finish
  BEGIN
    UPDATE tool_calls SET status = NEW.status, result = NEW.result, error = NEW.error, completed_at = NEW.completed_at,
      duration_ms = NEW.duration_ms WHERE id = NEW.id AND status = 'pending';
    SELECT RAISE(ABORT, '${CALL_NOT_PENDING}') WHERE changes() = 0;
    UPDATE agentfs_tool_call_ext SET completed_ns = NEW.completed_ns WHERE id = NEW.id;
    DELETE FROM agentfs_active_call WHERE NEW.shared AND id = NEW.id;
  END`,
];

/** The id AUTOINCREMENT would give the next call (past both the largest id ever given and the largest present). */
export const NEXT_CALL_ID = `SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'tool_calls'), 0), COALESCE((SELECT max(id) FROM tool_calls), 0)) + 1`;

/** The start through agentfs_call_start, with the id proposed. */
export const START_CALL = `INSERT INTO temp.agentfs_call_start (id, name, parameters, started_at, parent_id, started_ns, pid, shared)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?)`;
