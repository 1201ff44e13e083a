/**
 * Path-based operations over any FileSystem (the inode filesystem or the overlay): path
 * resolution with symlinks and `..`, and the helpers the SDK and CLI need (mkdir -p,
 * readFile/writeFile, rm -r, copy, tree walk). Errors are FsError with the syscall and path.
 */
import { constants as fsConstants } from 'node:fs';
import { FsError, isFsError } from '../errors.js';
import {
  F_OK, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, isDir as isDirMode, processCaller,
  type Attr, type Caller, type DirEntry, type FileSystem, type StatFs, type Timespec,
} from '../types.js';
import { fromMs } from './time.js';

const MAX_SYMLINKS = 40;
const PATH_MAX = 4096;
/** how much data one read/write call moves (bounds memory and transaction size) */
const DEFAULT_PIECE = 1 << 20;
const READDIR_PAGE = 1024;

const { O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND } = fsConstants;
const O_ACCMODE = 3;

export type OpenFlags = number | string;

export interface PathFsOptions {
  /** owner of new files and subject of access checks (default: this process) */
  caller?: Caller;
  /** bytes per read/write call in whole-file helpers (default 1 MiB) */
  pieceSize?: number;
}

export interface TreeEntry {
  /** absolute path */
  path: string;
  name: string;
  /** 1 for entries directly under the walked directory */
  depth: number;
  attr: Attr;
  /** symlink target */
  target?: string;
}

export interface Opened {
  ino: number;
  attr: Attr;
  flags: number;
}

type TimeArg = Timespec | Date | number | 'now';

/** What walking a path needs of each directory on the way (the root's full Attr is fetched lazily). */
type Walked = Pick<Attr, 'ino' | 'mode'>;


/** Splits a path into components (empty ones dropped; '.' and '..' kept for the walker). */
function components(path: string): string[] {
  return path.split('/').filter((c) => c.length > 0);
}

/** Node-style string flags ('r', 'w+', 'ax', ...) to O_* numbers. */
export function parseOpenFlags(flags: OpenFlags): number {
  if (typeof flags === 'number') return flags;
  const table: Record<string, number> = {
    r: 0, rs: 0, sr: 0, 'r+': O_RDWR, 'rs+': O_RDWR, 'sr+': O_RDWR,
    w: O_WRONLY | O_CREAT | O_TRUNC, wx: O_WRONLY | O_CREAT | O_TRUNC | O_EXCL, xw: O_WRONLY | O_CREAT | O_TRUNC | O_EXCL,
    'w+': O_RDWR | O_CREAT | O_TRUNC, 'wx+': O_RDWR | O_CREAT | O_TRUNC | O_EXCL, 'xw+': O_RDWR | O_CREAT | O_TRUNC | O_EXCL,
    a: O_WRONLY | O_CREAT | O_APPEND, ax: O_WRONLY | O_CREAT | O_APPEND | O_EXCL, xa: O_WRONLY | O_CREAT | O_APPEND | O_EXCL,
    'a+': O_RDWR | O_CREAT | O_APPEND, 'ax+': O_RDWR | O_CREAT | O_APPEND | O_EXCL, 'xa+': O_RDWR | O_CREAT | O_APPEND | O_EXCL,
    as: O_WRONLY | O_CREAT | O_APPEND, 'as+': O_RDWR | O_CREAT | O_APPEND,
  };
  const v = table[flags];
  if (v === undefined) throw new FsError('EINVAL', 'open', undefined, `unknown open flags '${flags}'`);
  return v;
}

function toTimespec(t: TimeArg): Timespec | 'now' {
  if (t === 'now') return 'now';
  if (t instanceof Date) return fromMs(t.getTime());
  if (typeof t === 'number') return fromMs(t);
  return t;
}

/** Errors already given their user-facing syscall and path. */
const decorated = new WeakSet<object>();

function detailOf(e: FsError): string | undefined {
  const m = /^[A-Z]+: (.*?)(?:, [a-z_0-9]+(?: .*)?)?$/s.exec(e.message);
  return m?.[1];
}

export class PathFs {
  readonly fs: FileSystem;
  readonly caller: Caller;
  private readonly piece: number;

  constructor(fs: FileSystem, options: PathFsOptions = {}) {
    this.fs = fs;
    this.caller = options.caller ?? processCaller();
    this.piece = Math.max(4096, options.pieceSize ?? DEFAULT_PIECE);
  }

  /** Runs fn as one transaction of the filesystem: all of it happens, or none of it. */
  batch<T>(fn: () => T): T {
    return this.fs.transaction(fn);
  }

  /** Re-throws filesystem errors with the syscall and path the user asked about. */
  private at<T>(syscall: string, path: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      // the innermost helper names the path; outer ones (copyFile around open) keep it
      if (isFsError(e) && !decorated.has(e)) {
        const err = new FsError(e.code, syscall, path, detailOf(e));
        decorated.add(err);
        throw err;
      }
      throw e;
    }
  }

  // ---- resolution ------------------------------------------------------------------------

  /** Attributes of the inode at path; symlinks followed (also the last one when `follow`). */
  resolve(path: string, follow = true): Attr {
    if (path.length === 0) throw new FsError('ENOENT', 'resolve', path);
    if (path.length > PATH_MAX && Buffer.byteLength(path) > PATH_MAX) throw new FsError('ENAMETOOLONG', 'resolve', path);
    const pending = components(path);
    const mustBeDir = path.endsWith('/') && pending.length > 0;
    // The root is always a directory: walking needs only its number, so its attributes are
    // fetched only when the path names the root itself (a query less on every resolution).
    const root: Walked = { ino: this.fs.rootIno, mode: S_IFDIR };
    const stack: Walked[] = [root];
    let links = 0;
    while (pending.length) {
      const name = pending.shift()!;
      const cur = stack[stack.length - 1]!;
      if (!isDirMode(cur.mode)) throw new FsError('ENOTDIR', 'resolve', path);
      if (name === '.') continue;
      if (name === '..') {
        if (stack.length > 1) stack.pop();
        continue;
      }
      const attr = this.fs.lookup(cur.ino, name);
      const last = pending.length === 0;
      if ((attr.mode & S_IFMT) === S_IFLNK && (!last || follow || mustBeDir)) {
        if (++links > MAX_SYMLINKS) throw new FsError('ELOOP', 'resolve', path);
        const target = this.fs.readlink(attr.ino);
        if (target.startsWith('/')) stack.length = 1;
        pending.unshift(...components(target));
        continue;
      }
      stack.push(attr);
    }
    const out = stack[stack.length - 1]!;
    if (mustBeDir && !isDirMode(out.mode)) throw new FsError('ENOTDIR', 'resolve', path);
    return out === root ? this.fs.getattr(root.ino) : (out as Attr);
  }

  /** The directory that would hold path's last component, and that component. */
  resolveParent(path: string): { dir: Attr; name: string } {
    const comps = components(path);
    const name = comps.pop();
    if (name === undefined) throw new FsError('EBUSY', 'resolve', path, 'the root directory');
    const dir = this.resolve('/' + comps.join('/'), true);
    if (!isDirMode(dir.mode)) throw new FsError('ENOTDIR', 'resolve', path);
    return { dir, name };
  }

  /** The inode at path or undefined when a component is missing. */
  private tryResolve(path: string, follow = true): Attr | undefined {
    try {
      return this.resolve(path, follow);
    } catch (e) {
      if (isFsError(e, 'ENOENT')) return undefined;
      throw e;
    }
  }

  /**
   * path with each `missing/..` pair taken out, where `missing` names a directory that does not
   * exist: a helper that makes missing directories (mkdir -p, writeFile with parents, cp -r)
   * must not make one only to leave it again, so `/a/../b` names `/b` and creates nothing at
   * `/a`. Existing components (symlinks, `..`) keep their usual meaning: each prefix is resolved
   * the ordinary way. Anything else wrong is left for the operation itself to report.
   */
  private collapseMissing(path: string): string {
    const tokens = components(path);
    if (!tokens.includes('..')) return path;
    const keep = tokens.map(() => true);
    const missing: number[] = [];
    for (let i = 0; i < tokens.length; i++) {
      const name = tokens[i]!;
      if (name === '.') continue;
      if (missing.length) {
        if (name !== '..') missing.push(i);
        else keep[missing.pop()!] = keep[i] = false;
        continue;
      }
      if (name === '..') continue;
      try {
        this.resolve('/' + tokens.slice(0, i + 1).filter((_, j) => keep[j]).join('/'), true);
      } catch (e) {
        if (!isFsError(e, 'ENOENT')) break;
        missing.push(i);
      }
    }
    const out = '/' + tokens.filter((_, j) => keep[j]).join('/');
    return path.endsWith('/') && out !== '/' ? out + '/' : out;
  }

  // ---- metadata --------------------------------------------------------------------------

  stat(path: string): Attr {
    return this.at('stat', path, () => this.resolve(path, true));
  }

  lstat(path: string): Attr {
    return this.at('lstat', path, () => this.resolve(path, false));
  }

  exists(path: string): boolean {
    try {
      this.resolve(path, true);
      return true;
    } catch (e) {
      if (isFsError(e, 'ENOENT') || isFsError(e, 'ENOTDIR') || isFsError(e, 'ELOOP')) return false;
      throw e;
    }
  }

  access(path: string, mode = F_OK): void {
    this.at('access', path, () => {
      const a = this.resolve(path, true);
      this.fs.access(a.ino, mode, this.caller);
    });
  }

  statfs(): StatFs {
    return this.fs.statfs();
  }

  chmod(path: string, mode: number): Attr {
    return this.at('chmod', path, () => this.fs.setattr(this.resolve(path).ino, { mode }, this.caller));
  }

  chown(path: string, uid: number, gid: number): Attr {
    return this.at('chown', path, () => this.fs.setattr(this.resolve(path).ino, { uid, gid }, this.caller));
  }

  utimes(path: string, atime: TimeArg, mtime: TimeArg): Attr {
    return this.at('utimes', path, () =>
      this.fs.setattr(this.resolve(path).ino, { atime: toTimespec(atime), mtime: toTimespec(mtime) }, this.caller),
    );
  }

  truncate(path: string, size = 0): Attr {
    return this.at('truncate', path, () => {
      const a = this.resolve(path);
      if (isDirMode(a.mode)) throw new FsError('EISDIR', 'truncate', path);
      return this.fs.setattr(a.ino, { size }, this.caller);
    });
  }

  // ---- directories -----------------------------------------------------------------------

  /** Every entry of a directory inode, following readdir cookies page by page. */
  entriesOf(ino: number): DirEntry[] {
    const out: DirEntry[] = [];
    let cookie = 0;
    for (;;) {
      const page = this.fs.readdir(ino, cookie, READDIR_PAGE);
      out.push(...page);
      if (page.length < READDIR_PAGE) return out;
      cookie = page[page.length - 1]!.offset;
    }
  }

  /** Names in a directory, sorted. */
  readdir(path: string): string[] {
    return this.at('scandir', path, () => {
      const d = this.resolve(path);
      if (!isDirMode(d.mode)) throw new FsError('ENOTDIR', 'scandir', path);
      return this.entriesOf(d.ino)
        .map((e) => e.name)
        .sort(compareNames);
    });
  }

  /** Entries with their attributes (one query per page, no per-entry stat), sorted by name. */
  readdirPlus(path: string): { name: string; attr: Attr }[] {
    return this.at('scandir', path, () => {
      const d = this.resolve(path);
      if (!isDirMode(d.mode)) throw new FsError('ENOTDIR', 'scandir', path);
      const out: { name: string; attr: Attr }[] = [];
      let cookie = 0;
      for (;;) {
        const page = this.fs.readdirPlus(d.ino, cookie, READDIR_PAGE);
        for (const e of page) out.push({ name: e.name, attr: e.attr });
        if (page.length < READDIR_PAGE) break;
        cookie = page[page.length - 1]!.offset;
      }
      return out.sort((a, b) => compareNames(a.name, b.name));
    });
  }

  /** mkdir; with `recursive`, creates missing parents and accepts an existing directory. */
  mkdir(path: string, options: { recursive?: boolean; mode?: number } = {}): Attr {
    const mode = options.mode ?? 0o755;
    return this.at('mkdir', path, () => {
      if (!options.recursive) {
        const { dir, name } = this.parentOrRoot(path, 'EEXIST');
        return this.fs.mkdir(dir.ino, name, mode, this.caller);
      }
      if (path.length === 0) throw new FsError('ENOENT', 'mkdir', path);
      return this.batch(() => {
        const comps = components(this.collapseMissing(path));
        let cur = this.fs.getattr(this.fs.rootIno);
        let prefix = '';
        // While every component so far was a plain directory name, the next one is looked up in
        // the directory just reached: resolving each prefix from the root again made a deep
        // mkdir -p quadratic, and cp -r of a deep tree cubic (1000 levels took ten minutes).
        // A symlink, '.' or '..' takes the full resolution from then on.
        let plain = true;
        for (const name of comps) {
          prefix += '/' + name;
          let found: Attr | undefined;
          if (plain && name !== '.' && name !== '..') {
            try {
              found = this.fs.lookup(cur.ino, name);
            } catch (e) {
              if (!isFsError(e, 'ENOENT')) throw e;
            }
            if (found && (found.mode & S_IFMT) === S_IFLNK) {
              plain = false;
              found = this.tryResolve(prefix);
            }
          } else {
            plain = false;
            found = this.tryResolve(prefix);
          }
          if (found) {
            if (!isDirMode(found.mode)) throw new FsError(prefix === '/' + comps.join('/') ? 'EEXIST' : 'ENOTDIR', 'mkdir', path);
            cur = found;
            continue;
          }
          cur = this.fs.mkdir(plain ? cur.ino : this.resolveParent(prefix).dir.ino, name, mode, this.caller);
        }
        return cur;
      });
    });
  }

  rmdir(path: string): void {
    this.at('rmdir', path, () => {
      const { dir, name } = this.parentOrRoot(path, 'EBUSY');
      this.fs.rmdir(dir.ino, name);
    });
  }

  unlink(path: string): void {
    this.at('unlink', path, () => {
      const { dir, name } = this.parentOrRoot(path, 'EISDIR');
      this.fs.unlink(dir.ino, name);
    });
  }

  /** rm: files, and with `recursive` whole trees (one transaction); `force` ignores a missing path. */
  rm(path: string, options: { recursive?: boolean; force?: boolean } = {}): void {
    this.at('rm', path, () => {
      let a: Attr;
      try {
        a = this.resolve(path, false);
      } catch (e) {
        if (options.force && isFsError(e, 'ENOENT')) return;
        throw e;
      }
      const { dir, name } = this.parentOrRoot(path, 'EBUSY');
      if (!isDirMode(a.mode)) {
        this.fs.unlink(dir.ino, name);
        return;
      }
      if (!options.recursive) throw new FsError('EISDIR', 'rm', path, 'is a directory (use recursive)');
      this.batch(() => {
        this.removeContents(a.ino, '/' + components(path).join('/'));
        this.fs.rmdir(dir.ino, name);
      });
    });
  }

  /**
   * Empties a directory, deepest entries first. Iterative (a deep tree needs no deep stack) and
   * cycle-checked: a damaged database can hold an entry leading back to a directory above it.
   */
  private removeContents(dirIno: number, path: string): void {
    type Frame = { ino: number; name: string; path: string; entries: DirEntry[]; next: number };
    const onPath = new Set<number>([dirIno]);
    const stack: Frame[] = [{ ino: dirIno, name: '', path, entries: this.entriesOf(dirIno), next: 0 }];
    while (stack.length) {
      const f = stack[stack.length - 1]!;
      const e = f.entries[f.next++];
      if (e === undefined) {
        stack.pop();
        onPath.delete(f.ino);
        const parent = stack[stack.length - 1];
        if (parent) this.fs.rmdir(parent.ino, f.name);
        continue;
      }
      if (!isDirMode(e.mode)) {
        this.fs.unlink(f.ino, e.name);
        continue;
      }
      const p = `${f.path === '/' ? '' : f.path}/${e.name}`;
      if (onPath.has(e.ino)) throw cycleError(p);
      onPath.add(e.ino);
      stack.push({ ino: e.ino, name: e.name, path: p, entries: this.entriesOf(e.ino), next: 0 });
    }
  }

  /**
   * Depth-first walk below path (entries sorted by name; symlinks are not followed). Iterative,
   * and a directory met again below itself (a cycle in a damaged database) is ELOOP.
   */
  *walk(path: string, options: { maxDepth?: number } = {}): Generator<TreeEntry> {
    const root = this.at('scandir', path, () => this.resolve(path));
    if (!isDirMode(root.mode)) throw new FsError('ENOTDIR', 'scandir', path);
    const base = '/' + components(path).join('/');
    const maxDepth = options.maxDepth ?? Infinity;
    type Frame = { ino: number; prefix: string; depth: number; entries: { name: string; attr: Attr }[]; next: number };
    const onPath = new Set<number>([root.ino]);
    const stack: Frame[] = [{ ino: root.ino, prefix: base === '/' ? '' : base, depth: 1, entries: this.sortedEntries(root.ino), next: 0 }];
    while (stack.length) {
      const f = stack[stack.length - 1]!;
      const e = f.entries[f.next++];
      if (e === undefined) {
        stack.pop();
        onPath.delete(f.ino);
        continue;
      }
      const p = `${f.prefix}/${e.name}`;
      const isLink = (e.attr.mode & S_IFMT) === S_IFLNK;
      yield { path: p, name: e.name, depth: f.depth, attr: e.attr, ...(isLink ? { target: this.fs.readlink(e.attr.ino) } : {}) };
      if (!isDirMode(e.attr.mode) || f.depth >= maxDepth) continue;
      if (onPath.has(e.attr.ino)) throw cycleError(p);
      onPath.add(e.attr.ino);
      stack.push({ ino: e.attr.ino, prefix: p, depth: f.depth + 1, entries: this.sortedEntries(e.attr.ino), next: 0 });
    }
  }

  private sortedEntries(ino: number): { name: string; attr: Attr }[] {
    const entries: { name: string; attr: Attr }[] = [];
    let cookie = 0;
    for (;;) {
      const page = this.fs.readdirPlus(ino, cookie, READDIR_PAGE);
      for (const e of page) entries.push({ name: e.name, attr: e.attr });
      if (page.length < READDIR_PAGE) break;
      cookie = page[page.length - 1]!.offset;
    }
    return entries.sort((a, b) => compareNames(a.name, b.name));
  }

  // ---- names -----------------------------------------------------------------------------

  rename(from: string, to: string, flags = 0): void {
    this.at('rename', from, () => {
      const src = this.parentOrRoot(from, 'EBUSY');
      const dst = this.parentOrRoot(to, 'EBUSY');
      // a trailing slash names a directory: renaming anything else that way is ENOTDIR (POSIX)
      if ((from.endsWith('/') || to.endsWith('/')) && !isDirMode(this.fs.lookup(src.dir.ino, src.name).mode)) {
        throw new FsError('ENOTDIR', 'rename', from);
      }
      this.fs.rename(src.dir.ino, src.name, dst.dir.ino, dst.name, flags);
    });
  }

  symlink(target: string, linkPath: string): Attr {
    return this.at('symlink', linkPath, () => {
      const { dir, name } = this.newEntryAt(linkPath);
      return this.fs.symlink(dir.ino, name, target, this.caller);
    });
  }

  readlink(path: string): string {
    return this.at('readlink', path, () => this.fs.readlink(this.resolve(path, false).ino));
  }

  link(existing: string, newPath: string): Attr {
    return this.at('link', newPath, () => {
      const a = this.resolve(existing, false);
      const { dir, name } = this.newEntryAt(newPath);
      return this.fs.link(a.ino, dir.ino, name);
    });
  }

  /**
   * Where a new symlink or hard link goes. A trailing slash names a directory, which these never
   * make: a missing `name/` is ENOENT (as Linux says), an existing one EEXIST from the create.
   */
  private newEntryAt(path: string): { dir: Attr; name: string } {
    const at = this.parentOrRoot(path, 'EEXIST');
    if (path.endsWith('/')) {
      try {
        this.fs.lookup(at.dir.ino, at.name);
      } catch (e) {
        if (isFsError(e, 'ENOENT')) throw new FsError('ENOENT', undefined, path);
        throw e;
      }
    }
    return at;
  }

  private parentOrRoot(path: string, rootCode: 'EEXIST' | 'EBUSY' | 'EISDIR'): { dir: Attr; name: string } {
    if (path.length === 0) throw new FsError('ENOENT', undefined, path);
    if (components(path).length === 0) throw new FsError(rootCode, undefined, path);
    return this.resolveParent(path);
  }

  // ---- data ------------------------------------------------------------------------------

  /**
   * Opens (and with O_CREAT creates, with O_TRUNC truncates) a file, registering the handle
   * with the filesystem; pair with close(ino).
   */
  open(path: string, flags: OpenFlags = 'r', mode = 0o644): Opened {
    const f = parseOpenFlags(flags);
    return this.at('open', path, () =>
      this.batch(() => {
        const found = f & O_CREAT ? this.resolveForCreate(path) : this.resolve(path, true);
        if ('ino' in found && f & O_CREAT && f & O_EXCL) throw new FsError('EEXIST', 'open', path);
        let a = 'ino' in found ? found : this.fs.create(found.dir.ino, found.name, mode, this.caller);
        if (isDirMode(a.mode) && (f & O_ACCMODE) !== 0) throw new FsError('EISDIR', 'open', path);
        if (f & O_TRUNC && (a.mode & S_IFMT) === S_IFREG && (f & O_ACCMODE) !== 0 && a.size > 0) {
          a = this.fs.setattr(a.ino, { size: 0 }, this.caller);
        }
        this.fs.open(a.ino, f);
        return { ino: a.ino, attr: a, flags: f };
      }),
    );
  }

  close(ino: number): void {
    this.fs.release(ino);
  }

  /**
   * For open(O_CREAT): the existing file at path (symlinks followed), or where to create it.
   * The common case (a plain name in its directory) walks the path once; a symlink in last
   * place takes the general route.
   */
  private resolveForCreate(path: string): Attr | { dir: Attr; name: string } {
    const comps = components(path);
    const name = comps[comps.length - 1];
    if (name === undefined || name === '.' || name === '..' || path.endsWith('/')) return this.resolve(path, true);
    const dir = this.resolve('/' + comps.slice(0, -1).join('/'), true);
    if (!isDirMode(dir.mode)) throw new FsError('ENOTDIR', 'resolve', path);
    let a: Attr;
    try {
      a = this.fs.lookup(dir.ino, name);
    } catch (e) {
      if (isFsError(e, 'ENOENT')) return { dir, name };
      throw e;
    }
    if ((a.mode & S_IFMT) !== S_IFLNK) return a;
    return this.tryResolve(path, true) ?? this.createTarget(path);
  }

  /** Where a new file at path goes: follows a dangling symlink's target like open(O_CREAT). */
  private createTarget(path: string): { dir: Attr; name: string } {
    let p = path;
    for (let i = 0; i <= MAX_SYMLINKS; i++) {
      const { dir, name } = this.parentOrRoot(p, 'EISDIR');
      let existing: Attr | undefined;
      try {
        existing = this.fs.lookup(dir.ino, name);
      } catch (e) {
        if (!isFsError(e, 'ENOENT')) throw e;
      }
      if (!existing || (existing.mode & S_IFMT) !== S_IFLNK) return { dir, name };
      const target = this.fs.readlink(existing.ino);
      const parentPath = '/' + components(p).slice(0, -1).join('/');
      p = target.startsWith('/') ? target : `${parentPath}/${target}`;
    }
    throw new FsError('ELOOP', 'open', path);
  }

  /** Yields a file's content piece by piece (for streaming it out). */
  *readPieces(path: string, pieceSize = this.piece): Generator<Buffer> {
    const a = this.at('open', path, () => this.resolve(path));
    yield* this.piecesOf(a, path, pieceSize);
  }

  private *piecesOf(a: Attr, path: string, pieceSize: number): Generator<Buffer> {
    if (isDirMode(a.mode)) throw new FsError('EISDIR', 'read', path);
    this.fs.open(a.ino, 0);
    try {
      for (let off = 0; ; ) {
        const buf = this.at('read', path, () => this.fs.read(a.ino, off, pieceSize));
        if (buf.length > 0) yield buf;
        // reads are short only at the end of the file: no extra call to learn that
        if (buf.length < pieceSize) return;
        off += buf.length;
      }
    } finally {
      this.fs.release(a.ino);
    }
  }

  readFile(path: string): Buffer;
  readFile(path: string, encoding: BufferEncoding): string;
  readFile(path: string, encoding?: BufferEncoding): Buffer | string {
    const a = this.at('open', path, () => this.resolve(path));
    const parts: Buffer[] = [];
    let total = 0;
    for (const p of this.piecesOf(a, path, this.piece)) {
      parts.push(p);
      total += p.length;
    }
    const buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
    return encoding ? buf.toString(encoding) : buf;
  }

  /**
   * Creates or replaces a file's content in one transaction, written piece by piece.
   * `createParents` makes missing parent directories (as agentfs-sdk's writeFile does).
   */
  writeFile(
    path: string,
    data: string | Uint8Array,
    options: { mode?: number; encoding?: BufferEncoding; createParents?: boolean } = {},
  ): Attr {
    const buf = typeof data === 'string' ? Buffer.from(data, options.encoding ?? 'utf8') : data;
    return this.at('open', path, () =>
      this.batch(() => {
        const h = this.openForWrite(path, options.mode ?? 0o644, options.createParents === true);
        try {
          this.writeAll(h.ino, 0, buf);
          return this.fs.getattr(h.ino);
        } finally {
          this.close(h.ino);
        }
      }),
    );
  }

  /** open(O_WRONLY|O_CREAT|O_TRUNC); a missing parent is made only after the open says so. */
  private openForWrite(path: string, mode: number, createParents: boolean, flags = O_WRONLY | O_CREAT | O_TRUNC): Opened {
    if (!createParents) return this.open(path, flags, mode);
    path = this.collapseMissing(path);
    try {
      return this.open(path, flags, mode); // fails before changing anything
    } catch (e) {
      const parent = components(path).slice(0, -1);
      if (!isFsError(e, 'ENOENT') || !parent.length) throw e;
      this.mkdir('/' + parent.join('/'), { recursive: true });
      return this.open(path, flags, mode);
    }
  }

  appendFile(
    path: string,
    data: string | Uint8Array,
    options: { mode?: number; encoding?: BufferEncoding; createParents?: boolean } = {},
  ): Attr {
    const buf = typeof data === 'string' ? Buffer.from(data, options.encoding ?? 'utf8') : data;
    return this.at('open', path, () =>
      this.batch(() => {
        const h = this.openForWrite(path, options.mode ?? 0o644, options.createParents === true, O_WRONLY | O_CREAT | O_APPEND);
        try {
          // at the end as the write transaction sees it: another process may be appending too
          for (let done = 0; done < buf.byteLength; ) {
            const n = Math.min(this.piece, buf.byteLength - done);
            this.fs.append(h.ino, buf.subarray(done, done + n));
            done += n;
          }
          return this.fs.getattr(h.ino);
        } finally {
          this.close(h.ino);
        }
      }),
    );
  }

  /** Writes a stream (e.g. stdin) to a file without holding it in memory. */
  async writeStream(
    path: string,
    source: AsyncIterable<Uint8Array | string>,
    options: { mode?: number; createParents?: boolean } = {},
  ): Promise<Attr> {
    const h = this.at('open', path, () => this.batch(() => this.openForWrite(path, options.mode ?? 0o644, options.createParents === true)));
    try {
      let off = 0;
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = () => {
        if (!pendingBytes) return;
        const buf = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
        this.at('write', path, () => this.writeAll(h.ino, off, buf));
        off += buf.length;
        pending = [];
        pendingBytes = 0;
      };
      for await (const chunk of source) {
        const b = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        pending.push(b);
        pendingBytes += b.length;
        if (pendingBytes >= this.piece) flush();
      }
      flush();
      return this.fs.getattr(h.ino);
    } finally {
      this.close(h.ino);
    }
  }

  private writeAll(ino: number, offset: number, data: Uint8Array): void {
    for (let done = 0; done < data.byteLength; ) {
      const n = Math.min(this.piece, data.byteLength - done);
      done += this.fs.write(ino, offset + done, data.subarray(done, done + n));
    }
  }

  /** Copies a regular file's content and mode; `exclusive` refuses an existing destination. */
  copyFile(src: string, dest: string, options: { exclusive?: boolean } = {}): Attr {
    return this.at('copyfile', src, () =>
      this.batch(() => {
        const s = this.resolve(src);
        if (isDirMode(s.mode)) throw new FsError('EISDIR', 'copyfile', src);
        const existing = this.tryResolve(dest);
        if (existing && isDirMode(existing.mode)) throw new FsError('EISDIR', 'copyfile', dest);
        if (existing && existing.ino === s.ino) return existing;
        const flags = O_WRONLY | O_CREAT | O_TRUNC | (options.exclusive ? O_EXCL : 0);
        const d = this.at('copyfile', dest, () => this.open(dest, flags, s.mode & 0o7777));
        try {
          this.fs.open(s.ino, 0);
          try {
            for (let off = 0; off < s.size; ) {
              const buf = this.fs.read(s.ino, off, this.piece);
              if (!buf.length) break;
              this.fs.write(d.ino, off, buf);
              off += buf.length;
            }
          } finally {
            this.fs.release(s.ino);
          }
          return this.fs.getattr(d.ino);
        } finally {
          this.close(d.ino);
        }
      }),
    );
  }

  /** Copies a file, symlink or (with recursive) a whole directory tree. */
  cp(src: string, dest: string, options: { recursive?: boolean } = {}): void {
    this.at('cp', src, () =>
      this.batch(() => {
        const s = this.resolve(src, false);
        if ((s.mode & S_IFMT) === S_IFLNK) {
          this.symlink(this.fs.readlink(s.ino), dest);
          return;
        }
        if (!isDirMode(s.mode)) {
          this.copyFile(src, dest);
          return;
        }
        if (!options.recursive) throw new FsError('EISDIR', 'cp', src, 'is a directory (use recursive)');
        dest = this.collapseMissing(dest);
        // the destination's parent must not lie inside the source, or the copy would never end
        const d = this.tryResolve(dest) ?? this.resolveParent(dest).dir;
        if (this.isWithinPath(d.ino, s.ino)) throw new FsError('EINVAL', 'cp', dest, 'cannot copy a directory into itself');
        this.mkdir(dest, { recursive: true, mode: s.mode & 0o7777 });
        const base = '/' + components(src).join('/');
        const to = '/' + components(dest).join('/');
        for (const e of this.walk(src)) {
          const target = to + e.path.slice(base === '/' ? 0 : base.length);
          const t = e.attr.mode & S_IFMT;
          if (t === S_IFDIR) this.mkdir(target, { recursive: true, mode: e.attr.mode & 0o7777 });
          else if (t === S_IFLNK) this.symlink(e.target!, target);
          else if (t === S_IFREG) this.copyFile(e.path, target);
        }
      }),
    );
  }

  private isWithinPath(ino: number, ancestor: number): boolean {
    // walk up with '..' lookups: works on any FileSystem
    let cur = ino;
    for (let i = 0; i < 4096; i++) {
      if (cur === ancestor) return true;
      if (cur === this.fs.rootIno) return false;
      cur = this.fs.lookup(cur, '..').ino;
    }
    return false;
  }
}

/** A walk met a directory again below itself: only a damaged (or hand-edited) database has that. */
export function cycleError(path: string): FsError {
  return new FsError('ELOOP', 'walk', path, `directory cycle at ${path}: the entry leads back to a directory above it (damaged database)`);
}

/** Byte order of UTF-8 names (what `ls` in the C locale does). */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
