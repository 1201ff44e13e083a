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

/** Date's range: +-8.64e15 ms around 1970. */
const DATE_MAX_MS = 8.64e15;

/**
 * ISO 8601 of a time (to the millisecond, as Date has it). A mount stores any 64-bit time the
 * kernel passes (`touch -d @1e13`), so beyond Date's range the date is computed here and
 * printed with an expanded year (`+318857-05-20T17:46:40.000Z`), as toISOString does for +-6 digits.
 */
export function isoTime(t: Timespec): string {
  const ms = t.sec * 1000 + Math.floor(t.nsec / 1e6);
  if (Math.abs(ms) <= DATE_MAX_MS) return new Date(ms).toISOString();
  const days = Math.floor(t.sec / 86_400);
  const secOfDay = t.sec - days * 86_400;
  const { y, m, d } = civilFromDays(days);
  const year = `${y < 0 ? '-' : '+'}${String(Math.abs(y)).padStart(6, '0')}`;
  const two = (n: number) => String(n).padStart(2, '0');
  const hms = `${two(Math.floor(secOfDay / 3600))}:${two(Math.floor(secOfDay / 60) % 60)}:${two(secOfDay % 60)}`;
  return `${year}-${two(m)}-${two(d)}T${hms}.${String(Math.floor(t.nsec / 1e6)).padStart(3, '0')}Z`;
}

/** The proleptic Gregorian date of a day number (days since 1970-01-01), H. Hinnant's algorithm. */
function civilFromDays(days: number): { y: number; m: number; d: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return { y: yoe + era * 400 + (m <= 2 ? 1 : 0), m, d };
}

/**
 * `seconds.nanoseconds`, exact: a time before 1970 is stored as negative seconds plus positive
 * nanoseconds (-1 s + 999999999 ns), which reads as the decimal -0.000000001.
 */
export function nsString(t: Timespec): string {
  if (t.sec < 0 && t.nsec > 0) return `-${-t.sec - 1}.${String(1e9 - t.nsec).padStart(9, '0')}`;
  return `${t.sec}.${String(t.nsec).padStart(9, '0')}`;
}

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
