import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { OverlayChanges } from '../overlay/index.js';
import { S_IFMT, S_IFREG } from '../types.js';
import type { Change } from './types.js';

/**
 * The other base names of hard-linked files that were copied up. In the overlay every name of a
 * base inode shows one node, so a write through any of them shows under all; but the copy sits
 * under one name only, the one last looked up (FUSE tells a WRITE its inode, not the name it was
 * opened by). Committing that name alone replaced it on the host with a new file and left the
 * others as they were: the edit made through `a` reached `b` only. So every other base name that
 * still shows the copy is returned as a change of its own (`linkedFrom` the changed name), diff
 * lists it and commit writes it too, each as its own file: the host's other links (outside the base too, such as a package store's) keep their
 * content, as kernel overlayfs's copy-up leaves them.
 *
 * Only files whose base inode has more than one link are looked for, by one walk of the base
 * (its own device only, as hard links cannot leave it), which stops once every link is found.
 */
export function linkedNames(ov: OverlayChanges, changes: readonly Change[]): Change[] {
  const wanted = new Map<number, { node: number; left: number; size: number; from: string }>();
  for (const c of changes) {
    if (c.status !== 'M' || c.type !== 'file') continue;
    const e = ov.resolve(c.path);
    if (!e || e.node.delta === undefined) continue;
    const rec = ov.copyUpRecord(e.node.delta);
    if (!rec) continue;
    const st = ov.base.lstat(rec.basePath);
    if (!st || (st.mode & S_IFMT) !== S_IFREG || st.nlink < 2 || Number(st.ino) !== rec.baseIno || st.dev !== ov.base.dev) continue;
    if (!wanted.has(rec.baseIno)) wanted.set(rec.baseIno, { node: e.node.ino, left: Number(st.nlink) - 1, size: e.attr.size, from: c.path });
  }
  if (!wanted.size) return [];
  const listed = new Set(changes.map((c) => c.path));
  const out: Change[] = [];
  let left = [...wanted.values()].reduce((n, w) => n + w.left, 0);
  // iterative walk (a deep base needs no deep stack); unreadable directories are skipped
  const dirs: string[] = ['/'];
  while (dirs.length && left > 0) {
    const dir = dirs.pop()!;
    let entries;
    try {
      entries = readdirSync(join(ov.base.dir, dir), { withFileTypes: true });
    } catch {
      continue;
    }
    for (const d of entries) {
      const path = dir === '/' ? `/${d.name}` : `${dir}/${d.name}`;
      if (d.isDirectory()) {
        const st = lstatSync(join(ov.base.dir, path), { throwIfNoEntry: false });
        if (st && st.dev === ov.base.dev) dirs.push(path);
        continue;
      }
      if (!d.isFile()) continue;
      const st = lstatSync(join(ov.base.dir, path), { throwIfNoEntry: false });
      const w = st && st.dev === ov.base.dev ? wanted.get(Number(st.ino)) : undefined;
      if (!w || !st) continue;
      if (path !== w.from) {
        w.left--;
        left--;
      }
      // a name the overlay shows as something else (replaced, deleted, hidden) has a change of its own
      if (path === w.from || listed.has(path) || ov.resolve(path)?.node.ino !== w.node) continue;
      out.push({ path, status: 'M', type: 'file', what: ['content'], size: w.size, oldSize: Number(st.size), linkedFrom: w.from });
    }
  }
  return out;
}
