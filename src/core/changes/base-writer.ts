import { spawnSync } from 'node:child_process';
import { pathSteps, tooLongForOneCall } from '../host-path.js';
import {
  chmodSync, closeSync, constants as C, lchownSync, lstatSync, lutimesSync, mkdirSync, openSync, readdirSync, renameSync,
  rmdirSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeSync, type Stats,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { Attr, Timespec } from '../types.js';
import { AgentfsError } from '../../errors.js';

let tempSeq = 0;

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** rm -rf of a host path, also when the tree below it is deeper than one syscall can name. */
function removeTree(host: string): void {
  try {
    rmSync(host, { recursive: true, force: true });
    return;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENAMETOOLONG') throw e;
  }
  const fd = openSync(host, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
  try {
    const dir = `/proc/self/fd/${fd}`;
    for (const name of readdirSync(`${dir}/`)) {
      const child = `${dir}/${name}`;
      if (lstatSync(child).isDirectory()) removeTree(child);
      else unlinkSync(child);
    }
  } finally {
    closeSync(fd);
  }
  rmdirSync(host);
}

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

  /**
   * Runs fn with host paths of `path` and of its directory that fit one syscall (with room for a
   * temporary name in the directory): the plain ones, or through a descriptor of the directory.
   */
  private at<T>(path: string, fn: (host: string, dir: string) => T): T {
    const real = this.real(path);
    if (path === '/' || !tooLongForOneCall(`${real}-${'x'.repeat(64)}`)) return fn(real, dirname(real));
    const fd = this.openDir(parentOf(path));
    try {
      const dir = `/proc/self/fd/${fd}`;
      return fn(`${dir}/${path.slice(path.lastIndexOf('/') + 1)}`, dir);
    } finally {
      closeSync(fd);
    }
  }

  /** A descriptor of base directory `path`, opened from the base in steps; never through a symlink. */
  private openDir(path: string): number {
    let fd = openSync(this.dir, C.O_RDONLY | C.O_DIRECTORY);
    for (const rel of pathSteps(path)) {
      const from = fd;
      try {
        fd = openSync(`/proc/self/fd/${from}/${rel}`, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
      } finally {
        closeSync(from);
      }
    }
    return fd;
  }

  lstat(path: string): Stats | undefined {
    try {
      return this.at(path, (host) => lstatSync(host));
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

  private static tempName(): string {
    return `.agentfs-commit-${process.pid}-${++tempSeq}`;
  }

  /** Removes whatever is at host path, unless it is a directory we are about to keep. */
  private clear(host: string, keepDir: boolean): void {
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) {
      if (!keepDir) removeTree(host);
    } else if (keepDir) unlinkSync(host);
  }

  writeFile(path: string, attr: Attr, chunks: Iterable<Buffer>): void {
    this.checkParents(path);
    this.at(path, (target, dir) => {
      const tmp = `${dir}/${BaseWriter.tempName()}`;
      const fd = openSync(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
      try {
        try {
          for (const chunk of chunks) {
            let done = 0;
            while (done < chunk.length) done += writeSync(fd, chunk, done, chunk.length - done);
          }
        } finally {
          closeSync(fd);
        }
      } catch (e) {
        // a full base disk: the copy half written must not stay there and keep it full
        rmSync(tmp, { force: true });
        const err = e as NodeJS.ErrnoException;
        if (typeof err?.message === 'string' && err.code) err.message = `${err.message} (writing ${path} into the base)`;
        throw e;
      }
      this.finish(tmp, attr, false);
      this.clear(target, false);
      renameSync(tmp, target);
    });
  }

  writeSymlink(path: string, attr: Attr, target: string): void {
    this.checkParents(path);
    this.at(path, (host, dir) => {
      const tmp = `${dir}/${BaseWriter.tempName()}`;
      symlinkSync(target, tmp);
      this.finish(tmp, attr, true);
      this.clear(host, false);
      renameSync(tmp, host);
    });
  }

  writeFifo(path: string, attr: Attr): void {
    this.checkParents(path);
    this.at(path, (host, dir) => {
      const name = BaseWriter.tempName();
      // run in the directory: a /proc/self/fd path names the same directory in the child until exec
      const r = spawnSync('mkfifo', ['-m', (attr.mode & 0o7777).toString(8), '--', name], { cwd: dir });
      if (r.status !== 0) throw new AgentfsError('denied', `mkfifo ${path} failed: ${r.stderr?.toString().trim()}`);
      const tmp = `${dir}/${name}`;
      this.finish(tmp, attr, false);
      this.clear(host, false);
      renameSync(tmp, host);
    });
  }

  /** Makes path a directory with attr's mode and owner (times are set later, see dirTimes). */
  ensureDir(path: string, attr: Attr): void {
    this.checkParents(path);
    this.at(path, (host) => {
      this.clear(host, true);
      if (!lstatSync(host, { throwIfNoEntry: false })) mkdirSync(host, { mode: 0o700 });
      this.chown(host, attr, false);
      chmodSync(host, attr.mode & 0o7777);
    });
  }

  dirTimes(path: string, attr: Attr): void {
    try {
      this.at(path, (host) => {
        if (lstatSync(host, { throwIfNoEntry: false })?.isDirectory()) utimesSync(host, secs(attr.atime), secs(attr.mtime));
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
    }
  }

  rename(from: string, to: string): void {
    this.checkParents(from);
    this.checkParents(to);
    this.at(from, (a) => this.at(to, (b) => renameSync(a, b)));
  }

  /** Makes everything written so far durable (syncfs of the base's filesystem). */
  sync(): void {
    const r = spawnSync('sync', ['-f', this.dir]);
    if (r.status !== 0) spawnSync('sync');
  }

  remove(path: string): void {
    try {
      this.checkParents(path);
    } catch (e) {
      // a directory above it is gone or a file now (written over earlier in this commit, which
      // took the entry with it): nothing left to remove (a symlink there is still refused)
      for (let p = parentOf(path); p !== '/'; p = parentOf(p)) {
        const st = this.lstat(p);
        if (!st || (!st.isDirectory() && !st.isSymbolicLink())) return;
      }
      throw e;
    }
    try {
      this.at(path, (host) => removeTree(host));
    } catch (e) {
      // already gone (force), as rm -rf
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
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
