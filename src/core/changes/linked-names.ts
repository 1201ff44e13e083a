import { baseLinks, type HostStat, type OverlayChanges, type OverlayNode } from '../overlay/index.js';
import type { Attr } from '../types.js';
import { S_IFMT, S_IFREG } from '../types.js';
import type { Change } from './types.js';

/** What differs between a merged entry and the base entry at the same path (diff's sameEntry). */
type Entry = { node: OverlayNode; attr: Attr };
export type EntryDiff = (path: string, m: Entry, b: HostStat) => string[];

/**
 * The other base names of hard-linked files that were copied up. In the overlay every name of a
 * base inode shows one node, so a write through any of them shows under all; but the copy sits
 * under one name only, the one last looked up (FUSE tells a WRITE its inode, not the name it was
 * opened by). Committing that name alone replaced it on the host with a new file and left the
 * others as they were: the edit made through `a` reached `b` only. So every other base name that
 * still shows the copy is returned as a change of its own (`linkedFrom` the changed name), diff
 * lists it and commit writes it too, each as its own file: the host's other links (outside the
 * base too, such as a package store's) keep their content, as kernel overlayfs's copy-up leaves them.
 *
 * The copy may show under a new name (renamed in the session: an A), and its base file may sit on a
 * file system mounted inside the base. Only files whose base inode has more than one link are
 * looked for, by one walk of the base (the devices of those files only, as hard links cannot leave
 * one), which stops once every link is found. Where the copied-up name no longer holds the base
 * file (replaced on the host, or by a commit killed half-way) its link count is unknown: the walk
 * then goes through the whole base device. What the merged view shows under a name decides.
 */
export function linkedNames(ov: OverlayChanges, changes: Change[], entryOf: (c: Change) => Entry | undefined, entryDiff: EntryDiff): Change[] {
  const wanted = new Map<string, { node: number; from: string }>();
  const shown: { c: Change; node: number }[] = [];
  const devs = new Set<number>([ov.base.dev]);
  let left = 0;
  const copied = ov.copiedUp();
  if (!copied.size) return [];
  for (const c of changes) {
    if ((c.status !== 'M' && c.status !== 'A') || c.type !== 'file') continue;
    // (the entry the walk saw: resolving every added file's path again doubled a diff's time)
    const e = entryOf(c) ?? ov.resolve(c.path);
    if (!e || e.node.delta === undefined || !copied.has(e.node.delta)) continue;
    const rec = ov.copyUpRecord(e.node.delta);
    if (!rec) continue;
    const st = ov.base.lstat(rec.basePath);
    let key: string;
    if (st && (st.mode & S_IFMT) === S_IFREG && Number(st.ino) === rec.baseIno) {
      if (st.nlink < 2) continue;
      key = `${st.dev}:${rec.baseIno}`;
      if (!wanted.has(key)) left += Number(st.nlink);
      devs.add(st.dev);
    } else {
      // the overlay shows a copy under the other names of its base file only on the base's device
      key = `${ov.base.dev}:${rec.baseIno}`;
      left = Infinity;
    }
    shown.push({ c, node: e.node.ino });
    // `from` is the name the copy's delta entry sits under: commit writes it last (sourcesLast)
    const w = wanted.get(key);
    if (!w) wanted.set(key, { node: e.node.ino, from: c.path });
    else if (ov.deltaPathOf(e.node.delta) === c.path) w.from = c.path;
  }
  if (!wanted.size) return [];
  // names already listed that show the copy too (in a directory moved in the session, or linked
  // there): without linkedFrom a commit of the others dropped the copy they showed
  const fromOf = new Map([...wanted.values()].map((w) => [w.node, w.from]));
  for (const { c, node } of shown) {
    const from = fromOf.get(node);
    if (from !== undefined && from !== c.path) c.linkedFrom = from;
  }
  const listed = new Set(changes.map((c) => c.path));
  const out: Change[] = [];
  // the walk stops once every link is found
  for (const { path, st, key } of baseLinks(ov.base.dir, devs, new Set(wanted.keys()))) {
    const w = wanted.get(key)!;
    // a name the overlay shows as something else (replaced, deleted, hidden) has a change of its own
    if (path !== w.from && !listed.has(path)) {
      const m = ov.resolve(path);
      const b = m?.node.ino === w.node ? ov.base.lstat(path) : undefined;
      const what = m && b ? entryDiff(path, m, b) : [];
      // (the same already: an earlier commit wrote this name, then was killed)
      if (what.length) out.push({ path, status: 'M', type: 'file', what, size: m!.attr.size, oldSize: Number(st.size), linkedFrom: w.from });
    }
    if (--left <= 0) break;
  }
  return out;
}
