import { isUtf8 } from 'node:buffer';
import { lstatSync, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';
import type { Timespec } from '../types.js';

/**
 * lstat and directory listings of host files, as the overlay's base layer uses them: through the
 * addon (native/host_stat.cc: one fstatat per entry, no Stats object, no BigInt) when it loads,
 * through node:fs otherwise. Nothing is followed: entries are lstat'ed, and paths under the base's
 * descriptor are reached through no symlink on the way (openat2, where the addon has it).
 */

/** What the overlay takes from an lstat (plain numbers; times to the nanosecond). */
export interface HostStat {
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  rdev: number;
  blksize: number;
  blocks: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
  dev: number;
  /**
   * The birth time, when the file system gives it (statx's btime: ext4, xfs, btrfs, tmpfs), in
   * the same call. Set once for an inode's life, it tells a file from a later one the host gave
   * the same inode number after the first was removed (MergedLookup.baseNode).
   */
  birth?: Timespec;
}

/** A directory's entries sorted as Array.prototype.sort sorts them, with their lstat. */
export interface HostListing {
  names: string[];
  stats: HostStat[];
  /** entries left out because their names are not UTF-8 */
  unnamed: number;
}

/**
 * With `at` (a directory descriptor), a path is relative to it ('' names the directory itself);
 * where `beneath` holds it is reached beneath `at` through no symlink (a symlink on the way: the
 * path does not exist), else it is resolved as `/proc/self/fd/<at>/<path>`, which follows them.
 */
export interface HostFs {
  /** true: served by the addon */
  readonly native: boolean;
  /** whether paths given with `at` are reached beneath it (the addon, where openat2 works) */
  readonly beneath: boolean;
  /** lstat; undefined when the path does not exist (or a parent is not a directory) */
  lstat(path: string, at?: number): HostStat | undefined;
  /** the entries of directory `dir` (any of its children that vanished meanwhile left out) */
  list(dir: string, at?: number): HostListing;
  /** the target of the symlink at `path`, as bytes */
  readlink(path: string, at?: number): Buffer;
  /**
   * A read-only descriptor of the regular file at relative `path` beneath directory descriptor
   * `dir`, reached through no symlink; minus an errno when it cannot (EINVAL: not a regular
   * file), undefined when this implementation cannot open that way (the caller checks itself).
   */
  openFile(dir: number, path: string): number | undefined;
}

/** The addon's functions (native/host_stat.h): errors come back as errno numbers. */
export interface HostStatAddon {
  hostStatFields: string[];
  /** dirFd AT_FDCWD: `path` as it is, followed as any path is */
  hostListAt(dirFd: number, dir: string): { names: string[]; stats: Float64Array; unnamed: number } | number;
  hostLstatAt(dirFd: number, path: string, out: Float64Array): number;
  hostReadlinkAt(dirFd: number, path: string): Buffer | number;
  hostOpenFile(dir: number, path: string): number;
}

// The layout of one entry in the addon's Float64Array; checked against hostStatFields at load.
const FIELDS = [
  'ino', 'mode', 'nlink', 'uid', 'gid', 'size', 'rdev', 'blksize', 'blocks',
  'atimeSec', 'atimeNsec', 'mtimeSec', 'mtimeNsec', 'ctimeSec', 'ctimeNsec', 'dev',
  'birthSec', 'birthNsec',
] as const;
const STRIDE = FIELDS.length;

const { ENOENT, ENOSYS, ENOTDIR, EOVERFLOW, EPERM } = constants.errno;
const AT_FDCWD = -100;

/** `path` relative to directory descriptor `at`, as one path the kernel resolves (following symlinks). */
function viaProc(path: string, at: number | undefined): string {
  return at === undefined ? path : `/proc/self/fd/${at}/${path}`;
}

function fromArray(a: Float64Array, i: number): HostStat {
  const birthSec = a[i + 16]!;
  return {
    ino: a[i]!,
    mode: a[i + 1]!,
    nlink: a[i + 2]!,
    uid: a[i + 3]!,
    gid: a[i + 4]!,
    size: a[i + 5]!,
    rdev: a[i + 6]!,
    blksize: a[i + 7]!,
    blocks: a[i + 8]!,
    atime: { sec: a[i + 9]!, nsec: a[i + 10]! },
    mtime: { sec: a[i + 11]!, nsec: a[i + 12]! },
    ctime: { sec: a[i + 13]!, nsec: a[i + 14]! },
    dev: a[i + 15]!,
    // NaN: the file system gives no birth time
    birth: birthSec === birthSec ? { sec: birthSec, nsec: a[i + 17]! } : undefined,
  };
}

/** Nanoseconds since the epoch as a timespec with 0 <= nsec < 1e9 (as the kernel has it). */
export function tsOf(ns: bigint): Timespec {
  let sec = ns / 1_000_000_000n;
  let nsec = ns % 1_000_000_000n;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += 1_000_000_000n;
  }
  return { sec: Number(sec), nsec: Number(nsec) };
}

/** Whether two times are the same. */
export function sameTime(a: Timespec, b: Timespec): boolean {
  return a.sec === b.sec && a.nsec === b.nsec;
}

/** A time as nanoseconds (exact: what node:fs's *Ns fields held). */
export function nsOf(t: Timespec): bigint {
  return BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec);
}

export function fromBigIntStats(st: BigIntStats): HostStat {
  return {
    ino: Number(st.ino),
    mode: Number(st.mode),
    nlink: Number(st.nlink),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: Number(st.size),
    rdev: Number(st.rdev),
    blksize: Number(st.blksize),
    blocks: Number(st.blocks),
    atime: tsOf(st.atimeNs),
    mtime: tsOf(st.mtimeNs),
    ctime: tsOf(st.ctimeNs),
    dev: Number(st.dev),
    // libuv asks statx for it; 0 when the file system has none
    birth: st.birthtimeNs !== 0n ? tsOf(st.birthtimeNs) : undefined,
  };
}

/** An error as node:fs throws it (code, errno, syscall, path): the callers map those. */
function errnoError(errno: number, syscall: string, path: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(-errno);
  const e: NodeJS.ErrnoException = new Error(`${code}: ${syscall} '${path}'`);
  e.code = code;
  e.errno = -errno;
  e.syscall = syscall;
  e.path = path;
  return e;
}

function nodeLstat(path: string): HostStat | undefined {
  // no exception for a missing name (building one cost twice the lstat: git's negative
  // lookups, .gitignore in every directory)
  try {
    const st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
    return st && fromBigIntStats(st);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
}

function nodeList(dir: string): HostListing {
  // A host name that is not UTF-8 cannot be named here (decoding would turn different names
  // into one U+FFFD-spelled name): it is left out. Names are read as strings (a Buffer a name
  // costs more than the rest of the listing); only a listing with U+FFFD in it (a bad sequence,
  // or a real U+FFFD) is read again as bytes.
  let names = readdirSync(`${dir}/`);
  let unnamed = 0;
  if (names.some((n) => n.includes('\uFFFD'))) {
    const raw = readdirSync(`${dir}/`, { encoding: 'buffer' });
    names = raw.filter((b) => isUtf8(b)).map((b) => b.toString('utf8'));
    unnamed = raw.length - names.length;
  }
  names.sort();
  const kept: string[] = [];
  const stats: HostStat[] = [];
  for (const name of names) {
    const st = nodeLstat(`${dir}/${name}`);
    if (st) {
      kept.push(name);
      stats.push(st);
    }
  }
  return { names: kept, stats, unnamed };
}

/** The node:fs implementation (no addon): paths with `at` go through /proc/self/fd. */
export const nodeHostFs: HostFs = {
  native: false,
  beneath: false,
  lstat: (path, at) => nodeLstat(viaProc(path, at)),
  // ('' names `at` itself: nodeList adds the slash that lists the directory, not the magic link)
  list: (dir, at) => nodeList(at === undefined ? dir : `/proc/self/fd/${at}/${dir}`.replace(/\/$/, '')),
  readlink: (path, at) => readlinkSync(viaProc(path, at), 'buffer'),
  openFile: () => undefined,
};

/** The addon's implementation; node:fs for what the addon cannot give exactly (EOVERFLOW). */
export function addonHostFs(addon: HostStatAddon): HostFs {
  const one = new Float64Array(STRIDE);
  let openat2 = typeof addon.hostOpenFile === 'function';
  /** a kernel before 5.6 (or a seccomp filter) refuses openat2: true, and node:fs's way from now on */
  const refused = (errno: number, at: number | undefined) => {
    if (at === undefined || (errno !== ENOSYS && errno !== EPERM)) return false;
    openat2 = false;
    return true;
  };
  return {
    native: true,
    get beneath() {
      return openat2;
    },
    openFile(dir, path) {
      if (!openat2) return undefined;
      const r = addon.hostOpenFile(dir, path);
      if (refused(-r, dir)) return undefined;
      return r;
    },
    lstat(path, at) {
      if (at !== undefined && !openat2) return nodeLstat(viaProc(path, at));
      const r = addon.hostLstatAt(at ?? AT_FDCWD, path, one);
      if (r === 0) return fromArray(one, 0);
      if (r === EOVERFLOW || refused(r, at)) return nodeLstat(viaProc(path, at));
      if (r === ENOENT || r === ENOTDIR) return undefined;
      throw errnoError(r, 'lstat', path);
    },
    list(dir, at) {
      if (at !== undefined && !openat2) return nodeHostFs.list(dir, at);
      // the trailing slash: a directory, not the /proc magic link it may be named by
      const r = addon.hostListAt(at ?? AT_FDCWD, at === undefined ? `${dir}/` : dir);
      if (typeof r === 'number') {
        if (r === EOVERFLOW || refused(r, at)) return nodeHostFs.list(dir, at);
        throw errnoError(r, 'scandir', dir);
      }
      const stats = new Array<HostStat>(r.names.length);
      for (let i = 0; i < stats.length; i++) stats[i] = fromArray(r.stats, i * STRIDE);
      return { names: r.names, stats, unnamed: r.unnamed };
    },
    readlink(path, at) {
      if (at !== undefined && !openat2) return nodeHostFs.readlink(path, at);
      const r = addon.hostReadlinkAt(at ?? AT_FDCWD, path);
      if (typeof r !== 'number') return r;
      if (refused(r, at)) return nodeHostFs.readlink(path, at);
      throw errnoError(r, 'readlink', path);
    },
  };
}

/** The addon with the host functions, or undefined (not built for this platform, fails to load, another layout). */
export function loadHostStatAddon(): HostStatAddon | undefined {
  try {
    const require = createRequire(import.meta.url);
    const gypBuild = require('node-gyp-build') as { path(dir: string): string };
    // native/ in the package, from dist/core/overlay or src/core/overlay
    const addon = require(gypBuild.path(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'native'))) as Partial<HostStatAddon>;
    if (typeof addon.hostListAt !== 'function' || typeof addon.hostLstatAt !== 'function' || typeof addon.hostReadlinkAt !== 'function') return undefined;
    if (addon.hostStatFields?.join() !== FIELDS.join()) return undefined;
    return addon as HostStatAddon;
  } catch {
    return undefined;
  }
}

let chosen: HostFs | undefined;

/** The addon when it loads (and AGENTFS_NATIVE_HOST is not 0), node:fs otherwise; chosen once. */
export function hostFs(): HostFs {
  if (!chosen) {
    const addon = process.env.AGENTFS_NATIVE_HOST === '0' ? undefined : loadHostStatAddon();
    chosen = addon ? addonHostFs(addon) : nodeHostFs;
  }
  return chosen;
}
