/** fattr3, wcc data and sattr3 (RFC 1813 §2.5-2.6) to and from the core's Attr / SetAttr. */
import { TYPES, fileType, type FileType } from '../core/file-type.js';
import type { Attr, SetAttr, Timespec } from '../core/types.js';
import { XdrError, type XdrReader, type XdrWriter } from './xdr.js';

export const NF3REG = 1;
export const NF3DIR = 2;
export const NF3BLK = 3;
export const NF3CHR = 4;
export const NF3LNK = 5;
export const NF3SOCK = 6;
export const NF3FIFO = 7;

const NF3_TYPE: Readonly<Record<FileType, number>> = {
  file: NF3REG, dir: NF3DIR, block: NF3BLK, char: NF3CHR, symlink: NF3LNK, socket: NF3SOCK, fifo: NF3FIFO,
};

export function ftypeOf(mode: number): number {
  return NF3_TYPE[fileType(mode)];
}

/** The S_IFMT bits of an NFS file type (undefined for a number RFC 1813 does not define). */
export function modeTypeOf(ftype: number): number | undefined {
  const t = (Object.keys(NF3_TYPE) as FileType[]).find((k) => NF3_TYPE[k] === ftype);
  return t && TYPES[t].bits;
}

/** Linux dev_t encoding of major/minor (what the core stores in rdev). */
export function majorOf(rdev: number): number {
  return ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
}
export function minorOf(rdev: number): number {
  return (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
}
export function makeDev(major: number, minor: number): number {
  return (((major & 0xfff) << 8) | (minor & 0xff) | ((minor & 0xfff00) << 12)) >>> 0;
}

function time(w: XdrWriter, t: Timespec): void {
  // nfstime3 seconds are unsigned 32-bit: times before 1970 cannot be shown
  w.uint32(t.sec < 0 ? 0 : t.sec > 0xffffffff ? 0xffffffff : t.sec).uint32(t.nsec);
}

/** fattr3; `fsid` is the 8-byte filesystem id (the database's generation). */
export function putFattr(w: XdrWriter, a: Attr, fsid: Buffer): void {
  w.uint32(ftypeOf(a.mode));
  w.uint32(a.mode & 0o7777);
  w.uint32(a.nlink);
  w.uint32(a.uid);
  w.uint32(a.gid);
  w.uint64(a.size);
  w.uint64(a.blocks * 512);
  w.uint32(majorOf(a.rdev)).uint32(minorOf(a.rdev));
  w.fixed(fsid);
  w.uint64(a.ino);
  time(w, a.atime);
  time(w, a.mtime);
  time(w, a.ctime);
}

export function putPostOpAttr(w: XdrWriter, a: Attr | undefined, fsid: Buffer): void {
  if (!a) {
    w.bool(false);
    return;
  }
  w.bool(true);
  putFattr(w, a, fsid);
}

/** wcc_data: size/mtime/ctime before the change (when known), full attributes after. */
export function putWcc(w: XdrWriter, before: Attr | undefined, after: Attr | undefined, fsid: Buffer): void {
  if (before) {
    w.bool(true).uint64(before.size);
    time(w, before.mtime);
    time(w, before.ctime);
  } else {
    w.bool(false);
  }
  putPostOpAttr(w, after, fsid);
}

export const TIME_DONT_CHANGE = 0;
export const SET_TO_SERVER_TIME = 1;
export const SET_TO_CLIENT_TIME = 2;

function readTime(r: XdrReader): Timespec | 'now' | undefined {
  const how = r.uint32();
  if (how === TIME_DONT_CHANGE) return undefined;
  if (how === SET_TO_SERVER_TIME) return 'now';
  if (how === SET_TO_CLIENT_TIME) {
    const sec = r.uint32();
    const nsec = r.uint32();
    return { sec, nsec };
  }
  throw new XdrError(`bad time_how ${how}`);
}

/** sattr3 as the core's SetAttr (mode bits only, without the type). */
export function readSattr(r: XdrReader): SetAttr {
  const s: SetAttr = {};
  if (r.bool()) s.mode = r.uint32() & 0o7777;
  if (r.bool()) s.uid = r.uint32();
  if (r.bool()) s.gid = r.uint32();
  if (r.bool()) s.size = r.uint64();
  const atime = readTime(r);
  if (atime !== undefined) s.atime = atime;
  const mtime = readTime(r);
  if (mtime !== undefined) s.mtime = mtime;
  return s;
}

export function readNfsTime(r: XdrReader): Timespec {
  const sec = r.uint32();
  const nsec = r.uint32();
  return { sec, nsec };
}
