import type { OverlayChanges } from '../overlay/index.js';
import { parentPath } from '../overlay/index.js';
import type { Attr } from '../types.js';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../types.js';
import { nsOf, type HostStat } from '../overlay/index.js';
import type { HiddenRecord } from '../overlay/hidden-base.js';
import { cycleError } from '../fs/paths.js';
import { BaseWriter } from './base-writer.js';
import { computeChanges, normalizeScope, sameContent, sameEntry, withLinkedNames } from './diff.js';
import type { Change } from './types.js';
import { AgentfsError } from '../../errors.js';

export interface Conflict {
  path: string;
  reason: string;
}

export interface CommitOptions {
  /** only changes at or below these overlay paths */
  paths?: readonly string[];
  /** apply even where the base changed underneath */
  force?: boolean;
  /** report what would be applied, change nothing */
  dryRun?: boolean;
}

export interface CommitResult {
  changes: Change[];
  conflicts: Conflict[];
  /** true when the changes were written to the base and cleared from the delta */
  applied: boolean;
  /** changes that cannot be written to a directory by an unprivileged process (devices, sockets) */
  skipped: Change[];
}

const READ_CHUNK = 1 << 20;

/**
 * Writes an overlay's changes into its base directory, then clears them from the delta.
 * Order: additions and modifications parents-first (a moved directory's contents are still read
 * from its old base place), then deletions children-first, then directory times, then the delta is
 * emptied of what was applied. Each file is written under a temporary name and renamed into
 * place, and cleared from the delta only after that, so a commit interrupted anywhere can be run
 * again: what already reached the base is recognised (same content) and not taken for a conflict.
 */
export function commitChanges(ov: OverlayChanges, options: CommitOptions = {}): CommitResult {
  const scope = normalizeScope(options.paths ?? []);
  const reported = selectChanges(ov, scope);
  const conflicts = findConflicts(ov, reported);
  checkMovedSources(ov, reported, scope);
  checkMovedDirs(ov, reported, scope);
  checkSwappedDirs(ov, reported);
  const skipped = reported.filter((c) => c.status !== 'D' && (c.type === 'socket' || c.type === 'char' || c.type === 'block'));
  if (options.dryRun || (conflicts.length && !options.force)) return { changes: reported, conflicts, applied: false, skipped };

  // hard-linked base files whose names this commit removes or replaces (see hiddenRelinked)
  const relinked = new Set<number>();
  for (const c of reported) {
    const st = ov.base.lstat(c.path);
    if (st && st.nlink > 1 && (st.mode & S_IFMT) !== S_IFDIR) relinked.add(Number(st.ino));
  }
  const writer = new BaseWriter(ov.base.dir);
  // Moved directories are moved in the base too (contents and times kept as they are); what
  // is left to do is then worked out again.
  const crossed: { from: string; to: string }[] = [];
  const changes = applyDirectoryMoves(ov, writer, reported, scope, crossed) ? selectChanges(ov, scope) : reported;
  const dirs: { path: string; attr: Attr }[] = [];
  for (const c of sourcesLast(changes)) {
    if (c.status === 'D' || skipped.includes(c)) continue;
    const e = ov.resolve(c.path);
    if (!e) continue;
    switch (c.type) {
      case 'dir':
        writer.ensureDir(c.path, e.attr);
        dirs.push({ path: c.path, attr: e.attr });
        break;
      case 'file':
        writer.writeFile(c.path, e.attr, chunks(ov, e.node.ino, e.attr.size));
        break;
      case 'symlink':
        writer.writeSymlink(c.path, e.attr, ov.merged.readlink(e.node.ino));
        break;
      case 'fifo':
        writer.writeFifo(c.path, e.attr);
        break;
    }
    ov.base.forget(c.path);
  }
  const deletions = changes.filter((c) => c.status === 'D').reverse();
  for (const c of deletions) {
    writer.remove(c.path);
    ov.base.forget(c.path);
  }
  for (const d of dirs.reverse()) writer.dirTimes(d.path, d.attr);
  // the base holds everything now; only then does the delta let go of it, in one transaction
  writer.sync();
  ov.transaction(() => {
    // directories committed whole show the base's at their own path first: their entries settle into it
    settleRedirects(ov, scope);
    for (const c of changes) {
      if (c.status === 'D' || c.type === 'dir' || skipped.includes(c)) continue;
      // in a directory that still hides the base's (a partial commit), the delta keeps its copy
      if (showsBaseAt(ov, c.path)) ov.settleDeltaEntry(c.path);
      ov.dropHidden(c.path);
    }
    for (const c of deletions) {
      ov.clearWhiteouts(c.path);
      ov.dropHidden(c.path);
    }
    if (!scope.length || scope.includes('/')) ov.dropHidden('/');
    else for (const ino of relinked) ov.hiddenRelinked(ino);
    // a move written entry by entry: the base directory is at its new place now
    for (const m of crossed) if (!ov.base.lstat(m.from) && ov.base.lstat(m.to)) ov.baseRenamed(m.from, m.to);
    dropStaleWhiteouts(ov, scope);
    pruneDelta(ov, scope);
  });
  return { changes: reported, conflicts, applied: true, skipped };
}

/**
 * The names other hard links' copies sit under (linkedFrom) go after everything else: once such a
 * name is replaced on the host, the other names no longer show its copy (an other device's never,
 * the base's not where the source is renamed or hard to find), so they are written first; a commit
 * killed in between leaves the copy where the next one finds it. Sources are files: the
 * directories they need come earlier anyway.
 */
function sourcesLast(changes: readonly Change[]): Change[] {
  const sources = new Set(changes.flatMap((c) => (c.linkedFrom !== undefined ? [c.linkedFrom] : [])));
  if (!sources.size) return [...changes];
  return [...changes.filter((c) => !sources.has(c.path)), ...changes.filter((c) => sources.has(c.path))];
}

/** Whiteouts (in scope) that no longer hide anything: the base entry behind them is gone. */
function dropStaleWhiteouts(ov: OverlayChanges, scope: readonly string[]): void {
  for (const w of ov.whiteoutsUnder('/')) {
    if (scope.length && !scope.includes('/') && !inside(scope, w.path)) continue;
    const parent = ov.resolve(parentPath(w.path));
    const bp = parent && (parent.attr.mode & 0o170000) === 0o040000 ? ov.basePathOf(parent.node) : null;
    const name = w.path.slice(w.path.lastIndexOf('/') + 1);
    if (bp === null || !ov.base.lstat(bp === '/' ? `/${name}` : `${bp}/${name}`)) ov.dropWhiteout(w.path);
  }
}

/** Changes in scope, plus the new directories above them that must exist first. */
function selectChanges(ov: OverlayChanges, scope: readonly string[]): Change[] {
  if (!scope.length || scope.includes('/')) return computeChanges(ov);
  const all = computeChanges(ov);
  const inScope = (p: string) => scope.some((s) => p === s || p.startsWith(`${s}/`));
  const above = (p: string) => scope.some((s) => s.startsWith(`${p}/`));
  // the other names of a hard-linked copy in scope go with it (withLinkedNames), and so do the
  // new directories above them
  const picked = new Set(withLinkedNames(all, inScope));
  const extra = [...picked].flatMap((c) => (inScope(c.path) ? [] : [c.path]));
  const aboveExtra = (p: string) => extra.some((s) => s.startsWith(`${p}/`));
  return all.filter((c) => picked.has(c) || (c.type === 'dir' && c.status !== 'D' && (above(c.path) || aboveExtra(c.path))));
}

/**
 * A directory renamed in the overlay (delta directory redirected to base path R, shown at P)
 * whose old place R is deleted and new place P is added in this commit: rename R to P in the
 * base (one onto another file system is left to be written entry by entry, and added to
 * `crossed`). Returns whether anything moved.
 */
function applyDirectoryMoves(
  ov: OverlayChanges,
  writer: BaseWriter,
  changes: readonly Change[],
  scope: readonly string[],
  crossed: { from: string; to: string }[],
): boolean {
  let moved = false;
  for (let again = true; again; ) {
    again = false;
    const added = new Set(changes.filter((c) => c.status === 'A' && c.type === 'dir').map((c) => c.path));
    const replacedByDir = new Set(changes.filter((c) => c.status === 'M' && c.type === 'dir').map((c) => c.path));
    // its old place deleted, or taken by a file (written there once the directory has moved:
    // written first, it took the directory's contents with it before they were read)
    const deleted = new Set(changes.filter((c) => (c.status === 'D') === (c.type === 'dir')).map((c) => c.path));
    for (const r of ov.redirects()) {
      if (r.basePath === null) continue;
      const path = ov.deltaPathOf(r.deltaIno);
      if (!path || path === r.basePath || !(added.has(path) || replacedByDir.has(path))) continue;
      if (!deleted.has(r.basePath) && !newDirAt(ov, r.basePath)) continue;
      if (scope.length && !scope.includes('/') && !(inside(scope, path) && inside(scope, r.basePath))) continue;
      const from = writer.lstat(r.basePath);
      // a base file there was exchanged with it (RENAME_EXCHANGE): its copy is in the delta
      const at = writer.lstat(path);
      // (or one of a directory moved here just before, which the agent exchanged or moved away: a
      // file moved in the agent is in the delta)
      const over = at !== undefined && !at.isDirectory() && (replacedByDir.has(path) || added.has(path));
      if (!from?.isDirectory() || (at && !over)) continue;
      // its new parent may be a directory moved there later in this loop
      if (!writer.lstat(parentPath(path))) continue;
      writer.checkParents(path);
      const to = writer.lstat(parentPath(path));
      if (!to?.isDirectory()) continue;
      // A move onto another file system (one mounted inside the base) cannot be one host rename
      // (EXDEV): it is written as its new entries and deletions instead, as mv does. A mount point
      // itself still fails (EBUSY) before anything is written.
      if (to.dev !== from.dev && writer.lstat(parentPath(r.basePath))?.dev === from.dev) {
        crossed.push({ from: r.basePath, to: path });
        continue;
      }
      // intent first: a commit killed between the two steps is finished by the next open
      ov.beginBaseRename(r.basePath, path);
      if (over) writer.remove(path);
      writer.rename(r.basePath, path);
      ov.baseRenamed(r.basePath, path);
      added.delete(path);
      deleted.delete(r.basePath);
      moved = again = true;
    }
  }
  return moved;
}

/**
 * The merged view has a directory at base directory `path` that does not show it (made there
 * after the base one moved away): the base one can move in the base before that one is written.
 */
function newDirAt(ov: OverlayChanges, path: string): boolean {
  const e = ov.resolve(path);
  return e !== undefined && (e.attr.mode & S_IFMT) === S_IFDIR && ov.basePathOf(e.node) !== path;
}

/**
 * A directory moved in the agent and not renamed in the base first (its new place or its old one
 * is still a directory of the base: directories swapped, RENAME_EXCHANGE) is written entry by
 * entry, each read from its base directory as the commit goes: a file written at its old place
 * before the same name is read at the new place gave the new place the agent's file, and the base
 * file was lost. Refused before anything is written.
 */
function checkSwappedDirs(ov: OverlayChanges, changes: readonly Change[]): void {
  const written = new Map(changes.filter((c) => c.status !== 'D').map((c) => [c.path, c]));
  const renamed = (path: string, from: string) => {
    const c = written.get(path);
    if (!c || c.type !== 'dir' || (c.status !== 'A' && c.status !== 'M')) return false;
    return changes.some((d) => d.path === from && (d.status === 'D') === (d.type === 'dir')) || newDirAt(ov, from);
  };
  for (const r of ov.redirects()) {
    const from = r.basePath;
    const to = from === null ? undefined : ov.deltaPathOf(r.deltaIno);
    if (from === null || to === undefined || to === from || renamed(to, from) || !ov.base.lstat(from)) continue;
    for (const c of written.values()) {
      const below = c.path === from || c.path.startsWith(`${from}/`);
      const above = c.type !== 'dir' && from.startsWith(`${c.path}/`);
      if (!below && !above) continue;
      const src = below ? to + c.path.slice(from.length) : to;
      const reads = written.has(src) || (c.type !== 'dir' && [...written.keys()].some((k) => k.startsWith(`${src}/`)));
      if (!reads) continue;
      throw new AgentfsError(
        'usage',
        `cannot commit ${c.path}: ${to} shows base directory ${from} (directories swapped in this session), and writing it would overwrite what ${src} is read from; nothing was written`,
      );
    }
  }
}

function inside(scope: readonly string[], p: string): boolean {
  return scope.some((s) => p === s || p.startsWith(`${s}/`));
}

function* chunks(ov: OverlayChanges, ino: number, size: number): Generator<Buffer> {
  for (let off = 0; off < size; off += READ_CHUNK) yield ov.merged.read(ino, off, Math.min(READ_CHUNK, size - off));
}

/** Where the base changed underneath the delta since the change was made. */
function findConflicts(ov: OverlayChanges, changes: readonly Change[]): Conflict[] {
  const conflicts: Conflict[] = [];
  const moved = movedSources(ov);
  for (const c of changes) {
    const st = ov.base.lstat(c.path);
    if (!st) continue; // A: nothing in the base to clash with
    const why = baseMoved(ov, c, st, moved);
    if (why) conflicts.push({ path: c.path, reason: why });
  }
  return conflicts;
}

/** Why the base entry at c.path (lstat st) changed underneath the change, or undefined when it did not. */
function baseMoved(ov: OverlayChanges, c: Change, st: HostStat, moved: readonly string[]): string | undefined {
  const deleted = 'changed in the base after it was deleted here';
  // The base entry this path hid (deleted, or renamed over) as it was then, to the nanosecond and
  // with ctime (an edit that puts mtime back still moves it). Without one (a database of another
  // implementation or an earlier version) the whiteout's time says it, in whole seconds.
  let hid = ov.hiddenAt(c.path);
  // deleted inside a directory moved here: the record is at its new place, the diff names the
  // base path (and the move takes along whatever it does not delete)
  if (c.status === 'D' && hid?.basePath !== c.path) hid = ov.hiddenFrom(c.path) ?? hid;
  const exact = hid !== undefined && hid.basePath === c.path;
  if (exact && !sameAsHidden(ov, st, hid!)) {
    if (c.status === 'D') return deleted;
    const e = ov.resolve(c.path);
    if (e && e.node.delta !== undefined && c.type !== 'dir' && alreadyApplied(ov, c.path, e.node.ino, e.attr)) return undefined;
    return 'changed in the base after it was replaced here';
  }
  if (!exact && c.status === 'D' && !inside(moved, c.path) && hiddenDirAbove(ov, c.path)) {
    // below a directory deleted here, whose entries were each recorded as they went: this one
    // was not there then (made on the host since)
    return 'added in the base after its directory was deleted here';
  }
  if (c.status === 'D') {
    // a file moved away (renamed) was copied up first: its record says what the base file was
    // when the copy was made (maybe long before the move)
    const rec = c.type === 'dir' ? undefined : ov.copiedFrom(c.path)[0];
    if (rec) return Number(st.ino) !== rec.baseIno || Number(st.size) !== rec.size || nsOf(st.mtime) !== rec.mtimeNs ? deleted : undefined;
    if (exact) return undefined;
    // not deleted here: inside a directory moved away, whose new place reads the base (as it is
    // at commit time) or is renamed there; what the agent deleted or copied in it has a record
    if (inside(moved, c.path)) return undefined;
    const since = whiteoutTime(ov, c.path);
    return since !== undefined && nsOf(st.mtime) > BigInt(since + 1) * 1_000_000_000n ? deleted : undefined;
  }
  // a directory here, where the base now has a file, symlink or device the agent never replaced
  // (no record of hiding it): writing it would replace what the host put there (the hostile pass:
  // a file the host swapped for a directory under a sandboxed append was copied up as one, and
  // the host's next file at that name overwritten)
  if (c.type === 'dir') return exact || (st.mode & S_IFMT) === S_IFDIR ? undefined : 'replaced in the base by a non-directory';
  const e = ov.resolve(c.path);
  if (!e || e.node.delta === undefined) return undefined;
  const rec = ov.copyUpRecord(e.node.delta);
  if (rec && rec.basePath === c.path) {
    if (Number(st.ino) === rec.baseIno && Number(st.size) === rec.size && nsOf(st.mtime) === rec.mtimeNs) return undefined;
  } else {
    if (exact) return undefined;
    // written here over a base file without copying it up: the base may not move after that
    const ctime = BigInt(e.attr.ctime.sec) * 1_000_000_000n + BigInt(e.attr.ctime.nsec);
    if (nsOf(st.mtime) <= ctime) return undefined;
  }
  if (alreadyApplied(ov, c.path, e.node.ino, e.attr)) return undefined;
  return 'changed in the base since it was copied up';
}

/** The base already holds exactly this content and mode (an earlier, interrupted commit wrote it). */
function alreadyApplied(ov: OverlayChanges, path: string, ino: number, attr: Attr): boolean {
  const st = ov.base.lstat(path);
  if (!st || (Number(st.mode) & 0o170000) !== (attr.mode & 0o170000) || (Number(st.mode) & 0o7777) !== (attr.mode & 0o7777)) return false;
  if ((st.mode & S_IFMT) === S_IFLNK) return ov.base.readlink(path) === ov.merged.readlink(ino);
  if ((st.mode & S_IFMT) !== S_IFREG || st.size !== attr.size) return false;
  return sameContent(ov, ino, path, attr.size);
}

/** The base directories the overlay shows at another place (moved there). */
function movedSources(ov: OverlayChanges): string[] {
  const out: string[] = [];
  for (const r of ov.redirects()) {
    if (r.basePath === null) continue;
    const path = ov.deltaPathOf(r.deltaIno);
    if (path !== undefined && path !== r.basePath) out.push(r.basePath);
  }
  return out;
}

/** The base entry is still the one that was hidden (same inode, type, size, mtime and ctime). */
function sameAsHidden(ov: OverlayChanges, st: HostStat, hid: HiddenRecord): boolean {
  if (Number(st.ino) !== hid.ino || (Number(st.mode) & S_IFMT) !== hid.type) return false;
  // a directory's times move with its entries, each of which is checked on its own
  if (hid.type === S_IFDIR) return true;
  if (Number(st.size) !== hid.size || nsOf(st.mtime) !== hid.mtimeNs) return false;
  return nsOf(st.ctime) === hid.ctimeNs || linkRemoved(ov, hid);
}

/**
 * Another name of this hard-linked base file, hidden here too, is gone from the base (an earlier
 * commit, killed before it could settle its records, removed or replaced it): the link count
 * moved the file's ctime, not an edit.
 */
function linkRemoved(ov: OverlayChanges, hid: HiddenRecord): boolean {
  return ov.hiddenLinks(hid.ino).some((r) => r.path !== hid.path && r.type === hid.type && Number(ov.base.lstat(r.basePath)?.ino ?? -1) !== hid.ino);
}

/**
 * A base directory above path was removed here (rmdir, or renamed over): it was empty in the
 * merged view then, so each base entry it had was recorded as it went (HiddenBase).
 */
function hiddenDirAbove(ov: OverlayChanges, path: string): boolean {
  for (let p = parentPath(path); p !== '/'; p = parentPath(p)) {
    // path is a base path: its directory may have been moved here before it was removed
    const hid = ov.hiddenFrom(p) ?? ov.hiddenAt(p);
    if (hid) return hid.type === S_IFDIR && hid.basePath === p;
  }
  return false;
}

function whiteoutTime(ov: OverlayChanges, path: string): number | undefined {
  for (let p = path; ; p = parentPath(p)) {
    const t = ov.whiteoutTime(p);
    if (t !== undefined || p === '/') return t;
  }
}

/**
 * A partial commit must not change a base directory that a moved directory still shows from: its
 * contents would vanish from the view, or change there. Deleting it or a directory above it, and
 * writing anything at or below it (a directory made again at its old place, a file put there:
 * the hostile pass lost the moved directory's files, from the host too, committing the new
 * directory alone) are refused: say what to add.
 */
function checkMovedSources(ov: OverlayChanges, changes: readonly Change[], scope: readonly string[]): void {
  if (!scope.length || scope.includes('/')) return;
  for (const r of ov.redirects()) {
    const from = r.basePath;
    if (from === null) continue;
    const to = ov.deltaPathOf(r.deltaIno);
    if (to === from) continue;
    // both places in scope: the move itself is committed (applyDirectoryMoves)
    if (to !== undefined && inside(scope, to) && inside(scope, from)) continue;
    const touches = (c: Change) => c.path === from || c.path.startsWith(`${from}/`) || (c.status === 'D' && c.type === 'dir' && from.startsWith(`${c.path}/`));
    if (changes.some(touches)) {
      throw new AgentfsError('usage', `${from} was moved elsewhere in this session; commit the new location together with it (or commit everything)`);
    }
  }
}

/**
 * A partial commit must not write entries inside a directory moved in this session without the
 * move itself: the moved directory still shows its old base place, so once written (and cleared
 * from the delta) an edited file there showed the old content again, a new one vanished, and a
 * later commit wrote that old content over the new (a hard link shown from there, taken along
 * with another name of its copy, the same). Refuse and say what to add.
 */
function checkMovedDirs(ov: OverlayChanges, changes: readonly Change[], scope: readonly string[]): void {
  if (!scope.length || scope.includes('/')) return;
  const moved = ov.redirects().flatMap((r) => {
    const to = r.basePath === null ? undefined : ov.deltaPathOf(r.deltaIno);
    return to === undefined || to === r.basePath || (inside(scope, to) && inside(scope, r.basePath!)) ? [] : [{ to, from: r.basePath! }];
  });
  if (!moved.length) return;
  for (const c of changes) {
    if (c.status === 'D') continue;
    const m = moved.find((d) => c.path.startsWith(`${d.to}/`));
    if (!m) continue;
    const why = c.linkedFrom !== undefined && !inside(scope, c.path) ? `, a hard link of ${c.linkedFrom},` : '';
    throw new AgentfsError('usage', `${c.path}${why} is in ${m.to}, moved from ${m.from} in this session; commit both places together (or commit everything)`);
  }
}

/**
 * A directory committed whole (it and everything below it in scope) is now in the base, at its
 * own path, as the session showed it: one that showed another base directory (moved here, the
 * move written entry by entry: its new parent was new too) or none (made over one deleted here:
 * opaque) shows the base directory at its path from now on. Left as they were, they hid what this
 * commit had just written there (the session showed an empty directory, `diff` listed the
 * committed files as deleted, and the next commit deleted them from the host).
 */
function settleRedirects(ov: OverlayChanges, scope: readonly string[]): void {
  for (const r of ov.redirects()) {
    const path = ov.deltaPathOf(r.deltaIno);
    if (path === undefined || r.basePath === path) continue;
    if (scope.length && !scope.includes('/') && !inside(scope, path)) continue;
    ov.base.forget(path);
    const st = ov.base.lstat(path);
    if (st && (st.mode & S_IFMT) === S_IFDIR) ov.baseHoldsDir(r.deltaIno);
  }
}

/**
 * Whether the merged directory above `path` shows the base directory at its own path: not one
 * made over a deleted one (opaque), nor one moved from elsewhere. Only there does a base entry
 * written at `path` show, so that the delta's may go.
 */
function showsBaseAt(ov: OverlayChanges, path: string): boolean {
  const dir = parentPath(path);
  const e = ov.resolve(dir);
  return e !== undefined && ov.basePathOf(e.node) === dir;
}

/**
 * Removes delta directories that no longer carry anything: no delta children, no whiteouts
 * below, and the base directory at the same path now shows the same entries.
 */
function pruneDelta(ov: OverlayChanges, scope: readonly string[]): void {
  const dirs: string[] = [];
  const files: string[] = [];
  const onPath = new Set<number>();
  const walk = (deltaDir: number, path: string): void => {
    if (onPath.has(deltaDir)) throw cycleError(path);
    onPath.add(deltaDir);
    for (const e of ov.delta.readdir(deltaDir)) {
      const p = path === '/' ? `/${e.name}` : `${path}/${e.name}`;
      if ((e.mode & 0o170000) !== 0o040000) {
        files.push(p);
        continue;
      }
      walk(e.ino, p);
      dirs.push(p);
    }
    onPath.delete(deltaDir);
  };
  walk(ov.delta.rootIno, '/');
  const inScope = (p: string) => !scope.length || scope.some((s) => s === '/' || p === s || p.startsWith(`${s}/`) || s.startsWith(`${p}/`));
  // files the base already holds exactly (an earlier commit wrote them, then was interrupted)
  for (const p of files) {
    if (!inScope(p)) continue;
    const st = ov.base.lstat(p);
    const merged = st && ov.resolve(p);
    if (st && merged && merged.node.delta !== undefined && showsBaseAt(ov, p) && sameEntry(ov, p, merged, st).length === 0) ov.settleDeltaEntry(p);
  }
  for (const p of dirs) {
    if (!inScope(p)) continue;
    const at = ov.deltaEntryAt(p);
    if (!at || ov.delta.readdir(at.ino, 0, 1).length) continue;
    if (ov.whiteoutsUnder(p).length) continue;
    const st = ov.base.lstat(p);
    if (!st || (st.mode & S_IFMT) !== S_IFDIR) continue;
    const merged = ov.resolve(p);
    if (!merged) continue;
    const a = merged.attr;
    if ((a.mode & 0o7777) !== (Number(st.mode) & 0o7777) || a.uid !== Number(st.uid) || a.gid !== Number(st.gid)) continue;
    const shown = ov.merged.readdir(merged.node.ino).map((x) => x.name).sort().join('\0');
    const inBase = ov.base.list(p).filter((x) => !ov.hides(p === '/' ? `/${x.name}` : `${p}/${x.name}`)).map((x) => x.name).join('\0');
    if (shown !== inBase) continue;
    ov.settleDeltaEntry(p);
  }
}
