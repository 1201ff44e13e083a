import { FsError } from '../errors.js';
import { NAME_MAX } from '../types.js';

/** A directory entry name: non-empty, no '/' or NUL, at most NAME_MAX bytes of UTF-8. */
export function checkName(name: string, syscall: string): void {
  if (name.length === 0) throw new FsError('ENOENT', syscall, name);
  // A UTF-16 unit is at most 3 UTF-8 bytes, so short names skip the byte count.
  if (name.length * 3 > NAME_MAX && Buffer.byteLength(name) > NAME_MAX) throw new FsError('ENAMETOOLONG', syscall, name);
  if (name.includes('/') || name.includes('\0')) throw new FsError('EINVAL', syscall, name, 'invalid name');
}

export function isDotName(name: string): boolean {
  return name === '.' || name === '..';
}
