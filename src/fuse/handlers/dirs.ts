/**
 * Directory requests: opendir, readdir(plus), releasedir, fsyncdir.
 * Kernel offsets: 1 is after '.', 2 after '..', and cookie + 2 after a core entry, so offsets
 * stay stable while the directory changes (the core's cookies are).
 */
import type { Attr, DirEntry, DirEntryPlus } from '../../core/types.js';
import { ATTR_LEN } from '../binding.js';
import type { FsyncdirRequest, OpendirRequest, ReaddirplusRequest, ReaddirRequest, ReleasedirRequest } from '../requests.js';
import { putAttr } from '../attr.js';
import { attrOrRemoved, inodeGone } from './attrs.js';
import type { DirHandle, Reply, ServeState } from '../state.js';

const DOTS = 2;
const S_IFDIR = 0o040000;
const ZERO_TIME = { sec: 0, nsec: 0 };

/** What a READDIRPLUS reply carries for '.' or '..': the kernel reads only ino and type. */
function dotAttr(ino: number): Attr {
  return { ino, mode: S_IFDIR | 0o755, nlink: 1, uid: 0, gid: 0, size: 0, rdev: 0, blksize: 4096, blocks: 0, atime: ZERO_TIME, mtime: ZERO_TIME, ctime: ZERO_TIME };
}
const STRIDE = 1 + ATTR_LEN;

/**
 * The key of the listing the kernel caches for a directory: mtime and, with a finite listing age
 * (overlays), a stamp (listingStamp); with an infinite one, ctime and link count (`rest`).
 */
export function listingKey(mtime: { sec: number; nsec: number }, rest: string, epoch: number): string {
  return `d${mtime.sec}.${mtime.nsec}:${rest}:${epoch}`;
}

/** As native/host_files.h: a host directory's ctime this old or older no longer moves unseen. */
export const LISTING_SETTLED_MS = 3000;
/** above every period's number, and SETTLED + a ctime in ms is still exact in a double */
export const LISTING_SETTLED_STAMP = 2 ** 52;

/** The age's period at `nowMs` (a listing keyed by it holds until the period ends). */
export function listingPeriod(nowMs: number, maxAgeS: number): number {
  return Math.floor(nowMs / 1000 / maxAgeS);
}

/**
 * The stamp of a host directory's listing (native/host_files.h, LISTING_SETTLED_MS), on a file
 * system that keeps ctimes (HostFiles.settledListing): once its ctime has settled, the ctime
 * itself, so the listing holds until the directory changes, however long; before that the age's
 * period, so a change the times did not show is seen within the age.
 * The period alone made every listing the kernel held expire at each period's end at once (`run`:
 * a `git status` that crossed one listed all 1,004 directories again, 250 ms against 40).
 */
export function listingStamp(ctime: { sec: number; nsec: number }, nowMs: number, maxAgeS: number): number {
  const ctimeMs = ctime.sec * 1000 + Math.floor(ctime.nsec / 1e6);
  return nowMs - ctimeMs >= LISTING_SETTLED_MS ? LISTING_SETTLED_STAMP + ctimeMs : listingPeriod(nowMs, maxAgeS);
}

/**
 * A host directory's key once the directory is copied up (native/host_files.cc forget): a
 * settled stamp names the host's ctime, which the copy's row does not keep, so the copy's listing
 * holds for the current period, as a copy's does.
 */
export function carriedKey(key: string, nowMs: number, maxAgeS: number): string {
  const at = key.lastIndexOf(':');
  const stamp = Number(key.slice(at + 1));
  return stamp >= LISTING_SETTLED_STAMP ? `${key.slice(0, at + 1)}${listingPeriod(nowMs, maxAgeS)}` : key;
}

export function opendir(s: ServeState, { id, ino }: OpendirRequest): Reply {
  const a = attrOrRemoved(s, ino); // ENOENT for a vanished directory
  const fh = s.newFh();
  s.dirs.set(fh, { ino, pending: null, from: -1, atEnd: false, plus: false, changes: 0 });
  // removed through the mount while a process is in it: opened, and listed empty (list)
  if (a.nlink === 0) return () => s.native.replyOpen(id, fh, false, false, false);
  let cache = s.listingMaxAgeS > 0;
  let keep = false;
  let tell: (() => void) | undefined;
  if (cache) {
    // The kernel drops its cached listing itself when the directory changes through the mount;
    // a change from outside moves mtime/ctime (or clears the keys): then it must refetch. With a
    // finite age (overlays), the key also changes every maxAge seconds, but for a host
    // directory whose ctime has settled (listingStamp).
    // An overlay's key (finite age) is mtime and a stamp only: a copy-up into a directory moves
    // its ctime and link count (a merged directory's is 1) and changes no listing, and a change
    // from outside that keeps the mtime is seen within maxAge anyway.
    const finite = Number.isFinite(s.listingMaxAgeS);
    const epoch = !finite
      ? 0
      : s.hostOffers?.settledListing(ino)
        ? listingStamp(a.ctime, Date.now(), s.listingMaxAgeS)
        : listingPeriod(Date.now(), s.listingMaxAgeS);
    const rest = finite ? '' : `${a.ctime.sec}.${a.ctime.nsec}:${a.nlink}`;
    const key = listingKey(a.mtime, rest, epoch);
    const held = s.cacheKeys.get(ino);
    keep = held === key;
    // a mount's listings are cached from a directory's second opendir on, and only of a directory
    // as it was at the last one, as the addon does (native/reader.cc opendir): filling the
    // kernel's cache slows a listing by ~20%, walks list each directory once, and a listing after
    // each change would fill it for nothing
    if (!finite && !keep) cache = false;
    s.rememberCacheKey(ino, key);
    // The addon opens the directory itself while this key holds (native/host_files.h), keeping
    // the kernel's listing: told once this reply is out, so that no open it answers can keep an
    // older listing that this reply (a new key) drops.
    if (finite) tell = () => s.hostOffers?.dirKey(ino, a.mtime, epoch);
  }
  return () => {
    s.native.replyOpen(id, fh, keep, false, cache);
    tell?.();
  };
}

export function releasedir(s: ServeState, { id, fh }: ReleasedirRequest): Reply {
  s.dirs.delete(fh);
  return () => s.native.replyErr(id, 0);
}

export function fsyncdir(s: ServeState, { id, ino, datasync }: FsyncdirRequest): Reply {
  s.fs.fsync(ino, datasync);
  return () => s.native.replyErr(id, 0);
}

export function readdir(s: ServeState, req: ReaddirRequest): Reply {
  return list(s, req, false);
}

export function readdirplus(s: ServeState, req: ReaddirplusRequest): Reply {
  return list(s, req, true);
}

function parentOf(s: ServeState, ino: number): number {
  try {
    return s.fs.lookup(ino, '..').ino;
  } catch {
    return ino;
  }
}

function handleOf(s: ServeState, ino: number, fh: number): DirHandle {
  let h = s.dirs.get(fh);
  if (!h) {
    // a handle the addon opened (native/host_files.h: a host directory it does not list, or one
    // living in the delta whose listing the kernel was to keep but dropped): served statelessly
    h = { ino, pending: null, from: -1, atEnd: false, plus: false, changes: 0 };
  }
  return h;
}

/** About how many entries fit in the kernel's buffer (dirent: 24 bytes + name; plus adds ~128). */
function estimate(size: number, plus: boolean): number {
  return Math.max(8, Math.ceil(size / (plus ? 150 : 32)));
}

function list(s: ServeState, req: ReaddirRequest | ReaddirplusRequest, plus: boolean): Reply {
  try {
    return listing(s, req, plus);
  } catch (e) {
    // a directory removed through the mount (ServeState.removedDir) lists nothing, as on a local
    // disk (the kernel itself refuses to list one it saw removed; another process's removal it did not see)
    if (!inodeGone(e) || !s.removedDirAttr(req.ino)) throw e;
    return () => s.native.replyDir(req.id, req.size, [], new Float64Array(0), plus, 0, 0);
  }
}

function listing(s: ServeState, { id, ino, fh, size, offset: off }: ReaddirRequest | ReaddirplusRequest, plus: boolean): Reply {
  const h = handleOf(s, ino, fh);
  const names: string[] = [];
  const rows: Array<{ off: number; ino: number; mode: number; attr?: Attr }> = [];

  // The kernel takes only the inode number and type of '.' and '..' from a READDIRPLUS reply
  // (it links no dentry for them and counts no lookup): their attributes are not read.
  if (off < 1) {
    rows.push({ off: 1, ino, mode: S_IFDIR, attr: plus ? dotAttr(ino) : undefined });
    names.push('.');
  }
  if (off < DOTS) {
    // a directory the native reader looked up is not in `parents`: ask the filesystem
    const parent = s.parents.get(ino) ?? parentOf(s, ino);
    rows.push({ off: DOTS, ino: parent, mode: S_IFDIR, attr: plus ? dotAttr(parent) : undefined });
    names.push('..');
  }

  const want = estimate(size, plus);
  // With the native reader, the entries whose attributes the kernel holds go without them (see
  // reader.h sent_attrs): a page mostly of those is read without attributes at all.
  const handle = plus && s.sharesReads ? s.handle : undefined;
  const heldOf = (es: (DirEntry | DirEntryPlus)[]) => s.native.heldAttrs(handle!, Float64Array.from(es, (e) => e.ino));
  let entries: (DirEntry | DirEntryPlus)[];
  let atEnd: boolean;
  let held: Uint8Array | undefined;
  const after = Math.max(off, DOTS);
  // (an empty pending list: the last reply ended the listing; the kernel's call for more, plain or
  // plus, gets the end without another listing)
  if (h.pending && h.from === after && h.changes === s.changes && (h.plus === plus || h.pending.length === 0)) {
    entries = h.pending;
    atEnd = h.atEnd;
  } else {
    const cookie = after - DOTS;
    const limit = Math.max(want, 256);
    entries = plus && !handle ? s.fs.readdirPlus(ino, cookie, limit) : s.fs.readdir(ino, cookie, limit);
    if (handle) {
      held = heldOf(entries);
      let n = 0;
      for (const b of held) n += b;
      if (n * 2 < entries.length) {
        // mostly entries the kernel lacks: their attributes in one query rather than one each
        entries = s.fs.readdirPlus(ino, cookie, limit);
        held = heldOf(entries);
      }
    }
    atEnd = entries.length < limit;
  }
  const page = entries.length > want * 2 ? entries.slice(0, want * 2) : entries;
  if (handle && (!held || page !== entries)) held = heldOf(page);
  const dots = rows.length;
  const host = plus && s.hostOffers ? s.hostOffers.listing(ino, dots, page.map((e) => e.ino)) : undefined;
  for (const e of page) {
    rows.push({ off: e.offset + DOTS, ino: e.ino, mode: e.mode, attr: (e as DirEntryPlus).attr });
    if ((e.mode & 0o170000) === 0o040000) s.rememberParent(e.ino, ino);
    if (plus) s.handedOut(ino, e.name, e.ino);
    names.push(e.name);
  }

  const bare = held ? new Uint8Array(rows.length) : undefined;
  const packed = new Float64Array(rows.length * STRIDE);
  rows.forEach((r, i) => {
    const at = i * STRIDE;
    packed[at] = r.off;
    if (bare && i >= dots && held![i - dots]) {
      bare[i] = 1;
      packed[at + 1] = r.ino;
      packed[at + 2] = r.mode;
    } else if (plus) {
      putAttr(packed, at + 1, r.attr ?? s.fs.getattr(r.ino), s.owner);
    } else {
      packed[at + 1] = r.ino;
      packed[at + 2] = r.mode;
    }
  });
  return () => {
    const sent = s.native.replyDir(id, size, names, packed, plus, s.timeouts.entry, s.timeouts.attr, bare, host?.dir, host?.flags, ino);
    // keep what did not fit for the next call, which continues from the last offset sent
    const usedEntries = Math.max(0, sent - dots);
    h.more = sent > 0 && (usedEntries < entries.length || !atEnd);
    if (sent > 0 && usedEntries < entries.length) {
      h.pending = entries.slice(usedEntries);
      h.from = rows[sent - 1]!.off;
      h.atEnd = atEnd;
      h.plus = plus;
      h.changes = s.changes;
    } else if (sent > 0 && atEnd) {
      h.pending = [];
      h.from = rows[sent - 1]!.off;
      h.atEnd = true;
      h.plus = plus;
      h.changes = s.changes;
    } else {
      h.pending = null;
      h.from = -1;
    }
  };
}
