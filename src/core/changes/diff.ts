import { nsOf, type HostStat } from '../overlay/index.js';
import type { OverlayChanges, OverlayNode } from '../overlay/index.js';
import { joinPath } from '../overlay/index.js';
import type { Attr } from '../types.js';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../types.js';
import { cycleError } from '../fs/paths.js';
import { compareNames } from '../fs/readdir-pages.js';
import { fileType } from '../file-type.js';
import { linkedNames } from './linked-names.js';
import type { Change } from './types.js';

const COMPARE_CHUNK = 1 << 20;

type Entry = { node: OverlayNode; attr: Attr };

/** The merged entry each A or M change was made from (linkedNames looks at their nodes). */
const shownBy = new WeakMap<Change, Entry>();

/**
 * Differences between an overlay's merged view and its base directory, sorted by path.
 * Only places the delta can have touched are visited: delta entries, whiteouts, and the whole
 * subtree of directories that do not simply sit on the base directory of the same path
 * (new, moved, re-created or type-changed ones). Directory mtimes are not reported (they move
 * with every entry added or removed); a directory is M only for mode or owner.
 */
export function computeChanges(ov: OverlayChanges, scope: readonly string[] = []): Change[] {
  const out: Change[] = [];
  const root = ov.root();
  const rootAttr = root.attr;
  const baseRoot = ov.base.lstat('/');
  if (baseRoot) {
    const what = metaDiff(rootAttr, baseRoot, false);
    if (what.length) out.push({ path: '/', status: 'M', type: 'dir', what });
  }
  walkDir(ov, '/', root, true, out);
  // the other names of a hard-linked file copied up show the copy too (linkedNames)
  out.push(...linkedNames(ov, out, (c) => shownBy.get(c), (path, m, b) => sameEntry(ov, path, m, b)));
  return withLinkedNames(out, scopeFilter(scope)).sort((a, b) => compareNames(a.path, b.path));
}

/**
 * The changes in scope, and with any name of a hard-linked copy all its other names: they show
 * one file, which a scoped commit or discard cannot write or drop under some names only (the
 * names out of scope kept showing the copy, and committed later put it back on the host).
 */
export function withLinkedNames(changes: readonly Change[], inScope: (path: string) => boolean): Change[] {
  const copies = new Set(changes.filter((c) => inScope(c.path)).map((c) => c.linkedFrom ?? c.path));
  return changes.filter((c) => inScope(c.path) || copies.has(c.linkedFrom ?? c.path));
}

/** Normalised overlay paths from user input ('a/b', './a/b/', '/a/b' -> '/a/b'). */
export function normalizeScope(paths: readonly string[]): string[] {
  return paths.map((p) => {
    const parts: string[] = [];
    for (const part of p.split('/')) {
      if (!part || part === '.') continue;
      if (part === '..') parts.pop();
      else parts.push(part);
    }
    return `/${parts.join('/')}`;
  });
}

export function scopeFilter(scope: readonly string[]): (path: string) => boolean {
  const norm = normalizeScope(scope);
  if (!norm.length || norm.includes('/')) return () => true;
  return (path) => norm.some((s) => path === s || path.startsWith(`${s}/`));
}

/** Work left in a walk: a merged directory, a deleted base directory, or leaving a directory. */
type Task =
  | { t: 'dir'; path: string; merged: Entry | undefined; baseIsDir: boolean }
  | { t: 'base'; path: string }
  | { t: 'exit'; delta: number };

/**
 * Visits the changed places below a directory with an explicit stack (a deep tree needs no deep
 * stack). The delta directories above the current one are kept: a damaged delta whose entry
 * leads back to a directory above is ELOOP, not endless work. Order does not matter (sorted later).
 */
function walkDir(ov: OverlayChanges, path: string, merged: Entry | undefined, baseIsDir: boolean, out: Change[]): void {
  const onPath = new Set<number>();
  const stack: Task[] = [{ t: 'dir', path, merged, baseIsDir }];
  for (let task = stack.pop(); task; task = stack.pop()) {
    if (task.t === 'exit') {
      onPath.delete(task.delta);
    } else if (task.t === 'base') {
      baseDeleted(ov, task.path, out, stack);
    } else {
      // keyed by delta inode: the overlay makes a node per path, so only the delta shows a cycle
      const d = task.merged?.node.delta;
      if (d !== undefined) {
        if (onPath.has(d)) throw cycleError(task.path);
        onPath.add(d);
        stack.push({ t: 'exit', delta: d });
      }
      listDir(ov, task.path, task.merged, task.baseIsDir, out, stack);
    }
  }
}

function listDir(ov: OverlayChanges, path: string, merged: Entry | undefined, baseIsDir: boolean, out: Change[], stack: Task[]): void {
  const names = new Set<string>();
  const aligned = merged !== undefined && baseIsDir && ov.basePathOf(merged.node) === path;
  if (aligned) {
    if (merged.node.delta !== undefined) for (const e of ov.delta.readdir(merged.node.delta)) names.add(e.name);
    const prefix = path === '/' ? '/' : `${path}/`;
    for (const w of ov.whiteoutsUnder(path)) names.add(w.path.slice(prefix.length).split('/')[0]!);
  } else {
    if (merged) for (const e of ov.merged.readdir(merged.node.ino)) names.add(e.name);
    if (baseIsDir) for (const e of ov.base.list(path)) if (!ov.hides(joinPath(path, e.name))) names.add(e.name);
  }
  for (const name of [...names].sort()) classify(ov, joinPath(path, name), merged ? ov.entry(merged.node, name) : undefined, out, stack);
}

function classify(ov: OverlayChanges, path: string, m: Entry | undefined, out: Change[], stack: Task[]): void {
  const b = ov.hides(path) ? undefined : ov.base.lstat(path);
  const bDir = b !== undefined && (Number(b.mode) & S_IFMT) === S_IFDIR;
  if (m && !b) {
    const added: Change = { path, status: 'A', type: fileType(m.attr.mode), size: sizeOf(m.attr) };
    shownBy.set(added, m);
    out.push(added);
    if ((m.attr.mode & S_IFMT) === S_IFDIR) stack.push({ t: 'dir', path, merged: m, baseIsDir: false });
    return;
  }
  if (!m && b) {
    out.push({ path, status: 'D', type: fileType(Number(b.mode)), oldSize: Number(b.size) });
    if (bDir) stack.push({ t: 'base', path });
    return;
  }
  if (!m || !b) return;
  const mDir = (m.attr.mode & S_IFMT) === S_IFDIR;
  const what = sameEntry(ov, path, m, b);
  if (what.length) {
    const change: Change = { path, status: 'M', type: fileType(m.attr.mode), what, size: sizeOf(m.attr), oldSize: Number(b.size) };
    if (what.includes('type')) change.oldType = fileType(Number(b.mode));
    shownBy.set(change, m);
    out.push(change);
  }
  if (mDir) stack.push({ t: 'dir', path, merged: m, baseIsDir: bDir });
  else if (bDir) stack.push({ t: 'base', path });
}

/** The entries of a base directory the merged view no longer has (the directory itself went). */
function baseDeleted(ov: OverlayChanges, path: string, out: Change[], stack: Task[]): void {
  for (const e of ov.base.list(path)) {
    const p = joinPath(path, e.name);
    if (ov.hides(p)) continue;
    const st = ov.base.lstat(p);
    if (!st) continue;
    out.push({ path: p, status: 'D', type: fileType(Number(st.mode)), oldSize: Number(st.size) });
    if ((Number(st.mode) & S_IFMT) === S_IFDIR) stack.push({ t: 'base', path: p });
  }
}

function sizeOf(attr: Attr): number | undefined {
  return (attr.mode & S_IFMT) === S_IFDIR ? undefined : attr.size;
}

/** What differs between a merged entry and the base entry at the same path ([] = same). */
export function sameEntry(ov: OverlayChanges, path: string, m: Entry, b: HostStat): string[] {
  // a base-only node at its own base path is the base entry itself
  if (m.node.delta === undefined && ov.basePathOf(m.node) === path) return [];
  const mType = m.attr.mode & S_IFMT;
  const bType = Number(b.mode) & S_IFMT;
  if (mType !== bType) return ['type'];
  const what = metaDiff(m.attr, b, mType !== S_IFDIR);
  if (mType === S_IFREG) {
    if (m.attr.size !== Number(b.size) || !sameContent(ov, m.node.ino, path, m.attr.size)) what.unshift('content');
  } else if (mType === S_IFLNK) {
    if (ov.merged.readlink(m.node.ino) !== ov.base.readlink(path)) what.unshift('target');
  }
  return what;
}

function metaDiff(a: Attr, b: HostStat, withMtime: boolean): string[] {
  const what: string[] = [];
  if ((a.mode & S_IFMT) !== S_IFLNK && (a.mode & 0o7777) !== (Number(b.mode) & 0o7777)) what.push('mode');
  if (a.uid !== Number(b.uid) || a.gid !== Number(b.gid)) what.push('owner');
  // to the microsecond: what Node's utimes can set, so a committed file compares equal afterwards
  if (withMtime && BigInt(a.mtime.sec) * 1_000_000n + BigInt(Math.floor(a.mtime.nsec / 1000)) !== nsOf(b.mtime) / 1000n) what.push('mtime');
  return what;
}

export function sameContent(ov: OverlayChanges, ino: number, basePath: string, size: number): boolean {
  for (let off = 0; off < size; off += COMPARE_CHUNK) {
    const len = Math.min(COMPARE_CHUNK, size - off);
    if (!ov.merged.read(ino, off, len).equals(ov.base.read(basePath, off, len))) return false;
  }
  return true;
}

