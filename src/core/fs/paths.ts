/**
 * PathFs: path-based operations over any FileSystem (the inode filesystem or the overlay), the
 * helpers the SDK and CLI need (mkdir -p, readFile/writeFile, rm -r, copy, tree walk). It
 * composes the pieces that each do one job: resolve.ts (paths to inodes), open-flags.ts,
 * readdir-pages.ts (whole listings), walks.ts (tree walks), path-errors.ts (errors named by
 * syscall and path). Errors are FsError with the syscall and path.
 */
import { constants as bufferLimits } from 'node:buffer';
import { FsError, isFsError } from '../errors.js';
import {
  F_OK, isDir, isReg, isSymlink, processCaller,
  type Attr, type Caller, type FileSystem, type StatFs, type Timespec,
} from '../types.js';
import { O_APPEND, O_CREAT, O_EXCL, O_TRUNC, O_WRONLY, parseOpenFlags, writable, type OpenFlags } from './open-flags.js';
import { atPath } from './path-errors.js';
import { allEntries, allEntriesPlus, compareNames } from './readdir-pages.js';
import {
  collapseMissing, components, newEntryAt, normalized, parentOrRoot, parentPath, resolve, resolveForCreate, resolveParent, tryLookup, tryResolve,
} from './resolve.js';
import { fromMs } from './time.js';
import { removeContents, walkTree, type TreeEntry } from './walks.js';
import { DirsWritten } from './dirs-written.js';
import { eatsReserve, RESERVE_DETAIL } from './room.js';
import { pathTooLong } from './names.js';

const { MAX_LENGTH, MAX_STRING_LENGTH } = bufferLimits;

export { parseOpenFlags, type OpenFlags } from './open-flags.js';
// cycleError lives in walks.ts; the overlay and changes/ still import it from here
export { cycleError, type TreeEntry } from './walks.js';

/** how much data one read/write call moves (bounds memory and transaction size) */
const DEFAULT_PIECE = 1 << 20;

export interface PathFsOptions {
  /** owner of new files and subject of access checks (default: this process) */
  caller?: Caller;
  /** bytes per read/write call in whole-file helpers (default 1 MiB) */
  pieceSize?: number;
}

export interface Opened {
  ino: number;
  attr: Attr;
  flags: number;
}

type TimeArg = Timespec | Date | number | 'now';

interface WriteOptions {
  mode?: number;
  encoding?: BufferEncoding;
  createParents?: boolean;
}

function toTimespec(t: TimeArg): Timespec | 'now' {
  if (t === 'now') return 'now';
  if (t instanceof Date) return fromMs(t.getTime());
  if (typeof t === 'number') return fromMs(t);
  return t;
}

export class PathFs {
  readonly fs: FileSystem;
  readonly caller: Caller;
  private readonly piece: number;
  /** directories writeFile created files in: where its next one-statement create may go without a lookup */
  private readonly dirsWritten = new DirsWritten();

  constructor(fs: FileSystem, options: PathFsOptions = {}) {
    this.fs = fs;
    this.caller = options.caller ?? processCaller();
    this.piece = Math.max(4096, options.pieceSize ?? DEFAULT_PIECE);
  }

  /** Runs fn as one transaction of the filesystem: all of it happens, or none of it. */
  batch<T>(fn: () => T): T {
    return this.fs.transaction(fn);
  }

  /** Attributes of the inode at path; symlinks followed (also the last one when `follow`). */
  resolve(path: string, follow = true): Attr {
    return resolve(this.fs, path, follow);
  }

  // ---- metadata --------------------------------------------------------------------------

  stat(path: string): Attr {
    return atPath('stat', path, () => this.resolve(path, true));
  }

  lstat(path: string): Attr {
    return atPath('lstat', path, () => this.resolve(path, false));
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
    atPath('access', path, () => {
      const a = this.resolve(path, true);
      this.fs.access(a.ino, mode, this.caller);
    });
  }

  statfs(): StatFs {
    return this.fs.statfs();
  }

  chmod(path: string, mode: number): Attr {
    return atPath('chmod', path, () => this.fs.setattr(this.resolve(path).ino, { mode }, this.caller));
  }

  chown(path: string, uid: number, gid: number): Attr {
    return atPath('chown', path, () => this.fs.setattr(this.resolve(path).ino, { uid, gid }, this.caller));
  }

  utimes(path: string, atime: TimeArg, mtime: TimeArg): Attr {
    return atPath('utimes', path, () =>
      this.fs.setattr(this.resolve(path).ino, { atime: toTimespec(atime), mtime: toTimespec(mtime) }, this.caller),
    );
  }

  truncate(path: string, size = 0): Attr {
    return atPath('truncate', path, () => {
      const a = this.resolve(path);
      if (isDir(a.mode)) throw new FsError('EISDIR', 'truncate', path);
      return this.fs.setattr(a.ino, { size }, this.caller);
    });
  }

  // ---- directories ---------------------------------------------------------------------

  /** Names in a directory, sorted. */
  readdir(path: string): string[] {
    return atPath('scandir', path, () => allEntries(this.fs, this.dirAt(path, 'scandir').ino).map((e) => e.name).sort(compareNames));
  }

  /** Entries with their attributes (one query per page, no per-entry stat), sorted by name. */
  readdirPlus(path: string): { name: string; attr: Attr }[] {
    return atPath('scandir', path, () => allEntriesPlus(this.fs, this.dirAt(path, 'scandir').ino));
  }

  /** The directory at path (symlinks followed); ENOTDIR for anything else. */
  private dirAt(path: string, syscall: string): Attr {
    const d = this.resolve(path);
    if (!isDir(d.mode)) throw new FsError('ENOTDIR', syscall, path);
    return d;
  }

  /** mkdir; with `recursive`, creates missing parents and accepts an existing directory. */
  mkdir(path: string, options: { recursive?: boolean; mode?: number } = {}): Attr {
    const mode = options.mode ?? 0o755;
    return atPath('mkdir', path, () => {
      if (!options.recursive) {
        const { dir, name } = parentOrRoot(this.fs, path, 'EEXIST');
        return this.fs.mkdir(dir.ino, name, mode, this.caller);
      }
      if (path.length === 0) throw new FsError('ENOENT', 'mkdir', path);
      return this.batch(() => {
        const comps = components(collapseMissing(this.fs, path));
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
            found = tryLookup(this.fs, cur.ino, name);
            if (found && isSymlink(found.mode)) {
              plain = false;
              found = tryResolve(this.fs, prefix);
            }
          } else {
            plain = false;
            found = tryResolve(this.fs, prefix);
          }
          if (found) {
            if (!isDir(found.mode)) throw new FsError(prefix === '/' + comps.join('/') ? 'EEXIST' : 'ENOTDIR', 'mkdir', path);
            cur = found;
            continue;
          }
          cur = this.fs.mkdir(plain ? cur.ino : resolveParent(this.fs, prefix).dir.ino, name, mode, this.caller);
        }
        return cur;
      });
    });
  }

  rmdir(path: string): void {
    atPath('rmdir', path, () => {
      const { dir, name } = parentOrRoot(this.fs, path, 'EBUSY');
      this.fs.rmdir(dir.ino, name);
    });
  }

  unlink(path: string): void {
    atPath('unlink', path, () => {
      const { dir, name } = parentOrRoot(this.fs, path, 'EISDIR');
      // a trailing slash names a directory: unlink(2) refuses whatever the name is (a symlink
      // is not followed), as Linux does; dropping the slash would remove a file
      if (path.endsWith('/')) throw new FsError(isDir(this.fs.lookup(dir.ino, name).mode) ? 'EISDIR' : 'ENOTDIR', 'unlink', path);
      this.fs.unlink(dir.ino, name);
    });
  }

  /** rm: files, and with `recursive` whole trees (one transaction); `force` ignores a missing path. */
  rm(path: string, options: { recursive?: boolean; force?: boolean } = {}): void {
    atPath('rm', path, () => {
      let a: Attr;
      try {
        a = this.resolve(path, false);
      } catch (e) {
        if (options.force && isFsError(e, 'ENOENT')) return;
        throw e;
      }
      const { dir, name } = parentOrRoot(this.fs, path, 'EBUSY');
      if (!isDir(a.mode)) {
        this.fs.unlink(dir.ino, name);
        return;
      }
      if (!options.recursive) throw new FsError('EISDIR', 'rm', path, 'is a directory (use recursive)');
      this.batch(() => {
        removeContents(this.fs, a.ino, normalized(path));
        this.fs.rmdir(dir.ino, name);
      });
    });
  }

  /**
   * Depth-first walk below path (entries sorted by name; symlinks are not followed). Iterative,
   * and a directory met again below itself (a cycle in a damaged database) is ELOOP.
   */
  *walk(path: string, options: { maxDepth?: number } = {}): Generator<TreeEntry> {
    const root = atPath('scandir', path, () => this.dirAt(path, 'scandir'));
    yield* walkTree(this.fs, root.ino, normalized(path), options.maxDepth);
  }

  // ---- names -----------------------------------------------------------------------------

  rename(from: string, to: string, flags = 0): void {
    atPath('rename', from, () => {
      const src = parentOrRoot(this.fs, from, 'EBUSY');
      const dst = parentOrRoot(this.fs, to, 'EBUSY');
      // a trailing slash names a directory: renaming anything else that way is ENOTDIR (POSIX)
      if ((from.endsWith('/') || to.endsWith('/')) && !isDir(this.fs.lookup(src.dir.ino, src.name).mode)) {
        throw new FsError('ENOTDIR', 'rename', from);
      }
      this.fs.rename(src.dir.ino, src.name, dst.dir.ino, dst.name, flags);
    });
  }

  symlink(target: string, linkPath: string): Attr {
    return atPath('symlink', linkPath, () => {
      const { dir, name } = newEntryAt(this.fs, linkPath);
      return this.fs.symlink(dir.ino, name, target, this.caller);
    });
  }

  readlink(path: string): string {
    return atPath('readlink', path, () => this.fs.readlink(this.resolve(path, false).ino));
  }

  link(existing: string, newPath: string): Attr {
    return atPath('link', newPath, () => {
      const a = this.resolve(existing, false);
      const { dir, name } = newEntryAt(this.fs, newPath);
      return this.fs.link(a.ino, dir.ino, name);
    });
  }

  // ---- data ------------------------------------------------------------------------------

  /**
   * Opens (and with O_CREAT creates, with O_TRUNC truncates) a file, registering the handle
   * with the filesystem; pair with close(ino).
   */
  open(path: string, flags: OpenFlags = 'r', mode = 0o644): Opened {
    const f = parseOpenFlags(flags);
    return atPath('open', path, () =>
      this.batch(() => {
        const found = f & O_CREAT ? resolveForCreate(this.fs, path) : this.resolve(path, true);
        if ('ino' in found && f & O_CREAT && f & O_EXCL) throw new FsError('EEXIST', 'open', path);
        let a = 'ino' in found ? found : this.fs.create(found.dir.ino, found.name, mode, this.caller);
        if (isDir(a.mode) && writable(f)) throw new FsError('EISDIR', 'open', path);
        if (f & O_TRUNC && isReg(a.mode) && writable(f) && a.size > 0) {
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

  /** Yields a file's content piece by piece (for streaming it out). */
  *readPieces(path: string, pieceSize = this.piece): Generator<Buffer> {
    const a = atPath('open', path, () => this.resolve(path));
    yield* this.piecesOf(a, path, pieceSize);
  }

  private *piecesOf(a: Attr, path: string, pieceSize: number): Generator<Buffer> {
    if (isDir(a.mode)) throw new FsError('EISDIR', 'read', path);
    this.fs.open(a.ino, 0);
    try {
      for (let off = 0; ; ) {
        const buf = atPath('read', path, () => this.fs.read(a.ino, off, pieceSize));
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
    const a = atPath('open', path, () => this.resolve(path));
    // refused before reading, as node:fs does: a sparse file can be terabytes of hole
    const max = encoding ? Math.min(MAX_LENGTH, MAX_STRING_LENGTH) : MAX_LENGTH;
    if (a.size > max) throw new FsError('EFBIG', 'read', path, `file of ${a.size} bytes is larger than one ${encoding ? 'string' : 'Buffer'} holds (${max}); read it in pieces`);
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
  writeFile(path: string, data: string | Uint8Array, options: WriteOptions = {}): Attr {
    const buf = typeof data === 'string' ? Buffer.from(data, options.encoding ?? 'utf8') : data;
    // the direct path: content of one piece (the journal's write row is then the same), and
    // nothing for collapseMissing to take out of the path. (No closures or bound methods made
    // here before the one-statement create: an SDK writeFile's JavaScript is a tenth of its cost.)
    if (!this.fs.writeWhole || buf.byteLength > this.piece || (options.createParents && path.includes('..') && components(path).includes('..'))) {
      return this.writeFileOpened(path, buf, options);
    }
    return atPath('open', path, () => this.createAlone(path, buf, options.mode ?? 0o644) ?? this.writeFileWhole(path, buf, options));
  }

  /** writeFile by open, write and close. */
  private writeFileOpened(path: string, buf: Uint8Array, options: WriteOptions): Attr {
    return this.putFile(path, buf, options, O_WRONLY | O_CREAT | O_TRUNC, (ino, b) => this.writeAll(ino, 0, b));
  }

  /** writeFile of one piece in one transaction: the path looked up under the write lock, the content put whole. */
  private writeFileWhole(path: string, buf: Uint8Array, options: WriteOptions): Attr {
    const fs = this.fs;
    return this.batch(() => {
      let found: Attr | { dir: Attr; name: string } | undefined;
      try {
        found = resolveForCreate(fs, path);
      } catch (e) {
        if (!options.createParents || !isFsError(e, 'ENOENT')) throw e;
      }
      // missing parents, a directory, a fifo or device: what open(O_CREAT|O_TRUNC) does with them
      if (!found || ('ino' in found && !isReg(found.mode))) return this.writeFileOpened(path, buf, options);
      if ('ino' in found) return fs.writeWhole!(found, buf);
      return fs.writeWhole!({ parent: found.dir.ino, name: found.name, mode: options.mode ?? 0o644, caller: this.caller }, buf);
    });
  }

  /**
   * writeFile of a name not there yet as one statement (FileSystem.createWhole), looked up
   * without taking the write lock; undefined when that route is not taken (anything but a new
   * name, or something changed since the lookup), having written nothing.
   */
  private createAlone(path: string, buf: Uint8Array, mode: number): Attr | undefined {
    // a path past PATH_MAX: the lookup says ENAMETOOLONG, even when its directories exist
    if (!this.fs.createWhole || pathTooLong(path)) return undefined;
    const comps = components(path);
    const name = comps.pop();
    // only plain paths: what `.`, `..` or a trailing slash mean is the transaction route's to say
    if (name === undefined || name === '.' || name === '..' || path.endsWith('/') || comps.includes('.') || comps.includes('..')) return undefined;
    const dirPath = '/' + comps.join('/');
    if (this.dirsWritten.taken(dirPath, name)) return undefined; // a replacement, most likely
    const dir = this.dirsWritten.get(dirPath) ?? this.plainDir(comps);
    if (!dir) return undefined;
    const a = this.fs.createWhole(dir, dirPath, name, mode, this.caller, buf);
    if (a === undefined) this.dirsWritten.forget(dirPath); // moved or changed: look again next time
    else this.dirsWritten.remember(dirPath, dir, name);
    return a === 'taken' ? undefined : a;
  }

  /** The directory at the path of these components, if every one is a directory itself (no symlink, nothing missing). */
  private plainDir(comps: string[]): Attr | undefined {
    try {
      let dir = comps.length ? undefined : this.fs.getattr(this.fs.rootIno);
      let ino = this.fs.rootIno;
      for (const c of comps) {
        dir = this.fs.lookup(ino, c);
        if (!isDir(dir.mode)) return undefined;
        ino = dir.ino;
      }
      return dir;
    } catch {
      return undefined; // the transaction route says what is wrong (or makes the parents)
    }
  }

  /** Adds to the end of a file (made when missing) in one transaction. */
  appendFile(path: string, data: string | Uint8Array, options: WriteOptions = {}): Attr {
    return this.putFile(path, data, options, O_WRONLY | O_CREAT | O_APPEND, (ino, buf) => this.appendAll(ino, buf));
  }

  /** Opens path with flags, lets put write data to it, closes: one transaction. */
  private putFile(path: string, data: string | Uint8Array, options: WriteOptions, flags: number, put: (ino: number, buf: Uint8Array) => void): Attr {
    const buf = typeof data === 'string' ? Buffer.from(data, options.encoding ?? 'utf8') : data;
    return atPath('open', path, () =>
      this.batch(() => {
        const h = this.openForWrite(path, options.mode ?? 0o644, options.createParents === true, flags);
        try {
          put(h.ino, buf);
          return this.fs.getattr(h.ino);
        } finally {
          this.close(h.ino);
        }
      }),
    );
  }

  /** open(flags, by default O_WRONLY|O_CREAT|O_TRUNC); a missing parent is made only after the open says so. */
  private openForWrite(path: string, mode: number, createParents: boolean, flags = O_WRONLY | O_CREAT | O_TRUNC): Opened {
    if (!createParents) return this.open(path, flags, mode);
    path = collapseMissing(this.fs, path);
    try {
      return this.open(path, flags, mode); // fails before changing anything
    } catch (e) {
      if (!isFsError(e, 'ENOENT') || components(path).length < 2) throw e;
      this.mkdir(parentPath(path), { recursive: true });
      return this.open(path, flags, mode);
    }
  }

  /** Writes a stream (e.g. stdin) to a file without holding it in memory; `append`: at its end. */
  async writeStream(
    path: string,
    source: AsyncIterable<Uint8Array | string>,
    options: { mode?: number; createParents?: boolean; append?: boolean } = {},
  ): Promise<Attr> {
    let existed = true; // unknown counts as there: never removed below
    try {
      existed = tryResolve(this.fs, path) !== undefined;
    } catch {
      /* the open below says what is wrong with the path */
    }
    const flags = O_WRONLY | O_CREAT | (options.append ? O_APPEND : O_TRUNC);
    const h = atPath('open', path, () => this.batch(() => this.openForWrite(path, options.mode ?? 0o644, options.createParents === true, flags)));
    let written = false;
    try {
      let off = 0;
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = () => {
        if (!pendingBytes) return;
        const buf = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
        // each piece commits: one that filled the disk would leave a part of the file that there
        // is then no room to remove (DELETE_RESERVE)
        this.checkRoom('write', path, buf.length);
        try {
          if (options.append) atPath('write', path, () => this.appendAll(h.ino, buf));
          else atPath('write', path, () => this.writeAll(h.ino, off, buf));
        } catch (e) {
          // the inode went: another process removed or replaced the file (no holder keeps it here)
          if (isFsError(e, 'ENOENT')) throw new FsError('ENOENT', 'write', path, 'the file was removed or replaced by another process while being written');
          throw e;
        }
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
      written = true;
      return this.fs.getattr(h.ino);
    } finally {
      this.close(h.ino);
      // a file this call made and could not fill (a full disk, a broken source) is not left half;
      // only while the path still names it: another process may have put its own file there
      if (!written && !existed) {
        try {
          this.batch(() => {
            if (tryResolve(this.fs, path)?.ino === h.ino) this.unlink(path);
          });
        } catch {
          /* left as it is: the error that stopped the write is the one to report */
        }
      }
    }
  }

  /**
   * ENOSPC when writing `incoming` more bytes would leave less than DELETE_RESERVE free: the CLI
   * checks before each write (a disk filled to the last block would let nothing be removed).
   */
  checkRoom(syscall: string, path: string, incoming: number): void {
    const { bavail, bsize } = this.fs.statfs();
    if (eatsReserve(bavail * bsize, Math.max(1, incoming))) throw new FsError('ENOSPC', syscall, path, RESERVE_DETAIL);
  }

  private writeAll(ino: number, offset: number, data: Uint8Array): void {
    this.inPieces(data, (piece, done) => this.fs.write(ino, offset + done, piece));
  }

  /** At the end as each write transaction sees it: another process may be appending too. */
  private appendAll(ino: number, data: Uint8Array): void {
    this.inPieces(data, (piece) => {
      this.fs.append(ino, piece);
      return piece.byteLength;
    });
  }

  /** Hands data to put a piece (at most pieceSize bytes) at a time; put says how many bytes it took. */
  private inPieces(data: Uint8Array, put: (piece: Uint8Array, done: number) => number): void {
    for (let done = 0; done < data.byteLength; ) {
      done += put(data.subarray(done, done + Math.min(this.piece, data.byteLength - done)), done);
    }
  }

  /** Copies a regular file's content and mode; `exclusive` refuses an existing destination. */
  copyFile(src: string, dest: string, options: { exclusive?: boolean } = {}): Attr {
    return atPath('copyfile', src, () =>
      this.batch(() => {
        const s = this.resolve(src);
        if (isDir(s.mode)) throw new FsError('EISDIR', 'copyfile', src);
        const existing = tryResolve(this.fs, dest);
        if (existing && isDir(existing.mode)) throw new FsError('EISDIR', 'copyfile', dest);
        if (existing && existing.ino === s.ino) return existing;
        const flags = O_WRONLY | O_CREAT | O_TRUNC | (options.exclusive ? O_EXCL : 0);
        const d = atPath('copyfile', dest, () => this.open(dest, flags, s.mode & 0o7777));
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
    atPath('cp', src, () =>
      this.batch(() => {
        const s = this.resolve(src, false);
        if (isSymlink(s.mode)) {
          this.symlink(this.fs.readlink(s.ino), dest);
          return;
        }
        if (!isDir(s.mode)) {
          if (isReg(s.mode)) this.copyFile(src, dest);
          else this.mknodLike(s, dest);
          return;
        }
        if (!options.recursive) throw new FsError('EISDIR', 'cp', src, 'is a directory (use recursive)');
        dest = collapseMissing(this.fs, dest);
        // the destination's parent must not lie inside the source, or the copy would never end
        const d = atPath('cp', dest, () => tryResolve(this.fs, dest) ?? resolveParent(this.fs, dest).dir);
        if (this.isWithinPath(d.ino, s.ino)) throw new FsError('EINVAL', 'cp', dest, 'cannot copy a directory into itself');
        this.mkdir(dest, { recursive: true, mode: s.mode & 0o7777 });
        const base = normalized(src);
        const to = normalized(dest);
        for (const e of this.walk(src)) {
          const target = to + e.path.slice(base === '/' ? 0 : base.length);
          if (isDir(e.attr.mode)) this.mkdir(target, { recursive: true, mode: e.attr.mode & 0o7777 });
          else if (isSymlink(e.attr.mode)) this.symlink(e.target!, target);
          else if (isReg(e.attr.mode)) this.copyFile(e.path, target);
          else this.mknodLike(e.attr, target);
        }
      }),
    );
  }

  /** A fifo, socket or device made anew at path (as `cp -R` does): it has no content to copy. */
  private mknodLike(a: Attr, path: string): Attr {
    return atPath('mknod', path, () => {
      const { dir, name } = newEntryAt(this.fs, path);
      return this.fs.mknod(dir.ino, name, a.mode, a.rdev, this.caller);
    });
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
