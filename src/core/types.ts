/**
 * The one filesystem interface every adapter (SDK, CLI, FUSE, MCP, sandbox) speaks.
 * Operations are inode-addressed and synchronous (SQLite is in-process), and fail by throwing
 * FsError with a POSIX errno code. Both the plain inode filesystem and the copy-on-write overlay
 * implement it.
 */

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

export const ROOT_INO = 1;
export const NAME_MAX = 255;

/** access() masks */
export const F_OK = 0;
export const X_OK = 1;
export const W_OK = 2;
export const R_OK = 4;

/** rename() flags, as in Linux renameat2(2) */
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;

export interface Timespec {
  sec: number;
  nsec: number;
}

export interface Attr {
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  rdev: number;
  blksize: number;
  /** 512-byte blocks actually stored (holes excluded) */
  blocks: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
}

/** Who is asking: used for permission checks and as owner of new inodes. */
export interface Caller {
  uid: number;
  gid: number;
  /** supplementary groups */
  groups?: readonly number[];
  pid?: number;
}

/** Fields to change in setattr; a time may be 'now'. Changing size truncates or extends. */
export interface SetAttr {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: Timespec | 'now';
  mtime?: Timespec | 'now';
}

export interface DirEntry {
  name: string;
  ino: number;
  /** full mode when known; at least the S_IFMT type bits */
  mode: number;
  /** opaque cookie: pass it back to readdir to continue after this entry (stable across changes) */
  offset: number;
}

export interface DirEntryPlus extends DirEntry {
  attr: Attr;
}

export interface StatFs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  namemax: number;
}

export interface FileSystem {
  readonly rootIno: number;

  /**
   * The entry `name` of directory `parent`. '.' is parent itself and '..' its parent (the root's
   * is the root) in every implementation: callers may walk up with it.
   */
  lookup(parent: number, name: string): Attr;
  getattr(ino: number): Attr;
  setattr(ino: number, changes: SetAttr, caller?: Caller): Attr;
  /** throws EACCES unless caller may access ino with mask (R_OK|W_OK|X_OK, or F_OK) */
  access(ino: number, mask: number, caller: Caller): void;

  mkdir(parent: number, name: string, mode: number, caller: Caller): Attr;
  /** regular files, fifos, sockets, char and block devices (type bits in mode) */
  mknod(parent: number, name: string, mode: number, rdev: number, caller: Caller): Attr;
  /** new empty regular file; EEXIST if the name is taken */
  create(parent: number, name: string, mode: number, caller: Caller): Attr;
  symlink(parent: number, name: string, target: string, caller: Caller): Attr;
  link(ino: number, newParent: number, newName: string): Attr;
  unlink(parent: number, name: string): void;
  rmdir(parent: number, name: string): void;
  rename(parent: number, name: string, newParent: number, newName: string, flags?: number): void;
  readlink(ino: number): string;

  read(ino: number, offset: number, length: number): Buffer;
  write(ino: number, offset: number, data: Uint8Array): number;
  fsync(ino: number, datasync: boolean): void;

  /** Entries after cookie `offset` (0 = from the start), '.' and '..' excluded, at most `limit`. */
  readdir(ino: number, offset?: number, limit?: number): DirEntry[];
  readdirPlus(ino: number, offset?: number, limit?: number): DirEntryPlus[];
  statfs(): StatFs;

  /** An open handle on ino exists (keeps an unlinked inode alive until release). */
  open(ino: number, flags: number): void;
  release(ino: number): void;
}

export function isDir(mode: number): boolean {
  return (mode & S_IFMT) === S_IFDIR;
}
export function isReg(mode: number): boolean {
  return (mode & S_IFMT) === S_IFREG;
}
export function isSymlink(mode: number): boolean {
  return (mode & S_IFMT) === S_IFLNK;
}

export const ROOT_CALLER: Caller = Object.freeze({ uid: 0, gid: 0 });

/** The current process as caller (root when the platform has no uids). */
export function processCaller(): Caller {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const gid = typeof process.getgid === 'function' ? process.getgid() : 0;
  const groups = typeof process.getgroups === 'function' ? process.getgroups() : [];
  return { uid, gid, groups };
}
