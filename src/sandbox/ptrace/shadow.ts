/**
 * The shadow copy of `run --experimental-sandbox`: before the command starts, the session's
 * overlay view of the working directory is written out to a private directory (the ptrace
 * supervisor points the command's paths there); when it ends, what changed in that directory is
 * written back into the overlay, so the session database holds the changes exactly as a FUSE run
 * would (diff, commit and the timeline work the same). The base directory is never written.
 */
import {
  constants as fsConstants, chmodSync, closeSync, fchmodSync, fstatSync, futimesSync, ftruncateSync, lstatSync, realpathSync, mkdirSync, openSync, statfsSync, readdirSync, readSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeSync,
  type BigIntStats,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { isAlive } from '../../core/process-alive.js';
import { FsError, isFsError } from '../../core/errors.js';
import type { PathFs } from '../../core/fs/paths.js';
import { isDir, isReg, isSymlink, type FileSystem } from '../../core/types.js';

/** bytes per read/write: files of any size are copied without holding them in memory */
const PIECE = 1 << 20;
const { O_WRONLY, O_CREAT, O_TRUNC } = fsConstants;

interface Seen {
  kind: 'd' | 'f' | 'l';
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  mode: number;
}

/** What the shadow held when the command started, by path relative to its root ('' = root). */
export type Snapshot = Map<string, Seen>;

export interface ShadowCounts {
  files: number;
  dirs: number;
  symlinks: number;
  skipped: string[];
}

function seen(st: BigIntStats): Seen {
  const kind = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'f';
  return { kind, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, mode: Number(st.mode & 0o7777n) };
}

/** BASE/x -> SHADOW/x for absolute symlink targets (the supervisor rewrites new ones the same way). */
export function mapTarget(target: string, from: string, to: string): string {
  if (target === from || target.startsWith(`${from}/`)) return to + target.slice(from.length);
  return target;
}

/** Bytes and entries of the overlay's tree (a metadata walk: no file is read). */
export function measure(fs: PathFs): { bytes: number; entries: number } {
  let bytes = 0;
  let entries = 0;
  const walk = (v: string) => {
    for (const { name, attr } of fs.readdirPlus(v)) {
      entries++;
      bytes += attr.size;
      if (isDir(attr.mode)) walk(v === '/' ? `/${name}` : `${v}/${name}`);
    }
  };
  walk('/');
  return { bytes, entries };
}

/**
 * Where the shadow goes: $AGENTFS_SHADOW_DIR if set, else /dev/shm when it is a tmpfs with room to
 * spare (creating many small files on a disk costs ~100x more here), else $AGENTFS_HOME/shadow.
 */
export function shadowParent(fs: PathFs, home: string): string {
  if (process.env.AGENTFS_SHADOW_DIR) return process.env.AGENTFS_SHADOW_DIR;
  try {
    const st = statfsSync('/dev/shm');
    const TMPFS_MAGIC = 0x01021994;
    const { bytes, entries } = measure(fs);
    const need = bytes + entries * 4096;
    if (st.type === TMPFS_MAGIC && st.bavail * st.bsize > 2 * need + (256 << 20)) return '/dev/shm';
  } catch {
    /* no /dev/shm */
  }
  return join(home, 'shadow');
}

/**
 * Removes shadows left by runs that died (a killed `agentfs run` cannot remove its own; in
 * /dev/shm they hold memory). Names carry the run's pid: agentfs-shadow-<session>-<pid>-XXXXXX.
 */
export function sweepShadows(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const m = /^agentfs-shadow-.+-(\d+)-[A-Za-z0-9]{6}$/.exec(name);
    if (!m || isAlive(Number(m[1]))) continue;
    const path = join(parent, name);
    try {
      if (uid !== undefined && lstatSync(path).uid !== uid) continue;
      removeTree(path);
    } catch {
      /* another run is sweeping it */
    }
  }
}

/** rm -rf: a tree deeper than PATH_MAX (which rmSync cannot remove) goes with rm(1), which walks by fd. */
export function removeTree(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENAMETOOLONG') throw e;
    const r = spawnSync('rm', ['-rf', '--', path], { stdio: 'ignore' });
    if (r.status !== 0) throw e;
  }
}

/** A file of the shadow whose content is not there yet: where the overlay has it. */
interface Placeholder {
  v: string;
  rel: string;
}

export interface Materialized {
  snapshot: Snapshot;
  counts: ShadowCounts;
  /** unfilled files by shadow inode */
  placeholders: Map<bigint, Placeholder>;
  /** placeholders an open with O_TRUNC was about to empty (no copy made), with their ctime then */
  truncating: Map<bigint, bigint>;
}

/**
 * Writes the overlay's tree out to `shadow` (an existing empty directory): directories and
 * symlinks as they are, files as placeholders of the right size, mode and times whose content
 * comes on first use (`fill`, asked by the supervisor before the kernel opens one).
 */
export function materialize(fs: PathFs, base: string, shadow: string): Materialized {
  const snapshot: Snapshot = new Map();
  const counts: ShadowCounts = { files: 0, dirs: 0, symlinks: 0, skipped: [] };
  const dirModes: [string, number][] = [];
  const pending = new Map<string, string>();
  const walk = (rel: string) => {
    const vpath = rel ? `/${rel}` : '/';
    for (const { name, attr } of fs.readdirPlus(vpath)) {
      const r = rel ? `${rel}/${name}` : name;
      const v = `/${r}`;
      const out = join(shadow, r);
      if (isDir(attr.mode)) {
        mkdirSync(out, { mode: 0o700 });
        counts.dirs++;
        walk(r);
        dirModes.push([r, attr.mode & 0o7777]);
      } else if (isReg(attr.mode)) {
        const fd = openSync(out, 'wx', 0o600);
        try {
          if (attr.size > 0) ftruncateSync(fd, attr.size);
        } finally {
          closeSync(fd);
        }
        if (attr.size > 0) pending.set(r, v);
        chmodSync(out, attr.mode & 0o7777);
        utimesSync(out, attr.atime.sec + attr.atime.nsec / 1e9, attr.mtime.sec + attr.mtime.nsec / 1e9);
        counts.files++;
      } else if (isSymlink(attr.mode)) {
        symlinkSync(mapTarget(fs.readlink(v), base, shadow), out);
        counts.symlinks++;
      } else {
        counts.skipped.push(v); // fifos, sockets, devices: not served
        continue;
      }
    }
  };
  walk('');
  // directory modes last: a read-only directory still had to be filled
  for (const [r, mode] of dirModes.reverse()) chmodSync(join(shadow, r), mode);
  const placeholders = new Map<bigint, Placeholder>();
  const record = (rel: string) => {
    const st = lstatSync(rel ? join(shadow, rel) : shadow, { bigint: true });
    snapshot.set(rel, seen(st));
    const v = pending.get(rel);
    if (v !== undefined) placeholders.set(st.ino, { v, rel });
    if (st.isDirectory()) for (const name of readdirSync(rel ? join(shadow, rel) : shadow)) record(rel ? `${rel}/${name}` : name);
  };
  record('');
  return { snapshot, counts, placeholders, truncating: new Map() };
}

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/**
 * One request of the supervisor (see native/ptrace/supervisor.c): "f PATH" fill the file PATH
 * leads to, "t PATH" it is about to be truncated.
 */
export function fillRequest(fs: PathFs, fsys: FileSystem, shadow: string, m: Materialized, kind: string, path: string): void {
  if (!under(path, shadow)) return;
  if (kind === 'f' || kind === 't') {
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      return; // not there (yet): nothing to fill
    }
    if (!under(real, shadow)) return;
    const st = lstatSync(real, { bigint: true });
    const p = m.placeholders.get(st.ino);
    if (!p) return;
    if (kind === 't') {
      m.truncating.set(st.ino, st.ctimeNs);
      return;
    }
    // an O_TRUNC open that went through made it the command's file: nothing to fill, ever
    const asked = m.truncating.get(st.ino);
    if (asked !== undefined && asked !== st.ctimeNs) {
      m.placeholders.delete(st.ino);
      m.truncating.delete(st.ino);
      return;
    }
    fillOne(fs, fsys, real, st.ino, m);
  }
}

/**
 * Copies a placeholder's content from the overlay, keeping its times and mode. The command's other
 * threads run meanwhile: the file is opened without following a symlink and must still be the
 * placeholder (same device and inode), and its mode and times are set through that fd, so a path
 * swapped for a symlink to a host file never gets this content.
 */
function fillOne(fs: PathFs, fsys: FileSystem, path: string, ino: bigint, m: Materialized): void {
  const p = m.placeholders.get(ino)!;
  const before = lstatSync(path, { bigint: true });
  if (!before.isFile() || before.ino !== ino) return;
  const mode = Number(before.mode & 0o7777n);
  const same = (fd: number) => {
    const st = fstatSync(fd, { bigint: true });
    return st.ino === ino && st.dev === before.dev;
  };
  if ((mode & 0o600) !== 0o600) {
    const ro = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    try {
      if (!same(ro)) return;
      fchmodSync(ro, mode | 0o600);
    } finally {
      closeSync(ro);
    }
  }
  const fd = openSync(path, fsConstants.O_RDWR | fsConstants.O_NOFOLLOW);
  try {
    if (!same(fd)) return;
    const h = fs.open(p.v, 'r');
    try {
      for (let off = 0; ; ) {
        const piece = fsys.read(h.ino, off, PIECE);
        if (!piece.length) break;
        for (let done = 0; done < piece.length; ) done += writeSync(fd, piece, done, piece.length - done, off + done);
        off += piece.length;
      }
    } finally {
      fs.close(h.ino);
    }
    const size = Number(before.size);
    const got = fstatSync(fd).size;
    if (got > size) ftruncateSync(fd, size); // the overlay file grew meanwhile: the placeholder's size holds
    if ((mode & 0o600) !== 0o600) fchmodSync(fd, mode);
    futimesSync(fd, Number(before.atimeNs) / 1e9, Number(before.mtimeNs) / 1e9);
  } finally {
    closeSync(fd);
  }
  m.placeholders.delete(ino);
  m.truncating.delete(ino);
  // filling is not a change of the command's
  const prev = m.snapshot.get(p.rel);
  if (prev && prev.ino === ino) m.snapshot.set(p.rel, seen(lstatSync(path, { bigint: true })));
}

/** Whether the shadow file's bytes differ from the overlay's, piece by piece. */
function differs(fs: PathFs, fsys: FileSystem, v: string, full: string, size: number): boolean {
  if (fs.lstat(v).size !== size) return true;
  const h = fs.open(v, 'r');
  const fd = openSync(full, 'r');
  const buf = Buffer.allocUnsafe(PIECE);
  try {
    for (let off = 0; off < size; ) {
      const n = readSync(fd, buf, 0, PIECE, off);
      if (n <= 0) return true;
      if (!buf.subarray(0, n).equals(fsys.read(h.ino, off, n))) return true;
      off += n;
    }
    return false;
  } finally {
    closeSync(fd);
    fs.close(h.ino);
  }
}

/** Replaces the overlay file's content with the shadow file's, piece by piece. */
function copyIn(fs: PathFs, fsys: FileSystem, full: string, v: string, mode: number): void {
  const h = fs.open(v, O_WRONLY | O_CREAT | O_TRUNC, mode);
  const fd = openSync(full, 'r');
  const buf = Buffer.allocUnsafe(PIECE);
  try {
    for (let off = 0; ; ) {
      const n = readSync(fd, buf, 0, PIECE, off);
      if (n <= 0) break;
      for (let done = 0; done < n; ) done += fsys.write(h.ino, off + done, buf.subarray(done, n));
      off += n;
    }
  } finally {
    closeSync(fd);
    fs.close(h.ino);
  }
}

export interface WriteBackCounts {
  written: number;
  created: number;
  removed: number;
}

/**
 * Applies the shadow's changes since `snapshot` to the overlay: removed paths first (deepest
 * first), then new and changed ones parents first. A file whose ctime, size and mtime are
 * unchanged is not read at all.
 */
export function writeBack(fs: PathFs, fsys: FileSystem, base: string, shadow: string, m: Materialized): WriteBackCounts {
  const { snapshot } = m;
  const counts: WriteBackCounts = { written: 0, created: 0, removed: 0 };
  const now = new Map<string, BigIntStats>();
  const collect = (rel: string) => {
    let st: BigIntStats;
    try {
      st = lstatSync(rel ? join(shadow, rel) : shadow, { bigint: true });
    } catch (e) {
      // deeper than PATH_MAX (the command went there with relative paths): said, never dropped
      if ((e as NodeJS.ErrnoException).code === 'ENAMETOOLONG') throw new FsError('ENAMETOOLONG', 'write back', rel.slice(0, 40) + '...', 'a path the command made is longer than PATH_MAX and cannot be written back');
      return; // vanished meanwhile
    }
    now.set(rel, st);
    if (st.isDirectory()) {
      if ((st.mode & 0o500n) !== 0o500n) chmodSync(join(shadow, rel), Number(st.mode & 0o7777n) | 0o700); // read what the command locked
      for (const name of readdirSync(rel ? join(shadow, rel) : shadow)) collect(rel ? `${rel}/${name}` : name);
    }
  };
  collect('');
  // A placeholder an O_TRUNC open emptied holds what the command wrote; one whose open failed
  // is still a placeholder. A placeholder moved or linked to a new path is filled now, while the
  // overlay still has its source (the command never read it, so it was never filled).
  for (const [ino, asked] of m.truncating) {
    const p = m.placeholders.get(ino);
    const st = p && now.get(p.rel);
    if (!st || st.ino !== ino || st.ctimeNs !== asked) m.placeholders.delete(ino);
  }
  for (const [rel, st] of now) {
    const p = st.isFile() ? m.placeholders.get(st.ino) : undefined;
    if (p && p.rel !== rel) {
      fillOne(fs, fsys, join(shadow, rel), st.ino, m);
      now.set(rel, lstatSync(join(shadow, rel), { bigint: true }));
    }
  }

  // only the topmost of a removed subtree: one recursive rm covers the rest
  const removed = new Set<string>();
  const gone: string[] = [];
  for (const rel of [...snapshot.keys()].sort()) {
    if (!rel || sameKind(now.get(rel), snapshot.get(rel)!)) continue;
    const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
    removed.add(rel);
    if (parent && removed.has(parent)) continue;
    gone.push(rel);
  }
  for (const rel of gone) {
    try {
      fs.rm(`/${rel}`, { recursive: true, force: true });
      counts.removed++;
    } catch (e) {
      if (!isFsError(e, 'ENOENT')) throw e;
    }
  }

  for (const [rel, st] of now) {
    if (!rel) {
      syncMode(fs, '/', st, snapshot.get(''));
      continue;
    }
    const v = `/${rel}`;
    const full = join(shadow, rel);
    const before = snapshot.get(rel);
    const fresh = !before || !sameKind(st, before);
    if (st.isDirectory()) {
      if (fresh) {
        fs.mkdir(v, { mode: Number(st.mode & 0o7777n) });
        counts.created++;
      } else syncMode(fs, v, st, before);
    } else if (st.isSymbolicLink()) {
      const target = mapTarget(readlinkSync(full), shadow, base);
      if (fresh) {
        fs.symlink(target, v);
        counts.created++;
      } else if (st.ctimeNs !== before!.ctimeNs && fs.readlink(v) !== target) {
        fs.unlink(v);
        fs.symlink(target, v);
        counts.written++;
      }
    } else if (st.isFile()) {
      const changed = fresh || st.ctimeNs !== before!.ctimeNs || st.mtimeNs !== before!.mtimeNs || st.size !== before!.size || st.ino !== before!.ino;
      if (!changed) continue;
      const mode = Number(st.mode & 0o7777n);
      if (fresh || st.mtimeNs !== before!.mtimeNs || st.size !== before!.size || st.ino !== before!.ino) {
        // an unfilled placeholder's content is the overlay's: only its times can have changed
        if (!m.placeholders.has(st.ino) && (fresh || differs(fs, fsys, v, full, Number(st.size)))) {
          copyIn(fs, fsys, full, v, mode);
          if (fresh) counts.created++;
          else counts.written++;
        }
        fs.utimes(v, { sec: Number(st.atimeNs / 1_000_000_000n), nsec: Number(st.atimeNs % 1_000_000_000n) }, {
          sec: Number(st.mtimeNs / 1_000_000_000n),
          nsec: Number(st.mtimeNs % 1_000_000_000n),
        });
      }
      syncMode(fs, v, st, fresh ? undefined : before);
    }
    // fifos and sockets the command made are not kept (the overlay serves files, dirs, symlinks)
  }
  return counts;
}

function sameKind(st: BigIntStats | undefined, before: Seen): boolean {
  if (!st) return false;
  const kind = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFile() ? 'f' : '?';
  return kind === before.kind;
}

function syncMode(fs: PathFs, v: string, st: BigIntStats, before: Seen | undefined): void {
  const mode = Number(st.mode & 0o7777n);
  if (before && before.mode === mode) return;
  if ((fs.lstat(v).mode & 0o7777) !== mode) fs.chmod(v, mode);
}
