/**
 * The one filesystem interface every adapter (SDK, CLI, FUSE, MCP, sandbox) speaks.
 * Operations are inode-addressed and synchronous (SQLite is in-process), and fail by throwing
 * FsError with a POSIX errno code. Both the plain inode filesystem and the copy-on-write overlay
 * implement it.
 */
import type { SharedReads } from './fs/shared-reads.js';

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
/** set-group-id: on a directory, new entries take its group (and subdirectories the bit) */
export const S_ISGID = 0o2000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

export const ROOT_INO = 1;
export const NAME_MAX = 255;
/** bytes of UTF-8 a whole path may have (Linux's, as the kernel refuses longer ones at a mount) */
export const PATH_MAX = 4096;

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
  /**
   * Drop the set-id bits a chown by the caller would drop (core/fs/set-id.ts), whether or not an
   * owner or group comes with it: what a FUSE kernel that leaves them to the server
   * (FUSE_HANDLE_KILLPRIV) asks by a SETATTR with nothing to set, before a write or fallocate by a
   * user without privilege and for a chown(-1, -1).
   */
  dropSetId?: boolean;
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

/**
 * What unlink/rmdir removed, for a caller that keeps caches (the FUSE server): the inode the name
 * named and the parent's attributes after the change, read by the change itself. An
 * implementation whose reads are shared with the native reader (sharedReads) returns it.
 */
export interface Removal {
  ino: number;
  /**
   * the parent's attributes after the removal; undefined when the filesystem does not read them
   * back (OverlayFs: the caller asks getattr if it needs them) or the parent's own row is missing
   * (a damaged database)
   */
  parent: Attr | undefined;
  /** unlink: the names the inode has left (0: it is gone, or an orphan until its last release) */
  links?: number;
  /** unlink: whether the inode went with this name (true) or lives on (false); undefined: not known */
  gone?: boolean;
}

/**
 * The filesystem contract. Every implementation (InodeFs, OverlayFs) behaves the same way, and
 * test/conformance/ checks each rule below against each of them and through a FUSE mount.
 *
 * Common rules:
 * - Failures throw FsError with the errno named here. Every mutating operation is atomic: it
 *   happens completely or not at all (one store transaction, a savepoint when nested).
 * - An `ino` argument is a number this filesystem handed out (lookup, create, readdir...). One it
 *   does not know gives ENOENT or ESTALE (the overlay knows an inode only once it was looked up).
 * - A directory argument that is not a directory: ENOTDIR.
 * - Names (one directory entry) are checked by one function for everyone (fs/names.ts
 *   checkName): empty ENOENT, more than NAME_MAX (255) bytes of UTF-8 ENAMETOOLONG, '/' or NUL
 *   EINVAL, a lone surrogate EILSEQ. '.' and '..' are never stored; lookup follows them, the
 *   calls that make, remove or move an entry refuse them with Linux's errno (checkNotDot):
 *   mkdir/mknod/create/symlink/link EEXIST, unlink EISDIR, rmdir '.' EINVAL / '..' ENOTEMPTY,
 *   rename EBUSY.
 * - Permissions are not checked except by `access` (the FUSE mount leaves them to the kernel,
 *   the NFS server checks them itself); the caller owns what it creates.
 */
export interface FileSystem {
  readonly rootIno: number;

  /**
   * The entry `name` of directory `parent`. '.' is parent itself and '..' its parent (the root's
   * is the root) in every implementation: callers may walk up with it.
   * ENOENT no such entry; ENOTDIR parent is not a directory.
   */
  lookup(parent: number, name: string): Attr;
  /** Attributes of ino. ENOENT/ESTALE unknown ino. */
  getattr(ino: number): Attr;
  /**
   * Changes mode (permission bits only), owner, times and size (truncate or extend with a hole),
   * all at once; ctime moves. Returns the new attributes. A new owner or group drops setuid and
   * setgid (setgid only where the group may execute) unless a mode comes with it, as does a
   * truncate by a caller without privilege (uid 0 has it), as the kernel does. EISDIR size of a directory; EINVAL size
   * of another non-regular file, a negative size or an invalid time.
   */
  setattr(ino: number, changes: SetAttr, caller?: Caller): Attr;
  /** Throws EACCES unless caller may access ino with mask (R_OK|W_OK|X_OK, or F_OK). */
  access(ino: number, mask: number, caller: Caller): void;

  /**
   * A new directory (nlink 2; the parent's nlink + 1). EEXIST the name is taken; ENOTDIR parent
   * is not a directory. A setgid parent passes on its group and its setgid bit.
   */
  mkdir(parent: number, name: string, mode: number, caller: Caller): Attr;
  /** Regular files, fifos, sockets, char and block devices (type bits in mode); EINVAL for others; EEXIST taken. */
  mknod(parent: number, name: string, mode: number, rdev: number, caller: Caller): Attr;
  /** A new empty regular file. EEXIST the name is taken. */
  create(parent: number, name: string, mode: number, caller: Caller): Attr;
  /** A symbolic link to `target` (stored as is). ENOENT empty target; ENAMETOOLONG 4096 bytes or more; EEXIST taken. */
  symlink(parent: number, name: string, target: string, caller: Caller): Attr;
  /** Another name for ino (nlink + 1, same inode number and data). EPERM ino is a directory; EEXIST taken. */
  link(ino: number, newParent: number, newName: string): Attr;
  /**
   * Removes a name of a non-directory; the inode goes with its last name and last open handle.
   * ENOENT no such entry; EISDIR it is a directory. May return what it removed (see Removal).
   */
  unlink(parent: number, name: string): Removal | void;
  /** Removes an empty directory. ENOENT no such entry; ENOTDIR not a directory; ENOTEMPTY it has entries. */
  rmdir(parent: number, name: string): Removal | void;
  /**
   * rename(2)/renameat2(2), atomically: an existing target is replaced. Two names of one inode:
   * nothing happens. ENOENT no source (or, with RENAME_EXCHANGE, no target); EEXIST target exists
   * with RENAME_NOREPLACE; ENOTDIR directory over a non-directory; EISDIR non-directory over a
   * directory; ENOTEMPTY target directory has entries; EINVAL a directory into its own subtree,
   * or unknown / contradictory flags.
   */
  rename(parent: number, name: string, newParent: number, newName: string, flags?: number): void;
  /** The target of a symbolic link. EINVAL ino is not a symlink. */
  readlink(ino: number): string;

  /**
   * Up to `length` bytes from `offset` (fewer at end of file; holes read as zeros). EISDIR a
   * directory; EINVAL another non-regular file, or a negative offset/length.
   */
  read(ino: number, offset: number, length: number): Buffer;
  /**
   * Writes all of data at offset (extending the file; a gap is a hole); returns its length. EISDIR / EINVAL as read; EFBIG past 2^53.
   * caller: the writer, where one is known (a kernel request); one without privilege drops the
   * file's setuid and setgid bits, as the kernel does.
   */
  write(ino: number, offset: number, data: Uint8Array, caller?: Caller): number;
  /**
   * O_APPEND: writes all of data at the file's end as it is inside this write transaction (not
   * as any cache saw it, so concurrent appenders from other processes never overwrite each
   * other); returns the offset the data landed at.
   */
  append(ino: number, data: Uint8Array, caller?: Caller): number;
  /** Makes ino's committed changes durable. */
  fsync(ino: number, datasync: boolean): void;
  /**
   * fallocate(2): mode 0 (extend over a hole), FALLOC_FL_KEEP_SIZE, PUNCH_HOLE (with KEEP_SIZE)
   * and ZERO_RANGE; ENOSPC when the range's missing chunks exceed statfs's free space, ENOTSUP
   * for the other modes.
   */
  fallocate(ino: number, mode: number, offset: number, length: number, caller?: Caller): void;

  /**
   * Entries after cookie `offset` (0 = from the start), '.' and '..' excluded, at most `limit`
   * (negative: all). Cookies stay valid while entries come and go: a listing paged while the
   * directory changes shows every entry that stayed, exactly once. ENOTDIR not a directory.
   */
  readdir(ino: number, offset?: number, limit?: number): DirEntry[];
  /** readdir with each entry's attributes. */
  readdirPlus(ino: number, offset?: number, limit?: number): DirEntryPlus[];
  statfs(): StatFs;

  /**
   * An open handle on ino exists (keeps an unlinked inode alive until release). ENOENT unknown
   * ino, unless `seen`: the caller saw the inode a moment ago (an open the native reader answered),
   * and it is only counted.
   */
  open(ino: number, flags: number, seen?: boolean): void;
  release(ino: number): void;

  /**
   * Runs fn as one transaction: every change fn makes through this filesystem commits together,
   * or, when fn throws, none of them does (and the error is re-thrown). Nests (as a savepoint).
   * PathFs groups multi-step changes with it (rm -r, writeFile, cp -r, mkdir -p).
   */
  transaction<T>(fn: () => T): T;

  /**
   * Optional: PathFs.writeFile's direct path. Replaces the content of the regular file `target`
   * (its Attr as just looked up in this transaction), or creates `target.name` in directory
   * `target.parent` with `data` as content. Runs only inside transaction(), which must roll it
   * back when it throws; returns the new attributes without reading them back.
   */
  writeWhole?(target: Attr | { parent: number; name: string; mode: number; caller: Caller }, data: Uint8Array): Attr;

  /**
   * Optional: PathFs.writeFile's quickest route, tried before its transaction. Creates `name` in
   * the directory `dir`, as looked up at `dirPath` with no symlink on the way (at any time
   * before, outside any transaction), with `data` as content, committed by itself (or joining
   * the open transaction), after checking that `dir` is still at dirPath, unchanged, and the
   * name free. 'taken' when the name is taken, undefined when it cannot for another reason:
   * either way nothing was written, and the caller takes the transaction route, which looks
   * again and says what is wrong, if anything.
   */
  createWhole?(dir: Attr, dirPath: string, name: string, mode: number, caller: Caller, data: Uint8Array): Attr | 'taken' | undefined;

  /**
   * Optional: what a second reader of the same database file needs to serve the read-only
   * requests itself (the FUSE mount's native read path); undefined when that cannot be done
   * (no database file, or state a second reader could not see, as an overlay's base).
   */
  sharedReads?(): SharedReads | undefined;

  /**
   * Optional: ino's attributes as the open write transaction last wrote them, when known without
   * a read (undefined otherwise, and outside a write transaction): what an adapter hands its
   * native side after a write, at no cost when unknown.
   */
  writtenAttr?(ino: number): Attr | undefined;

  /**
   * Optional: which inodes are exactly a host file right now (an overlay's files with nothing in
   * the delta), so that an adapter may answer their attributes and read-only opens and reads
   * from the host file itself (the FUSE mount's native path); undefined when there are none.
   */
  hostFiles?(): HostFiles | undefined;

  /**
   * Optional: another process changed the database (a second mount, the CLI): what is kept in
   * memory from it must be read again (an overlay's whiteouts and merged paths).
   */
  changedOutside?(): void;

  /**
   * Optional: readies the connection for its first writes (what it makes once: the one-statement
   * operations' scratch tables), writing nothing to the database; called by an adapter while no
   * client waits, so that the first write one waits on does not pay for it.
   */
  prepareWrites?(): void;
}

/** See FileSystem.hostFiles. */
export interface HostFiles {
  /**
   * The host path whose lstat (under inode number `ino`) and content are those of `ino` now, its
   * S_IFMT type and the directory it was last seen in (its '..'; 0 if none); undefined when `ino` is not such a file (or its path is too long to use).
   */
  hostFile(ino: number): { path: string; type: number; parent: number } | undefined;
  /**
   * The inode of `delta` whose stored attributes, shown under `ino`, are those of `ino` now (a
   * regular file living in the delta: copied up or created there); undefined otherwise.
   */
  deltaFile(ino: number): number | undefined;
  /**
   * The inode of `delta` that directory `ino` lives as (copied up, or made there): its stored
   * mtime is that of `ino` (the link count is not: a merged directory's is 1); undefined otherwise.
   */
  deltaDir(ino: number): number | undefined;
  /**
   * Whether `ino` is the number of a file living in the delta that shows a host file's inode
   * number (an overlay's copy-up): a host entry of that inode number is then not for the adapter
   * to number and list (the host may have given the number to another file since the copied one
   * was removed), nor is it a host file. Also true, for the overlay's life, of a host number the
   * overlay gave another file a number of its own for (that file's entries are numbered by the
   * core). Asked again after each onChange(ino) and onCopyNumber.
   */
  copyNumber(ino: number): boolean;
  /**
   * The numbers copyNumber holds for now, and those a copy recorded in an earlier session may show
   * (no file of this session has them yet): what the adapter starts from.
   */
  copyNumbers(): Iterable<number>;
  /** Calls `listener` when copyNumber(ino) may have become true without an onChange (a copy seen). */
  onCopyNumber(listener: (ino: number) => void): void;
  /** Reads of the delta's database, shared as FileSystem.sharedReads (undefined: not a file). */
  delta: SharedReads | undefined;
  /**
   * For a listing of directory `ino`: the host directory its base entries come from, and whether
   * a listed inode is exactly the host file `dir + '/' + its name`; undefined when none can be.
   */
  listing(ino: number): { dir: string; has(entry: number): boolean } | undefined;
  /**
   * The host directory whose entries directory `ino` would show (whether the host has it or
   * not): '' when it shows none (opaque: made over a deleted path), undefined when not known here
   * (no such directory, or a path too long for one call).
   */
  baseDir(ino: number): string | undefined;
  /**
   * Calls `listener` when an answer hostFile or deltaFile gave may stop holding, before the
   * change is answered: with the inode (copied up, moved, gone), or with undefined for every
   * inode (a directory above moved). deltaFile and deltaDir then already give the new answer.
   */
  onChange(listener: (ino?: number) => void): void;
  /**
   * Whether every host directory hostFile names lists exactly as the host directory does (names
   * not UTF-8 left out, as everywhere), but those onUnlistable named, and `listener` called when
   * that changes (an overlay with whiteouts shows less than its base: those made through
   * onUnlistable's route keep it true, any other makes it false).
   */
  listable(): boolean;
  onListable(listener: (listable: boolean) => void): void;
  /**
   * Calls `listener` with a directory about to hide a name of its host directory (a whiteout
   * made in it), and that host directory's path ('' if none), before the change: from then on
   * neither it nor any directory at that path (the host may put another one there) lists as its
   * host directory. ino 0: no directory is there now, only the path is named (nameUnlistable).
   */
  onUnlistable(listener: (ino: number, hostDir: string) => void): void;
  /**
   * Names to onUnlistable's listeners every directory that hides names of its host directory now
   * (whiteouts made before: an earlier run's), so that listable() holds for the others; false
   * when they cannot all be found (listable() then stays false). The adapter calls it once, first.
   */
  nameUnlistable(): boolean;
  /** Host directories holding an entry the overlay hides: never listable. */
  hiddenDirs(): string[];
  /**
   * The adapter listed `name` in host directory `dir` to its client with that entry's inode
   * number and mode (from the host): the implementation records it as it would have listed it.
   */
  listed(dir: number, name: string, ino: number, mode: number): void;
  /**
   * The base directory's descriptor and the prefix of every path given here: what follows it is
   * to be opened beneath that descriptor, through no symlink (a directory swapped on the host).
   * And its device: entries of other file systems (mounted inside the base) are numbered by the
   * implementation, not by their host inode number. `ctimeKept`: its file system moves a
   * directory's ctime at every change to it (see settledListing).
   */
  root: { fd: number; prefix: string; dev: number; ctimeKept: boolean };
  /**
   * Whether `ino` is exactly a host directory on the base's own file system and that file system
   * keeps ctimes (root.ctimeKept): its listing may then be kept while its ctime holds, once that
   * has settled (fuse/handlers/dirs.ts listingStamp).
   */
  settledListing(ino: number): boolean;
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
