/**
 * Why SQLite could not open or write a database file, in words: SQLite itself says only
 * "attempt to write a readonly database", "unable to open database file" or, through libsql,
 * `ConnectionFailed("... 14")`, and a database in a directory we may not write used to be called
 * corrupt. In WAL mode a writer needs the file, its directory (to create `-wal` and `-shm`) and
 * those two files, all writable.
 */
import { accessSync, closeSync, constants, existsSync, openSync, statfsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { StoreError } from './errors.js';

/** What stands in the way of using file (for writing when write is true), or undefined. */
export function accessProblem(file: string, write: boolean): string | undefined {
  const dir = dirname(file);
  const why = (path: string, mode: number): string | undefined => {
    try {
      accessSync(path, mode);
      return undefined;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return code === 'EROFS' ? 'is on a read-only file system' : code === 'ENOENT' ? 'does not exist' : 'is not writable by this user';
    }
  };
  if (!existsSync(file)) {
    const d = why(dir, constants.W_OK | constants.X_OK);
    return d ? `directory ${dir} ${d}, so ${basename(file)} cannot be created there` : undefined;
  }
  if (write) {
    const f = why(file, constants.W_OK);
    if (f) return `${file} ${f}`;
  } else {
    const f = why(file, constants.R_OK);
    if (f) return `${file} is not readable by this user`;
  }
  for (const side of [`${file}-wal`, `${file}-shm`]) {
    if (!existsSync(side)) continue;
    // a reader needs to write the -shm too (to take its read lock), unless nobody else has it open
    const s = why(side, write ? constants.W_OK : constants.R_OK | constants.W_OK);
    if (s) return `${side} ${s} (left behind by another user or a read-only copy?); remove it or fix its permissions`;
  }
  if (write) {
    const d = why(dir, constants.W_OK | constants.X_OK);
    if (d && (!existsSync(`${file}-wal`) || !existsSync(`${file}-shm`))) {
      return `directory ${dir} ${d}, and SQLite needs to create ${basename(file)}-wal and ${basename(file)}-shm there`;
    }
  }
  return undefined;
}

/** Throws a StoreError naming the file and the reason when cause was a permission problem. */
export function throwAccessProblem(file: string, cause: unknown, write: boolean): void {
  if (cause instanceof StoreError) return;
  const problem = accessProblem(file, write);
  if (problem) {
    // the reason is ours; SQLite's words for it ("... 14", "readonly database") add nothing
    throw new StoreError('denied', `cannot ${write ? 'write' : 'read'} ${file}: ${problem}`);
  }
}

/**
 * As throwAccessProblem, for a failed open: also says when the file system is full. Even a
 * reader needs room (it grows the -shm to take its read lock), and SQLite calls that failure a
 * "disk I/O error", which read as a corrupt database.
 */
export function throwOpenProblem(file: string, cause: unknown, write: boolean): void {
  throwAccessProblem(file, cause, write);
  if (cause instanceof StoreError) return;
  // SQLITE_FULL: the room ran out while opening (a few blocks were left); none left at all: SQLite
  // could not even grow the -shm
  if ((cause as { code?: unknown })?.code === 'SQLITE_FULL' || fileSystemFull(dirname(file))) {
    throw new StoreError('no-space', `cannot open ${file}: no space left on device (the file system holding ${dirname(file)} is full)`);
  }
  // SQLite says only "unable to open database file" (libsql: ConnectionFailed(... 14)), which read
  // as a damaged database
  const none = descriptorsExhausted();
  if (none) {
    throw new StoreError(
      'no-descriptors',
      none === 'EMFILE'
        ? `cannot open ${file}: this process has no file descriptor left (EMFILE); close the agents it no longer uses, or raise its limit (ulimit -n)`
        : `cannot open ${file}: the system has no file descriptor left (ENFILE)`,
    );
  }
}

/** EMFILE or ENFILE when no file can be opened now for want of descriptors, else undefined. */
function descriptorsExhausted(): 'EMFILE' | 'ENFILE' | undefined {
  try {
    closeSync(openSync('/dev/null', 'r'));
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'EMFILE' || code === 'ENFILE' ? code : undefined;
  }
}

/** Whether the file system holding dir has no block left that this process may use. */
export function fileSystemFull(dir: string): boolean {
  try {
    const s = statfsSync(dir);
    // root may also use the blocks reserved for it
    return (process.getuid?.() === 0 ? s.bfree : s.bavail) === 0;
  } catch {
    return false;
  }
}
