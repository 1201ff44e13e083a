/**
 * The SDK's filesystem: an async facade over PathFs with the method names and shapes of
 * agentfs-sdk's FileSystem interface (stat objects with isFile()/isDirectory(), readdirPlus,
 * open() handles with pread/pwrite), plus nanosecond times and the rest of what Node users expect.
 */
import { PathFs, type OpenFlags } from '../core/fs/paths.js';
import { toNs } from '../core/fs/time.js';
import {
  F_OK, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
  type Attr, type FileSystem, type StatFs, type Timespec,
} from '../core/types.js';
import { FsError } from '../core/errors.js';
import { textFromBytes } from '../core/fs/names.js';

/** A path as a string or as UTF-8 bytes (as Node's fs takes it); bytes that are not UTF-8 are EILSEQ. */
export type PathLike = string | Uint8Array;

function pathArg(path: PathLike, syscall: string): string {
  return typeof path === 'string' ? path : textFromBytes(path, syscall, 'path');
}

/** File attributes, Node-style: times in ms as numbers, plus exact ns as bigints. */
export class Stats {
  readonly ino: number;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly rdev: number;
  readonly blksize: number;
  readonly blocks: number;
  /** ms since the epoch (as in Node's atimeMs) */
  readonly atime: number;
  readonly mtime: number;
  readonly ctime: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  /** ns since the epoch, exact */
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  /** seconds + nanoseconds as stored */
  readonly atimespec: Timespec;
  readonly mtimespec: Timespec;
  readonly ctimespec: Timespec;

  constructor(a: Attr) {
    this.ino = a.ino;
    this.mode = a.mode;
    this.nlink = a.nlink;
    this.uid = a.uid;
    this.gid = a.gid;
    this.size = a.size;
    this.rdev = a.rdev;
    this.blksize = a.blksize;
    this.blocks = a.blocks;
    this.atimespec = a.atime;
    this.mtimespec = a.mtime;
    this.ctimespec = a.ctime;
    this.atimeNs = toNs(a.atime);
    this.mtimeNs = toNs(a.mtime);
    this.ctimeNs = toNs(a.ctime);
    this.atime = this.atimeMs = a.atime.sec * 1000 + a.atime.nsec / 1e6;
    this.mtime = this.mtimeMs = a.mtime.sec * 1000 + a.mtime.nsec / 1e6;
    this.ctime = this.ctimeMs = a.ctime.sec * 1000 + a.ctime.nsec / 1e6;
  }

  isFile(): boolean {
    return (this.mode & S_IFMT) === S_IFREG;
  }
  isDirectory(): boolean {
    return (this.mode & S_IFMT) === S_IFDIR;
  }
  isSymbolicLink(): boolean {
    return (this.mode & S_IFMT) === S_IFLNK;
  }
  isFIFO(): boolean {
    return (this.mode & S_IFMT) === S_IFIFO;
  }
  isSocket(): boolean {
    return (this.mode & S_IFMT) === S_IFSOCK;
  }
  isCharacterDevice(): boolean {
    return (this.mode & S_IFMT) === S_IFCHR;
  }
  isBlockDevice(): boolean {
    return (this.mode & S_IFMT) === S_IFBLK;
  }
}

export interface DirEntry {
  name: string;
  stats: Stats;
}

/** agentfs-sdk's statfs shape plus the POSIX numbers (StatFs). */
export interface FilesystemStats extends StatFs {
  /** inodes in use (files, directories, symlinks, ...) */
  inodes: number;
  /** bytes of file content (sum of sizes of regular files) */
  bytesUsed: number;
}

type Encoding = BufferEncoding | { encoding?: BufferEncoding | null } | null | undefined;

function encodingOf(o: Encoding): BufferEncoding | undefined {
  if (!o) return undefined;
  if (typeof o === 'string') return o;
  return o.encoding ?? undefined;
}

/** An open file: I/O at explicit offsets on one inode, valid until close(). */
export class FileHandle {
  readonly ino: number;
  readonly path: string;
  private closed = false;
  private readonly append: boolean;

  constructor(private readonly paths: PathFs, ino: number, path: string, append: boolean) {
    this.ino = ino;
    this.path = path;
    this.append = append;
  }

  private live(syscall: string): FileSystem {
    if (this.closed) throw new FsError('EBADF', syscall, this.path);
    return this.paths.fs;
  }

  async pread(offset: number, size: number): Promise<Buffer> {
    return this.live('read').read(this.ino, offset, size);
  }

  /** Writes all of data at offset (at end of file when opened for append); returns bytes written. */
  async pwrite(offset: number, data: Buffer | Uint8Array | string): Promise<number> {
    const fs = this.live('write');
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    if (!this.append) return fs.write(this.ino, offset, buf);
    // the end as the write transaction sees it (another process may be appending too)
    fs.append(this.ino, buf);
    return buf.byteLength;
  }

  async truncate(size = 0): Promise<void> {
    this.live('ftruncate').setattr(this.ino, { size });
  }

  async fsync(): Promise<void> {
    this.live('fsync').fsync(this.ino, false);
  }

  async fstat(): Promise<Stats> {
    return new Stats(this.live('fstat').getattr(this.ino));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.paths.close(this.ino);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** The agent's filesystem for SDK users (`agent.fs`). */
export class AgentFsFilesystem {
  readonly paths: PathFs;

  /**
   * onOpen: called before a handle is handed out; AgentFS registers the process as a holder
   * there, so another process's unlink keeps the file's data until this handle is closed.
   */
  constructor(fs: FileSystem | PathFs, private readonly onOpen?: () => void) {
    this.paths = fs instanceof PathFs ? fs : new PathFs(fs);
  }

  async stat(path: PathLike): Promise<Stats> {
    path = pathArg(path, 'stat');
    return new Stats(this.paths.stat(path));
  }

  async lstat(path: PathLike): Promise<Stats> {
    path = pathArg(path, 'lstat');
    return new Stats(this.paths.lstat(path));
  }

  async exists(path: PathLike): Promise<boolean> {
    path = pathArg(path, 'exists');
    return this.paths.exists(path);
  }

  async readFile(path: PathLike): Promise<Buffer>;
  async readFile(path: PathLike, options: BufferEncoding | { encoding: BufferEncoding }): Promise<string>;
  async readFile(path: PathLike, options?: Encoding): Promise<Buffer | string>;
  async readFile(path: PathLike, options?: Encoding): Promise<Buffer | string> {
    path = pathArg(path, 'readFile');
    const enc = encodingOf(options);
    return enc ? this.paths.readFile(path, enc) : this.paths.readFile(path);
  }

  /** Creates or replaces a file; missing parent directories are created (as agentfs-sdk does). */
  async writeFile(path: PathLike, data: string | Uint8Array, options?: Encoding | { encoding?: BufferEncoding; mode?: number }): Promise<void> {
    path = pathArg(path, 'writeFile');
    const mode = options && typeof options === 'object' && 'mode' in options ? options.mode : undefined;
    this.paths.writeFile(path, data, { encoding: encodingOf(options as Encoding), mode, createParents: true });
  }

  async appendFile(path: PathLike, data: string | Uint8Array, options?: Encoding): Promise<void> {
    path = pathArg(path, 'appendFile');
    this.paths.appendFile(path, data, { encoding: encodingOf(options) });
  }

  async readdir(path: PathLike): Promise<string[]> {
    path = pathArg(path, 'readdir');
    return this.paths.readdir(path);
  }

  async readdirPlus(path: PathLike): Promise<DirEntry[]> {
    path = pathArg(path, 'readdirPlus');
    return this.paths.readdirPlus(path).map((e) => ({ name: e.name, stats: new Stats(e.attr) }));
  }

  async mkdir(path: PathLike, options?: { recursive?: boolean; mode?: number }): Promise<void> {
    path = pathArg(path, 'mkdir');
    this.paths.mkdir(path, options);
  }

  async rmdir(path: PathLike): Promise<void> {
    path = pathArg(path, 'rmdir');
    this.paths.rmdir(path);
  }

  async unlink(path: PathLike): Promise<void> {
    path = pathArg(path, 'unlink');
    this.paths.unlink(path);
  }

  async rm(path: PathLike, options?: { force?: boolean; recursive?: boolean }): Promise<void> {
    path = pathArg(path, 'rm');
    this.paths.rm(path, options);
  }

  async rename(oldPath: PathLike, newPath: PathLike): Promise<void> {
    oldPath = pathArg(oldPath, 'rename');
    newPath = pathArg(newPath, 'rename');
    this.paths.rename(oldPath, newPath);
  }

  async copyFile(src: PathLike, dest: PathLike): Promise<void> {
    src = pathArg(src, 'copyFile');
    dest = pathArg(dest, 'copyFile');
    this.paths.copyFile(src, dest);
  }

  async cp(src: PathLike, dest: PathLike, options?: { recursive?: boolean }): Promise<void> {
    src = pathArg(src, 'cp');
    dest = pathArg(dest, 'cp');
    this.paths.cp(src, dest, options);
  }

  async symlink(target: PathLike, linkpath: PathLike): Promise<void> {
    target = pathArg(target, 'symlink');
    linkpath = pathArg(linkpath, 'symlink');
    this.paths.symlink(target, linkpath);
  }

  async readlink(path: PathLike): Promise<string> {
    path = pathArg(path, 'readlink');
    return this.paths.readlink(path);
  }

  async link(existingPath: PathLike, newPath: PathLike): Promise<void> {
    existingPath = pathArg(existingPath, 'link');
    newPath = pathArg(newPath, 'link');
    this.paths.link(existingPath, newPath);
  }

  /** Throws ENOENT when missing, EACCES when `mode` (R_OK|W_OK|X_OK) is not allowed. */
  async access(path: PathLike, mode = F_OK): Promise<void> {
    path = pathArg(path, 'access');
    this.paths.access(path, mode);
  }

  async truncate(path: PathLike, size = 0): Promise<void> {
    path = pathArg(path, 'truncate');
    this.paths.truncate(path, size);
  }

  async chmod(path: PathLike, mode: number): Promise<void> {
    path = pathArg(path, 'chmod');
    this.paths.chmod(path, mode);
  }

  async chown(path: PathLike, uid: number, gid: number): Promise<void> {
    path = pathArg(path, 'chown');
    this.paths.chown(path, uid, gid);
  }

  async utimes(path: PathLike, atime: Date | number, mtime: Date | number): Promise<void> {
    path = pathArg(path, 'utimes');
    this.paths.utimes(path, atime, mtime);
  }

  async statfs(): Promise<FilesystemStats> {
    const s = this.paths.statfs();
    const fs = this.paths.fs as FileSystem & { usage?: () => { inodes: number; bytes: number } };
    if (typeof fs.usage === 'function') {
      const u = fs.usage();
      return { ...s, inodes: u.inodes, bytesUsed: u.bytes };
    }
    // any other FileSystem: count by walking the tree
    let inodes = 1;
    let bytesUsed = 0;
    for (const e of this.paths.walk('/')) {
      inodes++;
      if ((e.attr.mode & S_IFMT) === S_IFREG) bytesUsed += e.attr.size;
    }
    return { ...s, inodes, bytesUsed };
  }

  /** Opens a file ('r' by default; 'r+', 'w', 'a', 'wx' ... or O_* numbers) and returns a handle. */
  async open(path: PathLike, flags: OpenFlags = 'r', mode = 0o644): Promise<FileHandle> {
    path = pathArg(path, 'open');
    this.onOpen?.();
    const h = this.paths.open(path, flags, mode);
    const append = typeof flags === 'string' ? flags.includes('a') : (h.flags & 0o2000) !== 0;
    return new FileHandle(this.paths, h.ino, path, append);
  }
}
