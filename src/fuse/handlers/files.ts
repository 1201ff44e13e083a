/** File requests: create, open, read, write, release, fsync. */
import { constants } from 'node:fs';
import { isFsError, FsError } from '../../core/errors.js';
import { relatimeDue } from '../../core/fs/relatime.js';
import { isDir, type Attr } from '../../core/types.js';
import type { CreateRequest, FallocateRequest, FsyncRequest, OpenRequest, ReadRequest, ReleaseRequest, WriteRequest } from '../requests.js';
import { attrRecord } from '../attr.js';
import type { Reply, ServeState } from '../state.js';

const O_EXCL = 0o200;
const O_ACCMODE = 3;

/** What the kernel's page cache of a file depends on. */
function cacheKey(a: Attr): string {
  return `${a.mtime.sec}:${a.mtime.nsec}:${a.size}`;
}

/**
 * keep_cache is safe when the file is exactly as it was when the kernel last held its pages
 * (nobody changed it outside this mount since); otherwise the kernel drops them on open.
 */
function keepCache(s: ServeState, a: Attr): boolean {
  return s.cacheKeys.get(a.ino) === cacheKey(a);
}

function readMovesAtime(a: Attr): boolean {
  return relatimeDue(a.atime.sec, a.atime.nsec, a.mtime.sec, a.mtime.nsec, a.ctime.sec, a.ctime.nsec);
}

export function open(s: ServeState, req: OpenRequest): Reply {
  const { id, ino, flags } = req;
  // With outside changes watched, the kernel's pages are dropped when they happen, so they
  // can always be kept; otherwise compare with what the kernel last held. A direct_io handle
  // neither reads nor fills them (its writes drop the pages they cover): they are left as they
  // are, unchecked, and its release leaves their key alone, so the next open through the page
  // cache compares as it would have (an `echo >> f` in `run`: no stat of the base file here, no
  // read of the copy's row at release).
  const direct = directIo(flags);
  const unchecked = direct && !s.pagesWatched;
  // A read the kernel answers from kept pages never reaches this filesystem, so its access time
  // would not move (FUSE leaves atime to the filesystem): when a read now moves it (relatime),
  // the pages go and the first read comes here (at most once per change, or a day). Only where
  // the times are this filesystem's own: an overlay's base files have the host's, which a host
  // mounted noatime never moves (their pages would never be kept); its delta files its own (a
  // read after a chmod in `run` left their atime as it was: the hostile pass).
  const ownTimes = s.pagesWatched || s.hostFiles?.deltaFile(ino) !== undefined;
  const atimeCheck = ownTimes && s.atimes && (flags & O_ACCMODE) !== constants.O_WRONLY;
  const attr = direct || (s.pagesWatched && !atimeCheck) ? undefined : s.fs.getattr(ino);
  const keep = attr === undefined || ((s.pagesWatched || keepCache(s, attr)) && !(atimeCheck && readMovesAtime(attr)));
  // the kernel sends O_TRUNC here, not as a setattr (atomic_o_trunc); it drops its pages itself
  if (flags & constants.O_TRUNC) s.changedAttrs(ino, s.fs.setattr(ino, { size: 0 }, req));
  s.fs.open(ino, flags);
  const fh = s.newFh();
  const readOnly = (flags & (O_ACCMODE | constants.O_TRUNC)) === constants.O_RDONLY;
  s.files.set(fh, { ino, flags, cacheKey: attr && readOnly ? cacheKey(attr) : undefined, unchecked: unchecked || undefined });
  return () => s.native.replyOpen(id, fh, keep, direct);
}

/**
 * O_APPEND and O_DIRECT opens bypass the page cache (direct_io). O_DIRECT alone is not enough:
 * the kernel finishes a direct read that came back short of the size it caches from its page
 * cache, and a file another process just rewrote then read as two versions in one read (seen
 * here). For O_APPEND: through the page cache the kernel splits a
 * write at a page it does not hold whole, and each part would be moved to the end on its own
 * (another appender's record could land between them: seen here); pages at the kernel's guessed
 * offset would hold wrong data; and with the writeback cache the kernel would place appends by
 * its own size. The price: the kernel refuses MAP_SHARED mappings of such a handle (ENODEV).
 */
function directIo(flags: number): boolean {
  return (flags & (constants.O_APPEND | constants.O_DIRECT)) !== 0;
}

export function create(s: ServeState, req: CreateRequest): Reply {
  const { id, parent, name, mode, flags } = req;
  let attr: Attr;
  s.changingDir(parent);
  try {
    attr = s.fs.create(parent, name, mode & 0o7777, req);
  } catch (e) {
    // The kernel saw no such name, but it may have appeared meanwhile: open it unless O_EXCL.
    if (!isFsError(e, 'EEXIST') || flags & O_EXCL) throw e;
    attr = s.fs.lookup(parent, name);
    if (isDir(attr.mode)) throw new FsError('EISDIR', 'open', name);
    if (flags & constants.O_TRUNC) attr = s.fs.setattr(attr.ino, { size: 0 }, req);
  }
  s.fs.open(attr.ino, flags);
  const fh = s.newFh();
  s.files.set(fh, { ino: attr.ino, flags });
  s.madeNode(attr.ino);
  s.changedName(parent, name);
  s.handedOut(parent, name, attr.ino);
  s.changedAttrs(parent);
  s.changedAttrs(attr.ino, attr);
  return () => s.native.replyCreate(id, attrRecord(attr, s.owner), s.timeouts.entry, s.timeouts.attr, fh, false, directIo(flags));
}

export function read(s: ServeState, { id, ino, size, offset }: ReadRequest): Reply {
  const data = s.fs.read(ino, offset, size);
  return () => s.native.replyBuf(id, data);
}

export function write(s: ServeState, req: WriteRequest): Reply {
  const { id, ino, offset, flags, writepage, data } = req;
  // A writer without privilege drops the file's set-id bits. Through the page cache the kernel
  // has done so before the write (a SETATTR); through a direct_io handle it does not, and its
  // cached mode must be dropped after ours (below). A page-cache flush has no writer of its own.
  const caller = writepage ? undefined : req;
  const direct = req.uid !== 0 && !writepage && directIo(s.files.get(req.fh)?.flags ?? flags);
  if (flags & constants.O_APPEND && !writepage) {
    // The kernel chose `offset` from its cached size, which another writer (a second mount, the
    // CLI, the SDK) may have moved: the data goes at the end the write transaction sees.
    const at = s.fs.append(ino, data, caller);
    // The kernel then believes the file ends at off + length: drop its attributes (and any pages
    // from the lower of both offsets), so the next stat or read asks again.
    if (at !== offset && s.handle) s.native.notifyInvalInode(s.handle, ino, Math.min(at, offset), 0);
    else if (direct && s.handle) s.native.notifyInvalInode(s.handle, ino, -1, 0);
    s.wroteTo(ino);
    return () => s.native.replyWrite(id, data.length);
  }
  const n = s.fs.write(ino, offset, data, caller);
  if (direct && s.handle) s.native.notifyInvalInode(s.handle, ino, -1, 0); // attributes only
  s.wroteTo(ino);
  return () => s.native.replyWrite(id, n);
}

export function fallocate(s: ServeState, req: FallocateRequest): Reply {
  const { id, ino, mode, offset, length } = req;
  // by a user without privilege it drops set-id bits, as a write does (the kernel then drops its
  // cached attributes)
  s.fs.fallocate(ino, mode, offset, length, req);
  s.changedInode(ino);
  return () => s.native.replyErr(id, 0);
}

export function release(s: ServeState, { id, ino, fh }: ReleaseRequest): Reply {
  const h = s.files.get(fh);
  s.files.delete(fh);
  s.fs.release(ino);
  if (s.pagesWatched || h?.unchecked) return () => s.native.replyErr(id, 0);
  try {
    // What the kernel's page cache now holds (its own writes included). A read-only handle wrote
    // nothing: the key seen at open does (no second stat a file for grep or git status). Were the
    // file changed meanwhile (another handle, the host), the next open finds a newer key and
    // drops the pages, as it must.
    s.rememberCacheKey(ino, h?.cacheKey ?? cacheKey(s.fs.getattr(ino)));
  } catch {
    s.cacheKeys.delete(ino); // unlinked and freed
  }
  return () => s.native.replyErr(id, 0);
}

export function fsync(s: ServeState, { id, ino, datasync }: FsyncRequest): Reply {
  s.fs.fsync(ino, datasync);
  return () => s.native.replyErr(id, 0);
}
