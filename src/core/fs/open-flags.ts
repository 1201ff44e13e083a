/** open(2) flags: Node-style strings ('r', 'w+', 'ax', ...) and the O_* numbers they stand for. */
import { constants as fsConstants } from 'node:fs';
import { FsError } from '../errors.js';

export const { O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND } = fsConstants;
/** the access-mode bits (O_RDONLY, O_WRONLY or O_RDWR) */
export const O_ACCMODE = 3;

export type OpenFlags = number | string;

const TABLE: Record<string, number> = {
  r: 0, rs: 0, sr: 0, 'r+': O_RDWR, 'rs+': O_RDWR, 'sr+': O_RDWR,
  w: O_WRONLY | O_CREAT | O_TRUNC, wx: O_WRONLY | O_CREAT | O_TRUNC | O_EXCL, xw: O_WRONLY | O_CREAT | O_TRUNC | O_EXCL,
  'w+': O_RDWR | O_CREAT | O_TRUNC, 'wx+': O_RDWR | O_CREAT | O_TRUNC | O_EXCL, 'xw+': O_RDWR | O_CREAT | O_TRUNC | O_EXCL,
  a: O_WRONLY | O_CREAT | O_APPEND, ax: O_WRONLY | O_CREAT | O_APPEND | O_EXCL, xa: O_WRONLY | O_CREAT | O_APPEND | O_EXCL,
  'a+': O_RDWR | O_CREAT | O_APPEND, 'ax+': O_RDWR | O_CREAT | O_APPEND | O_EXCL, 'xa+': O_RDWR | O_CREAT | O_APPEND | O_EXCL,
  as: O_WRONLY | O_CREAT | O_APPEND, 'as+': O_RDWR | O_CREAT | O_APPEND,
};

/** Node-style string flags to O_* numbers (numbers pass through). */
export function parseOpenFlags(flags: OpenFlags): number {
  if (typeof flags === 'number') return flags;
  const v = TABLE[flags];
  if (v === undefined) throw new FsError('EINVAL', 'open', undefined, `unknown open flags '${flags}'`);
  return v;
}

/** True when flags allow writing (O_WRONLY or O_RDWR). */
export function writable(flags: number): boolean {
  return (flags & O_ACCMODE) !== 0;
}
