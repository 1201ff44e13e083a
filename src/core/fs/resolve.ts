/**
 * Path resolution over any FileSystem: components, symlinks (at most 40 in one walk), `..`, a
 * trailing slash naming a directory. Errors are FsError('resolve'); PathFs names the syscall.
 */
import { FsError, isFsError } from '../errors.js';
import { S_IFDIR, isDir, isSymlink, type Attr, type FileSystem } from '../types.js';
import { pathTooLong } from './names.js';

export const MAX_SYMLINKS = 40;

/** A directory and a name in it: where an entry is, or would go. */
export interface Slot {
  dir: Attr;
  name: string;
}

/** What walking a path needs of each directory on the way (the root's full Attr is fetched lazily). */
type Walked = Pick<Attr, 'ino' | 'mode'>;

/** Splits a path into components (empty ones dropped; '.' and '..' kept for the walker). */
export function components(path: string): string[] {
  return path.split('/').filter((c) => c.length > 0);
}

/** path as `/a/b`: components joined from the root ('.' and '..' kept). */
export function normalized(path: string): string {
  return '/' + components(path).join('/');
}

/** The path of path's parent directory (as written: '.' and '..' not interpreted). */
export function parentPath(path: string): string {
  return '/' + components(path).slice(0, -1).join('/');
}

/** Attributes of the inode at path; symlinks followed (also the last one when `follow`). */
export function resolve(fs: FileSystem, path: string, follow = true): Attr {
  if (path.length === 0) throw new FsError('ENOENT', 'resolve', path);
  // bytes, not UTF-16 units: a path of 2,100 two-byte characters is too long as well
  if (pathTooLong(path)) throw new FsError('ENAMETOOLONG', 'resolve', path);
  const pending = components(path);
  const mustBeDir = path.endsWith('/') && pending.length > 0;
  // The root is always a directory: walking needs only its number, so its attributes are
  // fetched only when the path names the root itself (a query less on every resolution).
  const root: Walked = { ino: fs.rootIno, mode: S_IFDIR };
  const stack: Walked[] = [root];
  let links = 0;
  while (pending.length) {
    const name = pending.shift()!;
    const cur = stack[stack.length - 1]!;
    if (!isDir(cur.mode)) throw new FsError('ENOTDIR', 'resolve', path);
    if (name === '.') continue;
    if (name === '..') {
      if (stack.length > 1) stack.pop();
      continue;
    }
    const attr = fs.lookup(cur.ino, name);
    const last = pending.length === 0;
    if (isSymlink(attr.mode) && (!last || follow || mustBeDir)) {
      if (++links > MAX_SYMLINKS) throw new FsError('ELOOP', 'resolve', path);
      const target = fs.readlink(attr.ino);
      if (target.startsWith('/')) stack.length = 1;
      pending.unshift(...components(target));
      continue;
    }
    stack.push(attr);
  }
  const out = stack[stack.length - 1]!;
  if (mustBeDir && !isDir(out.mode)) throw new FsError('ENOTDIR', 'resolve', path);
  return out === root ? fs.getattr(root.ino) : (out as Attr);
}

/** The inode at path, or undefined when a component is missing. */
export function tryResolve(fs: FileSystem, path: string, follow = true): Attr | undefined {
  try {
    return resolve(fs, path, follow);
  } catch (e) {
    if (isFsError(e, 'ENOENT')) return undefined;
    throw e;
  }
}

/** fs.lookup, with a missing name as undefined. */
export function tryLookup(fs: FileSystem, dir: number, name: string): Attr | undefined {
  try {
    return fs.lookup(dir, name);
  } catch (e) {
    if (isFsError(e, 'ENOENT')) return undefined;
    throw e;
  }
}

/** The directory that would hold path's last component, and that component. */
export function resolveParent(fs: FileSystem, path: string): Slot {
  if (pathTooLong(path)) throw new FsError('ENAMETOOLONG', 'resolve', path); // the whole path, not only its parent's
  const comps = components(path);
  const name = comps.pop();
  if (name === undefined) throw new FsError('EBUSY', 'resolve', path, 'the root directory');
  const dir = resolve(fs, '/' + comps.join('/'), true);
  if (!isDir(dir.mode)) throw new FsError('ENOTDIR', 'resolve', path);
  return { dir, name };
}

/** resolveParent, with the error an operation gives for an empty path and for the root. */
export function parentOrRoot(fs: FileSystem, path: string, rootCode: 'EEXIST' | 'EBUSY' | 'EISDIR'): Slot {
  if (path.length === 0) throw new FsError('ENOENT', undefined, path);
  if (components(path).length === 0) throw new FsError(rootCode, undefined, path);
  return resolveParent(fs, path);
}

/**
 * Where a new symlink or hard link goes. A trailing slash names a directory, which these never
 * make: a missing `name/` is ENOENT (as Linux says), an existing one EEXIST from the create.
 */
export function newEntryAt(fs: FileSystem, path: string): Slot {
  const at = parentOrRoot(fs, path, 'EEXIST');
  if (path.endsWith('/') && !tryLookup(fs, at.dir.ino, at.name)) throw new FsError('ENOENT', undefined, path);
  return at;
}

/**
 * path with each `missing/..` pair taken out, where `missing` names a directory that does not
 * exist: a helper that makes missing directories (mkdir -p, writeFile with parents, cp -r)
 * must not make one only to leave it again, so `/a/../b` names `/b` and creates nothing at
 * `/a`. Existing components (symlinks, `..`) keep their usual meaning: each prefix is resolved
 * the ordinary way. Anything else wrong is left for the operation itself to report.
 */
export function collapseMissing(fs: FileSystem, path: string): string {
  const tokens = components(path);
  if (!tokens.includes('..')) return path;
  const keep = tokens.map(() => true);
  const missing: number[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const name = tokens[i]!;
    if (name === '.') continue;
    if (missing.length) {
      if (name !== '..') missing.push(i);
      else keep[missing.pop()!] = keep[i] = false;
      continue;
    }
    if (name === '..') continue;
    try {
      resolve(fs, '/' + tokens.slice(0, i + 1).filter((_, j) => keep[j]).join('/'), true);
    } catch (e) {
      if (!isFsError(e, 'ENOENT')) break;
      missing.push(i);
    }
  }
  const out = '/' + tokens.filter((_, j) => keep[j]).join('/');
  return path.endsWith('/') && out !== '/' ? out + '/' : out;
}

/**
 * For open(O_CREAT): the existing file at path (symlinks followed), or where to create it.
 * The common case (a plain name in its directory) walks the path once; a symlink in last
 * place takes the general route.
 */
export function resolveForCreate(fs: FileSystem, path: string): Attr | Slot {
  if (pathTooLong(path)) throw new FsError('ENAMETOOLONG', 'resolve', path); // the whole path, not only its parent's
  const comps = components(path);
  const name = comps[comps.length - 1];
  if (name === undefined || name === '.' || name === '..' || path.endsWith('/')) return resolve(fs, path, true);
  const dir = resolve(fs, '/' + comps.slice(0, -1).join('/'), true);
  if (!isDir(dir.mode)) throw new FsError('ENOTDIR', 'resolve', path);
  const a = tryLookup(fs, dir.ino, name);
  if (!a) return { dir, name };
  if (!isSymlink(a.mode)) return a;
  return tryResolve(fs, path, true) ?? createTarget(fs, path);
}

/** Where a new file at path goes: follows a dangling symlink's target like open(O_CREAT). */
function createTarget(fs: FileSystem, path: string): Slot {
  let p = path;
  for (let i = 0; i <= MAX_SYMLINKS; i++) {
    const { dir, name } = parentOrRoot(fs, p, 'EISDIR');
    const existing = tryLookup(fs, dir.ino, name);
    if (!existing || !isSymlink(existing.mode)) return { dir, name };
    const target = fs.readlink(existing.ino);
    p = target.startsWith('/') ? target : `${parentPath(p)}/${target}`;
  }
  throw new FsError('ELOOP', 'open', path);
}
