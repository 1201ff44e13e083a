import { pathSteps, tooLongForOneCall } from '../host-path.js';
import { closeSync, constants as C, fstatSync, openSync, readSync, readlinkSync, statfsSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { FsError } from '../errors.js';
import { textFromBytes } from '../fs/names.js';
import type { Attr } from '../types.js';
import { S_IFDIR, S_IFMT } from '../types.js';
import { hostFs, type HostFs, type HostStat } from './host-stat.js';

/** One entry of a base directory, with what readdir needs (no extra stat later). */
export interface BaseEntry {
  name: string;
  ino: number;
  mode: number;
  /** lstat of the entry when the listing was made */
  stats: HostStat;
  /** the same as an Attr, made on first use */
  attr?: Attr;
}

interface ListingCache {
  /** the directory's own lstat when listed: the listing holds while its mtime and ctime do */
  dir: HostStat;
  entries: BaseEntry[];
  /** entries left out because their names are not UTF-8 */
  unnamed: number;
  /** Date.now() when listed */
  at: number;
}

const MAX_OPEN = 64;
const NOT_REGULAR = 'not a regular file in the base';
const SYMLINK_ON_THE_WAY = 'a directory on the way was replaced by a symlink on the host';
const { ELOOP, EINVAL, ENAMETOOLONG, EXDEV } = osConstants.errno;
const MAX_LISTINGS = 256;
/**
 * File systems (statfs f_type) whose kernel driver sets a directory's ctime to the time of every
 * change to it, so that an unchanged ctime says the directory is unchanged: ext2/3/4, xfs,
 * btrfs, tmpfs, ramfs, f2fs, zfs, bcachefs. FUSE file systems need not (sshfs and
 * `bindfs --ctime-from-mtime` give the mtime, which `touch -r` sets back), nor need network ones,
 * nor overlayfs, which shows a lower-only directory with its lower layer's times, whatever that is.
 */
const CTIME_KEEPING = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994, 0x858458f6, 0xf2f52010, 0x2fc12fc1, 0xca451a4e]);
/**
 * Read-only access to the base directory of an overlay.
 *
 * Every access goes through a directory descriptor opened at construction, as
 * `/proc/self/fd/<fd>/<path>`: the kernel resolves that through the descriptor's directory, not
 * through the path name, so a FUSE mount later placed over the base directory (the sandbox binds
 * the overlay over it) is never read by its own server. Symlinks are only lstat'ed and readlink'ed,
 * never followed (final components are opened with O_NOFOLLOW, and intermediate components are
 * names that were lstat'ed as directories).
 * Paths here are overlay-style absolute paths: '/' is the base root, '/a/b' below it.
 * A host path longer than HOST_PATH_LIMIT (overlay paths reach PATH_MAX and more through relative
 * steps, and `run` reads the base by its own path) is resolved openat-style instead: the
 * directory is opened in steps from the base descriptor and the last name looked up in it.
 */
export class BaseReader {
  readonly dir: string;
  /** the device of the base root (file systems mounted inside the base have others) */
  readonly dev: number;
  /** the base root's file system moves a directory's ctime at every change (CTIME_KEEPING) */
  readonly ctimeKept: boolean;
  private readonly fd: number;
  private readonly prefix: string;
  private readonly open = new Map<string, number>();
  private readonly listings = new Map<string, ListingCache>();
  private readonly host: HostFs;
  private closed = false;
  /** where the base descriptor's directory was when last asked (isBeneath) */
  private rootLink: Buffer | undefined;

  /**
   * `direct`: use the base's own path instead of the descriptor. Path walks through
   * /proc/self/fd cost about 2.5 times a plain lstat; a process that knows nothing is mounted
   * over the base in its mount namespace (the `run` server: the overlay is bound over the base
   * only inside the sandbox's namespace) may take the short way.
   * `host`: how host files are lstat'ed and listed (default: the addon when it loads).
   */
  constructor(dir: string, options: { direct?: boolean; host?: HostFs } = {}) {
    this.dir = dir;
    this.host = options.host ?? hostFs();
    try {
      this.fd = openSync(dir, C.O_RDONLY | C.O_DIRECTORY);
    } catch (e) {
      throw new FsError('ENOENT', 'open', dir, `overlay base directory cannot be opened: ${(e as Error).message}`);
    }
    this.prefix = options.direct ? dir.replace(/\/+$/, '') : `/proc/self/fd/${this.fd}`;
    this.dev = fstatSync(this.fd).dev;
    let type = 0;
    try {
      type = statfsSync(`/proc/self/fd/${this.fd}/`).type; // the descriptor's, not a name's
    } catch {
      /* unknown: not trusted */
    }
    this.ctimeKept = CTIME_KEEPING.has(type);
  }

  /** The base's descriptor, the prefix of every hostPath (a path beneath it follows), its device and whether its ctimes are kept. */
  root(): { fd: number; prefix: string; dev: number; ctimeKept: boolean } {
    return { fd: this.fd, prefix: this.prefix, dev: this.dev, ctimeKept: this.ctimeKept };
  }

  /** Host path through the descriptor (never through the possibly over-mounted name). */
  hostPath(path: string): string {
    // the trailing slash makes lstat look at the directory, not at the /proc magic link
    return path === '/' ? `${this.prefix}/` : this.prefix + path;
  }

  /**
   * Runs fn with a host path of `path` that fits one syscall: the plain one, or
   * `/proc/self/fd/D/name` where D is the parent directory opened step by step (closed after fn).
   */
  private withHost<T>(path: string, fn: (host: string) => T): T {
    const host = this.hostPath(path);
    if (!tooLongForOneCall(host)) return fn(host);
    return this.withDir(parentOf(path), (dir) => fn(`${dir}/${baseName(path)}`));
  }

  /** Runs fn with a host path of directory `path` to which `/name` can be appended. */
  private withDir<T>(path: string, fn: (dir: string) => T): T {
    const host = path === '/' ? this.prefix : this.prefix + path;
    if (!tooLongForOneCall(host + '/' + 'x'.repeat(255))) return fn(host);
    const fd = this.openDir(path);
    try {
      return fn(`/proc/self/fd/${fd}`);
    } finally {
      closeSync(fd);
    }
  }

  /** A descriptor of base directory `path`, opened from the base descriptor in short steps. */
  private openDir(path: string): number {
    let fd = -1;
    for (const rel of pathSteps(path)) {
      const from = fd < 0 ? this.fd : fd;
      try {
        fd = openSync(`/proc/self/fd/${from}/${rel}`, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
      } catch (e) {
        // a symlink where a directory should be is "not a directory" to the walk: never followed
        const err = e as NodeJS.ErrnoException;
        if (err.code === 'ELOOP') err.code = 'ENOTDIR';
        throw err;
      } finally {
        if (from !== this.fd) closeSync(from);
      }
    }
    return fd < 0 ? openSync(`/proc/self/fd/${this.fd}/`, C.O_RDONLY | C.O_DIRECTORY) : fd;
  }

  /**
   * Whether `path` is reached beneath the base descriptor in one call (the addon's openat2): a
   * plain path walk follows a directory on the way that the host swapped for a symlink, and
   * showed the attributes, listing or target of files outside the base.
   */
  private beneath(path: string): boolean {
    return this.host.beneath && !tooLongForOneCall(path);
  }

  /** lstat, or undefined when the path does not exist (or a parent is not a directory, or a symlink on the way). */
  lstat(path: string): HostStat | undefined {
    try {
      if (this.beneath(path)) return this.host.lstat(path.slice(1), this.fd);
      return this.withHost(path, (host) => this.host.lstat(host));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw toFsError(e, 'lstat', path);
    }
  }

  readlink(path: string): string {
    try {
      // bytes first: a target that is not UTF-8 would otherwise change silently (to U+FFFD)
      const bytes = this.beneath(path) ? this.host.readlink(path.slice(1), this.fd) : this.withHost(path, (host) => this.host.readlink(host));
      return textFromBytes(bytes, 'readlink', 'symlink target');
    } catch (e) {
      throw toFsError(e, 'readlink', path);
    }
  }

  /**
   * Entries of a base directory sorted by name, with their lstat; cached while the directory's
   * mtime/ctime hold (and, when given, for at most maxAgeMs).
   */
  list(path: string, maxAgeMs = Infinity): BaseEntry[] {
    const st = this.lstat(path);
    if (!st || (st.mode & S_IFMT) !== S_IFDIR) return [];
    const cached = this.listings.get(path);
    if (cached && sameTime(cached.dir, st) && Date.now() - cached.at <= maxAgeMs) return cached.entries;
    let listing;
    try {
      // names that are not UTF-8 are left out of the merged view, never merged (decoding would
      // turn different names into one U+FFFD-spelled name); hasUnnamed says they are there
      listing = this.beneath(path) ? this.host.list(path.slice(1), this.fd) : this.withDir(path, (dir) => this.host.list(dir));
    } catch (e) {
      throw toFsError(e, 'readdir', path);
    }
    const { names, stats, unnamed } = listing;
    const entries = new Array<BaseEntry>(names.length);
    for (let i = 0; i < names.length; i++) {
      const child = stats[i]!;
      entries[i] = { name: names[i]!, ino: child.ino, mode: child.mode, stats: child };
    }
    if (this.listings.size >= MAX_LISTINGS) this.listings.delete(this.listings.keys().next().value as string);
    this.listings.set(path, { dir: st, entries, unnamed, at: Date.now() });
    return entries;
  }

  /**
   * True when the base directory holds entries the merged view leaves out (names that are not
   * UTF-8): such a directory is not empty, whatever the view shows, so it must not be removed or
   * replaced (a commit would delete files the agent never saw).
   */
  hasUnnamed(path: string): boolean {
    this.list(path);
    return (this.listings.get(path)?.unnamed ?? 0) > 0;
  }

  read(path: string, offset: number, length: number): Buffer {
    const fd = this.fdFor(path);
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buf, done, length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return done === length ? buf : buf.subarray(0, done);
  }

  /** Drops a cached descriptor (after the path stopped referring to the same file). */
  forget(path: string): void {
    const fd = this.open.get(path);
    if (fd !== undefined) {
      this.open.delete(path);
      closeSync(fd);
    }
  }

  /** Drops every cached descriptor and listing (the base was changed by commit). */
  forgetAll(): void {
    for (const fd of this.open.values()) closeSync(fd);
    this.open.clear();
    this.listings.clear();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.open.values()) closeSync(fd);
    this.open.clear();
    closeSync(this.fd);
  }

  /**
   * Whether descriptor `fd` is the file at base path `path` itself, reached through no symlink:
   * O_NOFOLLOW guards the last name only, and a directory on the way swapped for a symlink on the
   * host (by whoever owns the base) led out of the base, to files only this process may read.
   * The kernel's name of the descriptor must be the base's own followed by `path`.
   */
  private isBeneath(fd: number, path: string): boolean {
    try {
      const at = readlinkSync(`/proc/self/fd/${fd}`, 'buffer');
      const under = (root: Buffer) => at.equals(Buffer.concat([root.length === 1 ? Buffer.alloc(0) : root, Buffer.from(path)]));
      // the root's own path as last seen, read again only when it does not match (the base was moved)
      if (this.rootLink && under(this.rootLink)) return true;
      this.rootLink = readlinkSync(`/proc/self/fd/${this.fd}`, 'buffer');
      return under(this.rootLink);
    } catch (e) {
      // a name longer than the kernel gives back: the file walked to one name at a time
      if ((e as NodeJS.ErrnoException).code !== 'ENAMETOOLONG') return false;
      return this.sameAsWalked(fd, path);
    }
  }

  /** Whether `fd` is the file reached from the base one name at a time, each O_NOFOLLOW. */
  private sameAsWalked(fd: number, path: string): boolean {
    const names = path.split('/').filter(Boolean);
    let at = this.fd;
    try {
      names.forEach((name, i) => {
        const last = i === names.length - 1;
        const next = openSync(`/proc/self/fd/${at}/${name}`, C.O_RDONLY | C.O_NOFOLLOW | (last ? C.O_NONBLOCK : C.O_DIRECTORY));
        if (at !== this.fd) closeSync(at);
        at = next;
      });
      const [a, b] = [fstatSync(fd, { bigint: true }), fstatSync(at, { bigint: true })];
      return a.dev === b.dev && a.ino === b.ino;
    } catch {
      return false;
    } finally {
      if (at !== this.fd) closeSync(at);
    }
  }

  /**
   * The file opened beneath the base descriptor through no symlink in one call (openat2, in the
   * addon), or undefined when that cannot be done here (no addon, no openat2, a path too long for
   * one call): the caller opens and checks in steps. A copy-up's read of its base file spent
   * ~150 us in open, fstat and the readlink of isBeneath.
   */
  private openBeneath(path: string): number | undefined {
    const r = this.host.openFile(this.fd, path.slice(1));
    if (r === undefined || r >= 0) return r;
    const errno = -r;
    if (errno === ENAMETOOLONG) return undefined;
    if (errno === EINVAL) throw new FsError('EINVAL', 'read', path, NOT_REGULAR);
    // a symlink on the way (or as the name itself), or a way out of the base
    if (errno === ELOOP || errno === EXDEV) throw new FsError('ELOOP', 'open', path, SYMLINK_ON_THE_WAY);
    throw toFsError({ code: getSystemErrorName(r) }, 'open', path);
  }

  private fdFor(path: string): number {
    let fd = this.open.get(path);
    if (fd !== undefined) {
      // LRU: move to the end
      this.open.delete(path);
      this.open.set(path, fd);
      return fd;
    }
    fd = this.openBeneath(path);
    if (fd === undefined) {
      // O_NONBLOCK: a FIFO the host put in a regular file's place must not hold the open for good
      try {
        fd = this.withHost(path, (host) => openSync(host, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK));
      } catch (e) {
        throw toFsError(e, 'open', path);
      }
      if (!fstatSync(fd).isFile()) {
        closeSync(fd);
        throw new FsError('EINVAL', 'read', path, NOT_REGULAR);
      }
      if (!this.isBeneath(fd, path)) {
        closeSync(fd);
        throw new FsError('ELOOP', 'open', path, SYMLINK_ON_THE_WAY);
      }
    }
    if (this.open.size >= MAX_OPEN) {
      const [oldPath, oldFd] = this.open.entries().next().value as [string, number];
      this.open.delete(oldPath);
      closeSync(oldFd);
    }
    this.open.set(path, fd);
    return fd;
  }
}

export function join(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function sameTime(a: HostStat, b: HostStat): boolean {
  return a.mtime.sec === b.mtime.sec && a.mtime.nsec === b.mtime.nsec && a.ctime.sec === b.ctime.sec && a.ctime.nsec === b.ctime.nsec;
}

/** Attr of a base file as lstat shows it; `ino` is the number the overlay exposes. */
export function attrOfStats(st: HostStat, ino: number): Attr {
  // fresh time objects: an Attr is the caller's to change, the HostStat stays in the listing
  return {
    ino,
    mode: st.mode,
    nlink: st.nlink,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    rdev: st.rdev,
    blksize: st.blksize,
    blocks: st.blocks,
    atime: { sec: st.atime.sec, nsec: st.atime.nsec },
    mtime: { sec: st.mtime.sec, nsec: st.mtime.nsec },
    ctime: { sec: st.ctime.sec, nsec: st.ctime.nsec },
  };
}

export function toFsError(e: unknown, syscall: string, path: string): FsError {
  if (e instanceof FsError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  const known = ['ENOENT', 'EACCES', 'EPERM', 'ENOTDIR', 'EISDIR', 'ELOOP', 'EINVAL', 'ENAMETOOLONG', 'EIO'];
  // O_NOFOLLOW on a symlink gives ELOOP: the server never follows base symlinks.
  return new FsError((known.includes(code ?? '') ? code : 'EIO') as FsError['code'], syscall, path);
}
