import { statSync } from 'node:fs';

/**
 * The database files this process has open through libsql, by device and inode.
 *
 * POSIX record locks belong to the process, and closing any descriptor of a file drops all of
 * them. A header read through node:fs (open, read, close) while a connection had the file open
 * took that connection's locks away; another process closing its own connection then found no
 * one else on the file, checkpointed and deleted the -wal and -shm under ours, which from then on
 * read "database disk image is malformed" (two SDK processes writing beside a process with two
 * connections). SQLite keeps its own descriptors of a file open while any of its connections
 * holds locks on it; our reads of a file already open here are skipped instead (it was checked
 * when it was first opened).
 */
const openFiles = new Map<string, number>();
/**
 * Files a connection that took locks was opened on and closed since. libsql cannot finalize
 * prepared statements, so its close() leaves the connection (its descriptors, and in WAL mode its
 * SHARED lock on the file) open until garbage collection, and a header read meanwhile (a Store
 * closed and opened again) dropped that lock, which the new connection, sharing SQLite's
 * per-inode lock state, believed it held. Kept for the life of the process (a file renamed over
 * one is another inode: checked).
 */
const closedLocked = new Set<string>();

function keyOf(file: string): string | undefined {
  try {
    const st = statSync(file);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * A connection of this process has `file` open now, or (unless `openOnly`) had it open with locks
 * that may outlive its close. openOnly: for a caller that has seen no -wal and -shm, which a WAL
 * connection keeps while it lives, so a closed one holds no lock (nor a rollback-journal one,
 * between transactions).
 */
export function heldOpen(file: string, openOnly = false): boolean {
  const key = keyOf(file);
  return key !== undefined && (openFiles.has(key) || (!openOnly && closedLocked.has(key)));
}

/** A connection that takes locks was opened on `file` (its close is never known: see closedLocked). */
export function noteLocked(file: string): void {
  const key = keyOf(file);
  if (key !== undefined) closedLocked.add(key);
}

/** Notes a connection to `file`; the function returned notes its close (`locked`: it took locks). */
export function noteOpen(file: string): (locked: boolean) => void {
  const key = keyOf(file);
  if (key === undefined) return () => {};
  openFiles.set(key, (openFiles.get(key) ?? 0) + 1);
  let done = false;
  return (locked) => {
    if (done) return;
    done = true;
    if (locked) closedLocked.add(key);
    const n = (openFiles.get(key) ?? 1) - 1;
    if (n > 0) openFiles.set(key, n);
    else openFiles.delete(key);
  };
}
