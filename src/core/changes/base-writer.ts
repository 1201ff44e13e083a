import { spawnSync } from 'node:child_process';
import {
  chmodSync, closeSync, constants as C, lchownSync, lstatSync, lutimesSync, mkdirSync, openSync, renameSync,
  rmSync, symlinkSync, unlinkSync, utimesSync, writeSync, type Stats,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { Attr, Timespec } from '../types.js';
import { AgentfsError } from '../../errors.js';

let tempSeq = 0;

function secs(t: Timespec): number {
  // Node's utimes takes (double) seconds: sub-microsecond digits do not survive
  return t.sec + t.nsec / 1e9;
}

/**
 * Writes into the real base directory for commit. Every write lands in a temporary name in the
 * target's directory and is renamed over the target, so an interrupted commit leaves each file
 * either old or new; sync() makes the lot durable at once (one syncfs instead of an fsync per
 * file), before the delta lets go of anything. Paths are overlay paths; no component of the base path may be a symlink
 * (a base symlink never leads a commit outside the base).
 */
export class BaseWriter {
  constructor(readonly dir: string) {}

  real(path: string): string {
    return path === '/' ? this.dir : join(this.dir, path);
  }

  lstat(path: string): Stats | undefined {
    try {
      return lstatSync(this.real(path));
    } catch {
      return undefined;
    }
  }

  /** Throws unless every ancestor of path inside the base is a real directory. */
  checkParents(path: string): void {
    const parts = path.split('/').filter(Boolean);
    let cur = '';
    for (let i = 0; i < parts.length - 1; i++) {
      cur += `/${parts[i]}`;
      const st = this.lstat(cur);
      if (!st || !st.isDirectory()) throw new AgentfsError('conflict', `base path ${cur} is not a directory (${st?.isSymbolicLink() ? 'a symlink' : 'missing'}); not writing ${path}`);
    }
  }

  private temp(path: string): string {
    return join(dirname(this.real(path)), `.agentfs-commit-${process.pid}-${++tempSeq}`);
  }

  /** Removes whatever is at path, unless it is a directory we are about to keep. */
  private clear(path: string, keepDir: boolean): void {
    const st = this.lstat(path);
    if (!st) return;
    if (st.isDirectory()) {
      if (!keepDir) rmSync(this.real(path), { recursive: true, force: true });
    } else if (keepDir) unlinkSync(this.real(path));
  }

  writeFile(path: string, attr: Attr, chunks: Iterable<Buffer>): void {
    this.checkParents(path);
    const tmp = this.temp(path);
    const fd = openSync(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
    try {
      for (const chunk of chunks) {
        let done = 0;
        while (done < chunk.length) done += writeSync(fd, chunk, done, chunk.length - done);
      }
    } finally {
      closeSync(fd);
    }
    this.finish(tmp, attr, false);
    this.clear(path, false);
    renameSync(tmp, this.real(path));
  }

  writeSymlink(path: string, attr: Attr, target: string): void {
    this.checkParents(path);
    const tmp = this.temp(path);
    symlinkSync(target, tmp);
    this.finish(tmp, attr, true);
    this.clear(path, false);
    renameSync(tmp, this.real(path));
  }

  writeFifo(path: string, attr: Attr): void {
    this.checkParents(path);
    const tmp = this.temp(path);
    const r = spawnSync('mkfifo', ['-m', (attr.mode & 0o7777).toString(8), tmp]);
    if (r.status !== 0) throw new Error(`mkfifo ${path} failed: ${r.stderr?.toString().trim()}`);
    this.finish(tmp, attr, false);
    this.clear(path, false);
    renameSync(tmp, this.real(path));
  }

  /** Makes path a directory with attr's mode and owner (times are set later, see dirTimes). */
  ensureDir(path: string, attr: Attr): void {
    this.checkParents(path);
    this.clear(path, true);
    if (!this.lstat(path)) mkdirSync(this.real(path), { mode: 0o700 });
    this.chown(this.real(path), attr, false);
    chmodSync(this.real(path), attr.mode & 0o7777);
  }

  dirTimes(path: string, attr: Attr): void {
    if (this.lstat(path)?.isDirectory()) utimesSync(this.real(path), secs(attr.atime), secs(attr.mtime));
  }

  rename(from: string, to: string): void {
    this.checkParents(from);
    this.checkParents(to);
    renameSync(this.real(from), this.real(to));
  }

  /** Makes everything written so far durable (syncfs of the base's filesystem). */
  sync(): void {
    const r = spawnSync('sync', ['-f', this.dir]);
    if (r.status !== 0) spawnSync('sync');
  }

  remove(path: string): void {
    this.checkParents(path);
    rmSync(this.real(path), { recursive: true, force: true });
  }

  private chown(real: string, attr: Attr, link: boolean): void {
    const st = lstatSync(real);
    if (st.uid === attr.uid && st.gid === attr.gid) return;
    try {
      lchownSync(real, attr.uid, attr.gid);
    } catch (e) {
      // not root: the file keeps the committing user's ownership
      if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    }
    void link;
  }

  private finish(tmp: string, attr: Attr, link: boolean): void {
    this.chown(tmp, attr, link);
    if (!link) {
      chmodSync(tmp, attr.mode & 0o7777); // after chown, which clears set-id bits
      utimesSync(tmp, secs(attr.atime), secs(attr.mtime));
    } else {
      lutimesSync(tmp, secs(attr.atime), secs(attr.mtime));
    }
  }
}
