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

function keyOf(file: string): string | undefined {
  try {
    const st = statSync(file);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** A connection of this process has `file` open now. */
export function heldOpen(file: string): boolean {
  const key = keyOf(file);
  return key !== undefined && openFiles.has(key);
}

/**
 * Notes a connection to `file`; the function returned notes its close. A closed connection still
 * counts: libsql cannot finalize prepared statements, so its close() leaves the connection (its
 * descriptors, and its SHARED lock on the file) open until garbage collection, and a header read
 * meanwhile (a Store closed and opened again) dropped that lock, which the new connection, sharing
 * SQLite's per-inode lock state, believed it held. The file stays noted for the life of the
 * process (while its inode is held, it is no other file's; a file renamed over it is checked).
 */
export function noteOpen(file: string): () => void {
  const key = keyOf(file);
  if (key === undefined) return () => {};
  openFiles.set(key, (openFiles.get(key) ?? 0) + 1);
  return () => {};
}
