import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { StoreError } from './errors.js';
import { heldOpen } from './open-files.js';

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * Refuses, before SQLite opens it (and could write to it), anything that is not a SQLite file:
 * a directory, an empty file, a file with another header.
 */
export function checkSqliteHeader(file: string): void {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    throw new StoreError('not-found', `cannot open ${file}: ${(e as Error).message}`);
  }
  if (!st.isFile()) throw new StoreError('foreign', `${file} is not a regular file`);
  if (st.size === 0) throw new StoreError('foreign', `${file} is empty, not an AgentFS database`);
  // open here already (checked then): reading it now would drop that connection's locks (open-files.ts)
  if (heldOpen(file)) return;
  if (!readHead(file, 16).equals(SQLITE_MAGIC)) throw new StoreError('foreign', `${file} is not a SQLite database (bad header)`);
}

/** The first `bytes` bytes of a file (zeros past its end). Never of a file open here (heldOpen): see open-files.ts. */
export function readHead(file: string, bytes: number): Buffer {
  const head = Buffer.alloc(bytes);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, bytes, 0);
  } finally {
    closeSync(fd);
  }
  return head;
}
