import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFSOCK } from '../types.js';
import type { FileType } from './types.js';

export function fileType(mode: number): FileType {
  switch (mode & S_IFMT) {
    case S_IFDIR: return 'dir';
    case S_IFLNK: return 'symlink';
    case S_IFIFO: return 'fifo';
    case S_IFSOCK: return 'socket';
    case S_IFCHR: return 'char';
    case S_IFBLK: return 'block';
    default: return 'file';
  }
}
