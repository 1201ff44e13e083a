import { FsError } from '../errors.js';
import { checkRenameArgs } from '../fs/names.js';
import { RENAME_EXCHANGE, RENAME_NOREPLACE, S_IFDIR, S_IFMT, isDir } from '../types.js';
import { join } from './base.js';
import { copyUpEntry, type CopyUp } from './copy-up.js';
import type { Node } from './inodes.js';
import type { MergedLookup } from './lookup.js';
import type { OverlayParts } from './parts.js';
import type { MergedDirs } from './readdir-merge.js';
import type { OverlayTransactions } from './transaction.js';
import type { MutationObserver } from '../fs/mutation.js';

/**
 * rename in the merged view. A moved directory keeps showing the base directory it showed before
 * (agentfs_overlay_dir), its whiteouts move along, and the place it left is whited out when the
 * base has an entry there.
 */
export class OverlayRename {
  constructor(
    private readonly o: OverlayParts,
    private readonly lookup: MergedLookup,
    private readonly dirs: MergedDirs,
    private readonly copyUp: CopyUp,
    private readonly tx: OverlayTransactions,
    /** told about a move the delta cannot report (a base-only directory's: the delta makes a copy) */
    private readonly observer?: MutationObserver,
  ) {}

  rename(parent: number, name: string, newParent: number, newName: string, flags: number): void {
    checkRenameArgs(name, newName, flags);
    const { lookup, o } = this;
    const p = lookup.dirNode(parent, 'rename');
    const q = lookup.dirNode(newParent, 'rename');
    const src = lookup.find(p, name);
    if (!src) throw new FsError('ENOENT', 'rename', name);
    const dst = lookup.find(q, newName);
    // Linux's order (and InodeFs's): the flags' own refusals, then a directory below itself,
    // then the types.
    if (flags & RENAME_NOREPLACE && dst) throw new FsError('EEXIST', 'rename', newName);
    if (flags & RENAME_EXCHANGE && !dst) throw new FsError('ENOENT', 'rename', newName);
    const srcDir = isDir(src.attr.mode);
    if (srcDir && within(q, src.node)) throw new FsError('EINVAL', 'rename', name, 'cannot move a directory into its own subtree');
    if (flags & RENAME_EXCHANGE) {
      if (isDir(dst!.attr.mode) && within(p, dst!.node)) {
        throw new FsError('EINVAL', 'rename', newName, 'cannot move a directory into its own subtree');
      }
      return this.exchange(p, name, src.node, q, newName, dst!.node);
    }
    if (dst && dst.node === src.node) return; // same file (or hard links of it): nothing to do
    if (dst) {
      const dstDir = isDir(dst.attr.mode);
      if (srcDir && !dstDir) throw new FsError('ENOTDIR', 'rename', newName);
      if (!srcDir && dstDir) throw new FsError('EISDIR', 'rename', newName);
      if (dstDir && !this.dirs.isEmpty(dst.node)) throw new FsError('ENOTEMPTY', 'rename', newName);
    }
    const from = join(o.paths.pathOf(p), name);
    const to = join(o.paths.pathOf(q), newName);
    const shown = lookup.baseEntry(p, name);
    // the base entry the destination shows is replaced (a directory there is empty: its entries
    // were recorded as they went): commit checks it is still what it was
    const replaced = dst ? lookup.baseEntry(q, newName) : undefined;
    const srcBase = srcDir ? o.paths.basePathOf(src.node) : null;
    let kept: string | null = null;
    if (shown) o.nodes.hiding(p);
    this.tx.run(() => {
      const qd = this.copyUp.ensureDelta(q);
      if (dst && isDir(dst.attr.mode)) o.whiteouts.removeUnder(to);
      if (srcDir) kept = this.moveDir(p, name, src.node, qd, newName, dst?.node, { from, to });
      else {
        const sd = this.copyUp.ensureDelta(src.node);
        const pd = p.delta!;
        if (lookup.deltaChild(pd, name) === sd) o.delta.rename(pd, name, qd, newName);
        else {
          // a base name of a hard-linked file whose copy lives under another name: the moved
          // name becomes one more link of that copy (the base name is whited out below)
          if (lookup.deltaChild(qd, newName) !== undefined) o.delta.unlink(qd, newName);
          o.delta.link(sd, qd, newName);
        }
      }
      o.whiteouts.remove(to);
      if (shown) o.whiteouts.add(from, true);
      if (srcDir) {
        o.whiteouts.moveUnder(from, to);
        o.hidden.moveUnder(from, to, srcBase);
      }
      // a moved directory is not deleted: its base directory shows at the new place
      if (shown && !srcDir) o.hidden.note(from, shown.basePath, shown.st);
      if (replaced) o.hidden.note(to, replaced.basePath, replaced.st);
    });
    if (dst && dst.node !== src.node && isDir(dst.attr.mode)) o.nodes.delete(dst.node);
    src.node.parent = q;
    src.node.name = newName;
    // a moved directory's subtree shows the same host files (a full invalidation took every host
    // file back from the addon: the next `git status` asked JavaScript for each lstat, 4x as long),
    // unless it kept no base layer where it had a base path (its host directory gone meanwhile):
    // what the host puts back there is not below it any more
    if (srcDir) {
      if (kept === null && srcBase !== null) for (const n of o.nodes.below(src.node)) o.nodes.changed(n.ino);
      o.paths.movedDir(src.node, kept, dst?.node);
    } else {
      o.paths.forget(src.node);
      if (dst) {
        // the replaced file keeps its place only for names and handles held elsewhere
        if (dst.node.delta === undefined && dst.node !== src.node) dst.node.nameTaken = true;
        o.paths.forget(dst.node);
      }
    }
  }

  /**
   * Moves a directory; its base layer (if any) stays the base directory it showed before, which
   * it returns (null: none, and so no host file below it before either).
   */
  private moveDir(p: Node, name: string, node: Node, qd: number, newName: string, dst: Node | undefined, paths: { from: string; to: string }): string | null {
    const { o } = this;
    const bp = o.paths.basePathOf(node);
    const bst = bp === null ? undefined : o.base.lstat(bp);
    const baseDir = bst && (Number(bst.mode) & S_IFMT) === S_IFDIR ? bp : null;
    if (node.delta !== undefined) {
      o.origins.setRedirect(node.delta, baseDir);
      o.delta.rename(p.delta!, name, qd, newName);
      return baseDir;
    }
    // base-only directory: its delta copy is made directly at the new place. The journal hears
    // the move, not the copy (nor the empty directory it replaces, as a plain rename says nothing of it)
    if (!bst || bp === null) throw new FsError('ESTALE', 'rename', name, 'the base directory is gone');
    const d = o.delta.unobserved(() => {
      const dd = dst ? this.lookup.deltaChild(qd, newName) : undefined;
      if (dd !== undefined) {
        o.delta.rmdir(qd, newName);
        o.origins.forget(dd);
      }
      return copyUpEntry(o.delta, o.base, bp, bst, qd, newName);
    });
    this.observer?.({ op: 'rename', ino: d, path: paths.from, newPath: paths.to });
    o.origins.record(d, bp, bst, o.baseInos.onBaseDevice(bst));
    o.origins.setRedirect(d, bp);
    node.baseBirth = bst.birth;
    this.copyUp.adopted(node, d);
    return bp;
  }

  private exchange(p: Node, name: string, a: Node, q: Node, newName: string, b: Node): void {
    const { o } = this;
    const pa = join(o.paths.pathOf(p), name);
    const pb = join(o.paths.pathOf(q), newName);
    // each place shows the other's entry afterwards: the base files there are replaced (a
    // directory is not deleted: it shows at the other place, with its base directory)
    const shown = [a, b].map((n, i) => ((n.type & S_IFMT) === S_IFDIR ? undefined : i ? this.lookup.baseEntry(q, newName) : this.lookup.baseEntry(p, name)));
    const bases = [a, b].map((n) => ((n.type & S_IFMT) === S_IFDIR ? o.paths.basePathOf(n) : null));
    this.tx.run(() => {
      for (const n of [a, b]) {
        const isD = (n.type & S_IFMT) === S_IFDIR;
        const bp = isD ? o.paths.basePathOf(n) : null;
        const d = this.copyUp.ensureDelta(n);
        if (isD) {
          const st = bp === null ? undefined : o.base.lstat(bp);
          o.origins.setRedirect(d, st && (Number(st.mode) & S_IFMT) === S_IFDIR ? bp : null);
        }
      }
      o.delta.rename(p.delta!, name, q.delta!, newName, RENAME_EXCHANGE);
      const tmp = '/\u0001exchange';
      o.whiteouts.moveUnder(pa, tmp);
      o.whiteouts.moveUnder(pb, pa);
      o.whiteouts.moveUnder(tmp, pb);
      o.hidden.moveUnder(pa, tmp, bases[0]);
      o.hidden.moveUnder(pb, pa, bases[1]);
      o.hidden.moveUnder(tmp, pb, bases[0]);
      if (shown[0]) o.hidden.note(pa, shown[0].basePath, shown[0].st);
      if (shown[1]) o.hidden.note(pb, shown[1].basePath, shown[1].st);
    });
    [a.parent, a.name, b.parent, b.name] = [q, newName, p, name];
    o.paths.invalidate();
  }
}

/** Whether dir is node or lies below it. */
function within(dir: Node, node: Node): boolean {
  for (let a: Node | null = dir; a; a = a.parent) if (a === node) return true;
  return false;
}
