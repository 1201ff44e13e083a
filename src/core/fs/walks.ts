/**
 * Tree walks over any FileSystem: a sorted depth-first listing, and emptying a directory.
 * Both are iterative (a deep tree needs no deep stack) and cycle-checked: a damaged database can
 * hold an entry leading back to a directory above it, which is ELOOP, never an endless loop.
 */
import { FsError } from '../errors.js';
import { isDir, isSymlink, type Attr, type FileSystem } from '../types.js';
import { allEntries, allEntriesPlus } from './readdir-pages.js';

export interface TreeEntry {
  /** absolute path */
  path: string;
  name: string;
  /** 1 for entries directly under the walked directory */
  depth: number;
  attr: Attr;
  /** symlink target */
  target?: string;
}

/** A walk met a directory again below itself: only a damaged (or hand-edited) database has that. */
export function cycleError(path: string): FsError {
  return new FsError('ELOOP', 'walk', path, `directory cycle at ${path}: the entry leads back to a directory above it (damaged database)`);
}

/** One entry met by a depth-first walk. */
interface Visit<E> {
  entry: E;
  /** absolute path of the entry */
  path: string;
  /** 1 for entries directly under the walked directory */
  depth: number;
  /** the directory holding the entry */
  dir: number;
}

interface Frame<E> {
  ino: number;
  name: string;
  prefix: string;
  depth: number;
  entries: E[];
  next: number;
}

/**
 * The one depth-first loop: yields each entry, then enters the directory `subdir` names for it
 * (up to maxDepth); `left` is told when a directory's entries are done.
 */
function* depthFirst<E extends { name: string }>(
  root: number,
  path: string,
  o: { list: (ino: number) => E[]; subdir: (e: E) => number | undefined; maxDepth?: number; left?: (dir: Frame<E>, parent: Frame<E>) => void },
): Generator<Visit<E>> {
  const maxDepth = o.maxDepth ?? Infinity;
  const onPath = new Set<number>([root]);
  const stack: Frame<E>[] = [{ ino: root, name: '', prefix: path === '/' ? '' : path, depth: 1, entries: o.list(root), next: 0 }];
  while (stack.length) {
    const f = stack[stack.length - 1]!;
    const e = f.entries[f.next++];
    if (e === undefined) {
      stack.pop();
      onPath.delete(f.ino);
      const parent = stack[stack.length - 1];
      if (parent) o.left?.(f, parent);
      continue;
    }
    const p = `${f.prefix}/${e.name}`;
    yield { entry: e, path: p, depth: f.depth, dir: f.ino };
    const sub = o.subdir(e);
    if (sub === undefined || f.depth >= maxDepth) continue;
    if (onPath.has(sub)) throw cycleError(p);
    onPath.add(sub);
    stack.push({ ino: sub, name: e.name, prefix: p, depth: f.depth + 1, entries: o.list(sub), next: 0 });
  }
}

/** Depth-first below directory `dirIno` (at absolute `path`), entries sorted by name; symlinks not followed. */
export function* walkTree(fs: FileSystem, dirIno: number, path: string, maxDepth = Infinity): Generator<TreeEntry> {
  const walk = depthFirst(dirIno, path, {
    list: (ino) => allEntriesPlus(fs, ino),
    subdir: (e) => (isDir(e.attr.mode) ? e.attr.ino : undefined),
    maxDepth,
  });
  for (const { entry: e, path: p, depth } of walk) {
    yield { path: p, name: e.name, depth, attr: e.attr, ...(isSymlink(e.attr.mode) ? { target: fs.readlink(e.attr.ino) } : {}) };
  }
}

/** Empties directory `dirIno` (at absolute `path`, for errors), deepest entries first. */
export function removeContents(fs: FileSystem, dirIno: number, path: string): void {
  const walk = depthFirst(dirIno, path, {
    list: (ino) => allEntries(fs, ino),
    subdir: (e) => (isDir(e.mode) ? e.ino : undefined),
    left: (dir, parent) => fs.rmdir(parent.ino, dir.name),
  });
  for (const { entry: e, dir } of walk) if (!isDir(e.mode)) fs.unlink(dir, e.name);
}
