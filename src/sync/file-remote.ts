/**
 * `file:` remotes: a local database file used exactly as a remote server is (tests, offline
 * copies, a USB stick). @libsql/client runs each batch in one local SQLite transaction, so a push
 * stays atomic; what a server would refuse by itself is checked here instead.
 */
import { existsSync, lstatSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SyncError } from './errors.js';
import { StoreError, checkForeignTextInFile } from '../store/index.js';
import type { RemoteDb } from './remote.js';
import { inspectRemote } from './remote-schema.js';

export function isFileUrl(url: string): boolean {
  return /^file:/i.test(url);
}

/** The file a `file:` URL names, absolute (relative paths start at the current directory). */
export function fileRemotePath(url: string): string {
  let rest = url.slice('file:'.length);
  if (rest.startsWith('//')) {
    const end = rest.indexOf('/', 2);
    const host = rest.slice(2, end < 0 ? undefined : end);
    if (host && host.toLowerCase() !== 'localhost') {
      throw new SyncError(`remote ${url}: a file: URL names a local file, not one on host '${host}' (use file:///absolute/path.db or file:relative/path.db)`, 'usage');
    }
    rest = end < 0 ? '' : rest.slice(end);
  }
  if (rest.startsWith(':memory:') || rest === '') {
    throw new SyncError(`remote ${url}: a file: remote needs a database file (an in-memory database would vanish with the command)`, 'usage');
  }
  if (/[?#]/.test(rest)) throw new SyncError(`remote ${url}: a file: URL takes no query or fragment; name just the file`, 'usage');
  try {
    return resolve(decodeURIComponent(rest));
  } catch {
    throw new SyncError(`remote ${url}: bad %-escape in the path`, 'usage');
  }
}

/** The canonical URL of a file remote: absolute, so a remembered one works from any directory. */
export function normalizeFileUrl(url: string): string {
  return pathToFileURL(fileRemotePath(url)).href;
}

/**
 * Refuses a file remote that is this agent's own database (sync would read and write one file
 * as two sides), that is not a regular file, or that does not exist when only read (pull and
 * status must not create it; a push creates it as a first push fills a fresh remote database).
 * Returns the path of the file the command will create, if it will (through links: their target).
 */
export function checkFileRemote(url: string, localDb: string, create: boolean, timeoutMs = 0): string | undefined {
  const path = fileRemotePath(url);
  if (existsSync(path)) {
    const st = statSync(path);
    if (!st.isFile()) throw new SyncError(`remote ${url} is not a file`, 'usage');
    const me = statSync(localDb);
    if (st.dev === me.dev && st.ino === me.ino) {
      throw new SyncError(`remote ${url} is this agent's own database: sync needs another file`, 'usage');
    }
    // text another program stored as non-UTF-8 would abort libsql while we read the remote
    try {
      checkForeignTextInFile(path, timeoutMs);
    } catch (e) {
      if (e instanceof StoreError) throw new SyncError(`remote ${url}: ${e.message.slice(path.length + 2)}`, 'corrupt');
      if ((e as { code?: unknown }).code === 'SQLITE_BUSY') {
        throw new SyncError(`remote ${url} stayed locked by another process (a push or pull in progress?) for the whole --timeout; nothing was changed`, 'busy');
      }
      throw e;
    }
    return undefined;
  }
  if (!create) throw new SyncError(`remote ${url} does not exist (a push creates it)`, 'not-found');
  if (!existsSync(dirname(path))) throw new SyncError(`remote ${url}: directory ${dirname(path)} does not exist`, 'usage');
  return linkTarget(path);
}

/** The file a path names once its symbolic links are followed (a link to a file yet to be made). */
function linkTarget(path: string): string {
  for (let hops = 0; hops < 40; hops++) {
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st?.isSymbolicLink()) return path;
    path = resolve(dirname(path), readlinkSync(path));
  }
  return path;
}

/**
 * Removes a file remote this command created and that holds no agent yet, with its journal
 * files: what a first push that failed (a full disk) made. One another push filled meanwhile
 * (a revision, or rows) stays.
 */
export async function dropUnfilledFileRemote(remote: RemoteDb): Promise<void> {
  const path = remote.madeFile;
  if (!path) return;
  let unfilled: boolean;
  try {
    const info = await inspectRemote(remote);
    unfilled = info.revision === 0 && info.agentEmpty;
  } catch {
    // unreadable: only a file with nothing in it is surely ours alone
    unfilled = statSync(path, { throwIfNoEntry: false })?.size === 0;
  }
  if (!unfilled) return;
  remote.close();
  for (const f of [path, `${path}-journal`, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
}
