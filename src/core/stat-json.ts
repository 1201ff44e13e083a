/**
 * The one JSON form of a file's attributes, as `agentfs fs stat --json` prints it (MANUAL.md);
 * `fs ls --json` and the MCP `stat` tool print the same object (MCP adds its own extra fields).
 */
import { typeName } from './file-type.js';
import type { Attr, Timespec } from './types.js';

export interface StatJson {
  ino: number;
  /** file, directory, symlink, fifo, socket, char-device, block-device */
  type: string;
  /** permission bits in octal, e.g. `0644` */
  mode: string;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  blocks: number;
  rdev: number;
  /** ISO 8601, millisecond precision */
  atime: string;
  mtime: string;
  ctime: string;
  /** exact `seconds.nanoseconds` */
  atime_ns: string;
  mtime_ns: string;
  ctime_ns: string;
  /** a symlink's target, as stored */
  target?: string;
}

/** ISO 8601 of a time (to the millisecond, as Date has it). */
export function isoTime(t: Timespec): string {
  return new Date(t.sec * 1000 + Math.floor(t.nsec / 1e6)).toISOString();
}

/** `seconds.nanoseconds`, exact. */
export function nsString(t: Timespec): string {
  return `${t.sec}.${String(t.nsec).padStart(9, '0')}`;
}

/** The JSON of `a`; `target` (a symlink's, read by the caller) is part of the shape. */
export function statJson(a: Attr, target?: string): StatJson {
  return {
    ino: a.ino,
    type: typeName(a.mode),
    mode: `0${(a.mode & 0o7777).toString(8).padStart(3, '0')}`,
    nlink: a.nlink,
    uid: a.uid,
    gid: a.gid,
    size: a.size,
    blocks: a.blocks,
    rdev: a.rdev,
    atime: isoTime(a.atime),
    mtime: isoTime(a.mtime),
    ctime: isoTime(a.ctime),
    atime_ns: nsString(a.atime),
    mtime_ns: nsString(a.mtime),
    ctime_ns: nsString(a.ctime),
    ...(target !== undefined ? { target } : {}),
  };
}
