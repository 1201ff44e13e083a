/**
 * The one mode-to-type vocabulary: every place that names a file's type (fs ls/stat/tree, MCP,
 * diff, the UI, NFS) reads it from TYPES, so the names cannot drift apart again.
 */
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from './types.js';

/** A file's type, short (diff and the UI use these words). */
export type FileType = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'char' | 'block';

interface TypeInfo {
  /** the S_IFMT bits */
  bits: number;
  /** the letter of `agentfs fs ls` (as the reference prints `d artifacts`, `f config.json`) */
  letter: string;
  /** the word of stat-like JSON (`fs stat --json`, `fs ls --json`, MCP `stat`/`readdir`) */
  name: string;
}

export const TYPES: Readonly<Record<FileType, TypeInfo>> = {
  file: { bits: S_IFREG, letter: 'f', name: 'file' },
  dir: { bits: S_IFDIR, letter: 'd', name: 'directory' },
  symlink: { bits: S_IFLNK, letter: 'l', name: 'symlink' },
  fifo: { bits: S_IFIFO, letter: 'p', name: 'fifo' },
  socket: { bits: S_IFSOCK, letter: 's', name: 'socket' },
  char: { bits: S_IFCHR, letter: 'c', name: 'char-device' },
  block: { bits: S_IFBLK, letter: 'b', name: 'block-device' },
};

const BY_BITS = new Map<number, FileType>(Object.entries(TYPES).map(([t, i]) => [i.bits, t as FileType]));

/** The type of a mode; type bits no file has are read as a regular file (as the kernel would show them). */
export function fileType(mode: number): FileType {
  return BY_BITS.get(mode & S_IFMT) ?? 'file';
}

/** One letter per type: `f` file, `d` directory, `l` symlink, `p` fifo, `s` socket, `c`/`b` devices. */
export function typeLetter(mode: number): string {
  return TYPES[fileType(mode)].letter;
}

/** The type's word in stat-like JSON: file, directory, symlink, fifo, socket, char-device, block-device. */
export function typeName(mode: number): string {
  return TYPES[fileType(mode)].name;
}

/** Every word typeName gives (for schemas). */
export const TYPE_NAMES = Object.values(TYPES).map((i) => i.name) as [string, ...string[]];
