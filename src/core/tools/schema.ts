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
  // Per call we started: the enclosing call (nesting), its start in nanoseconds (ordering against
  // the file-operation journal) and the process that ran it (orphans). completed_ns: the end, as
  // earlier versions wrote it at finish (readers still prefer it where present).
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

/** 1e15: past every time in seconds or milliseconds (years 31,000,000 and 33,658), below every start in ns since 1970-01-12 */
const NS_FLOOR = 1_000_000_000_000_000;

/**
 * Per connection (TEMP, never in the file; this process's pid is in its text): a start is one
 * INSERT into tool_calls (START_CALL) with no transaction around it, AUTOINCREMENT giving the id,
 * and this trigger writes the call's ext row in the same statement, atomic with it. The insert
 * carries the ext row's values in two columns a pending row leaves empty, which the trigger
 * empties again before the statement ends, so no reader ever sees them: completed_at holds the
 * start in nanoseconds, duration_ms the parent. Any other row (a pending one pulled by sync, or
 * another program's through this connection) is left alone: no Unix time in seconds or
 * milliseconds reaches NS_FLOOR. The values are cast back: a tool_calls another program made
 * with REAL or TEXT time columns (remade while this connection runs; ToolCalls.shortcut() takes
 * no shortcut on one it finds so) stores them as such, and they must not stay. (An INSTEAD OF trigger on a temp view, the earlier way, cost
 * ~2 µs more a start+finish, and the id had to be proposed.)
 */
export function startTrigger(pid: number): string {
  return `CREATE TEMP TRIGGER IF NOT EXISTS agentfs_call_starting AFTER INSERT ON main.tool_calls
    WHEN NEW.status = 'pending' AND typeof(NEW.completed_at) IN ('integer', 'real', 'text') AND CAST(NEW.completed_at AS INTEGER) > ${NS_FLOOR}
  BEGIN
    INSERT OR REPLACE INTO agentfs_tool_call_ext (id, parent_id, started_ns, pid)
      VALUES (NEW.id, CAST(NEW.duration_ms AS INTEGER), CAST(NEW.completed_at AS INTEGER), ${Math.trunc(pid)});
    UPDATE tool_calls SET completed_at = NULL, duration_ms = NULL WHERE id = NEW.id;
  END`;
}

/** The start through startTrigger: name, parameters, started_at, then the start in ns and the parent. */
export const START_CALL = `INSERT INTO tool_calls (name, parameters, status, started_at, completed_at, duration_ms) VALUES (?, ?, 'pending', ?, ?, ?)`;

/**
 * The end of a live call, if it is still pending and still the call this process started (its
 * name and start): a row that took its id meanwhile (a `sync pull --theirs`, another program
 * remaking the table) is another call and stays as it is; a finish changes nothing otherwise. Its
 * ext row is not touched: the end in nanoseconds it once got cost every finish a WAL frame, and
 * readers take the end from started_ns + duration_ms (whole milliseconds, as the spec stores it).
 */
export const FINISH_CALL = `UPDATE tool_calls SET status = ?, result = ?, error = ?, completed_at = ?, duration_ms = ?
  WHERE id = ? AND status = 'pending' AND name = ? AND started_at = ?`;

/** The id AUTOINCREMENT would give the next call (past both the largest id ever given and the largest present). */
export const NEXT_CALL_ID = `SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'tool_calls'), 0), COALESCE((SELECT max(id) FROM tool_calls), 0)) + 1`;
