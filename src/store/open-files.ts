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

/** Notes a connection to `file`; the function returned notes its close. */
export function noteOpen(file: string): () => void {
  const key = keyOf(file);
  if (key === undefined) return () => {};
  openFiles.set(key, (openFiles.get(key) ?? 0) + 1);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const n = (openFiles.get(key) ?? 1) - 1;
    if (n > 0) openFiles.set(key, n);
    else openFiles.delete(key);
  };
}
