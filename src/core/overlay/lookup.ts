import { FsError } from '../errors.js';
import { isDotName } from '../fs/names.js';
import type { Attr } from '../types.js';
import { S_IFDIR, S_IFMT } from '../types.js';
import { attrOfStats, join } from './base.js';
import { sameTime, type HostStat } from './host-stat.js';
import { exposedDeltaIno, hostInoOf, type Node } from './inodes.js';
import type { BaseOrigin } from './origins.js';
import type { OverlayParts } from './parts.js';

/** An entry of the merged view: the node handed out for it and its attributes. */
export interface Found {
  node: Node;
  attr: Attr;
}

/**
 * Lookup in the merged view: delta entry, then whiteout (not found), then base. Every entry seen
 * gets a node (its ino is the one the caller is given), placed where it was seen.
 */
export class MergedLookup {
  constructor(private readonly o: OverlayParts) {}

  /**
   * Directories made (mkdir) in the open write transaction. One was made where the merged view
   * showed nothing (or over a whited-out base directory, which it hides), so its link count is
   * its own: no host lstat for it (one a create in it asks, for the attributes sent after it),
   * unless the host made the same directory meanwhile, which shows once the transaction ended.
   * Its names are still looked for on the host (a file the host put there must not be replaced
   * by a create that did not see it). Forgotten when the transaction ends, rolls back, or the
   * overlay moves, copies up or removes anything (OverlayFs).
   */
  readonly madeNow = new Set<Node>();

  /** The delta inode of deltaDir/name (a copy-up asks before each copy: usually none, no error made). */
  deltaChild(deltaDir: number, name: string): number | undefined {
    if (isDotName(name)) return undefined; // never an entry
    return this.o.delta.childIno(deltaDir, name);
  }

  dirNode(ino: number, syscall: string): Node {
    const n = this.o.nodes.must(ino, syscall);
    if ((n.type & S_IFMT) !== S_IFDIR) throw new FsError('ENOTDIR', syscall);
    return n;
  }

  /** The entry `name` of a directory node in the merged view, or undefined. */
  find(parent: Node, name: string): Found | undefined {
    const { delta, paths } = this.o;
    if (parent.delta !== undefined) {
      const d = this.deltaChild(parent.delta, name);
      if (d !== undefined) {
        const attr = delta.getattr(d);
        const node = this.nodeForDelta(d, attr.mode, parent, name);
        return { node, attr: this.deltaAttr(node, attr) };
      }
    }
    const { path, base } = paths.of(parent);
    if (base === null) return undefined;
    const bp = join(base, name);
    if (paths.isHidden(bp)) return undefined;
    if (this.o.whiteouts.namesIn(path).has(name)) return undefined;
    const st = this.o.base.lstat(bp);
    if (!st) return undefined;
    const node = this.baseNode(st, parent, name);
    this.adoptIfLinked(node, st);
    if (node.delta !== undefined) return { node, attr: this.deltaAttr(node, delta.getattr(node.delta)) };
    return { node, attr: attrOfStats(st, node.ino) };
  }

  /** The entry at an overlay path ('/a/b'), without following symlinks, or undefined. */
  resolve(path: string): Found | undefined {
    let cur: Found = { node: this.o.root, attr: this.attrOf(this.o.root) };
    for (const part of path.split('/').filter(Boolean)) {
      if ((cur.node.type & S_IFMT) !== S_IFDIR) return undefined;
      const next = this.find(cur.node, part);
      if (!next) return undefined;
      cur = next;
    }
    return cur;
  }

  /** True when the base has an entry that would show at parent/name without a whiteout. */
  baseHas(parent: Node, name: string): boolean {
    return this.baseEntry(parent, name) !== undefined;
  }

  /** The base entry parent/name shows (or would, without a delta entry there): its base path and lstat. */
  baseEntry(parent: Node, name: string): { basePath: string; st: HostStat } | undefined {
    const base = this.o.paths.basePathOf(parent);
    if (base === null) return undefined;
    const bp = join(base, name);
    if (this.o.paths.isHidden(bp)) return undefined;
    const st = this.o.base.lstat(bp);
    return st && { basePath: bp, st };
  }

  /**
   * The node of a base entry seen at parent/name (created, or moved to where it was seen).
   *
   * A base file is known by its host inode number (hard links are one file, and a copy made
   * through one name shows under all), but the host gives a removed file's number to a later
   * file. A node living in the delta (a copy) takes a file of its number only when that is the
   * file it was copied from (copiedFrom: the same birth time); another file gets a number of its
   * own (BaseInos.renumber) and shows its own content: it took the copy for its own (its content,
   * and a write to it went into the copy). A base-only node simply follows the host file of its
   * number (it holds nothing of its own), as it follows a file moved on the host.
   */
  baseNode(st: HostStat, parent: Node, name: string): Node {
    const { nodes } = this.o;
    const linked = this.otherDeviceLinkedCopy(st);
    if (linked !== undefined) return this.nodeForDelta(linked, st.mode, parent, name);
    let ino = this.o.baseInos.of(st);
    let node = nodes.get(ino);
    if (node && node.delta !== undefined && node !== this.o.root && !this.copiedFrom(node, st)) {
      ino = this.o.baseInos.renumber(st);
      node = nodes.get(ino);
    }
    if (!node || node === this.o.root) {
      node = nodes.add({ ino, parent, name, type: st.mode & S_IFMT, baseIno: st.ino, baseBirth: st.birth, baseOpens: 0 });
    } else if (node.delta === undefined) {
      this.place(node, parent, name, st.mode);
      node.baseBirth = st.birth;
    }
    return node;
  }

  /**
   * The node of the host entry parent/name the addon listed under number `ino` (a LISTED event:
   * the kernel was told that number). The addon lists no number a copy shows (copyNumber).
   */
  listedNode(ino: number, mode: number, parent: Node, name: string): void {
    const node = this.o.nodes.get(ino);
    if (!node || node === this.o.root) this.o.nodes.add({ ino, parent, name, type: mode & S_IFMT, baseIno: hostInoOf(ino), baseOpens: 0 });
    else if (node.delta === undefined) this.place(node, parent, name, mode);
  }

  /** A base-only node seen at parent/name. */
  private place(node: Node, parent: Node, name: string, mode: number): void {
    if (node.parent !== parent || node.name !== name) {
      // seen somewhere else (moved on the host, another hard link): its path, and for a
      // directory every path below, changed. Its cached path must go too: it kept naming the
      // old place (ESTALE, or another file's content) until some rename dropped every path.
      node.parent = parent;
      node.name = name;
      this.o.paths.forget(node);
    }
    node.type = mode & S_IFMT;
    node.nameTaken = undefined; // seen at a name of its own again
  }

  /**
   * Whether base file `st` (of the number `copy`, a node living in the delta, shows) is the file
   * that copy was made from, or a hard link of it: the same birth time. Where one of the two is
   * not known (a file system without birth times, a copy recorded before they were), the name
   * the copy was made from must still hold that inode (a hard link whose copied name the host
   * removed then counts as another file, and the host's replacing a file at the copied name with
   * one of the same number goes unseen).
   */
  private copiedFrom(copy: Node, st: HostStat): boolean {
    if (copy.baseBirth !== undefined && st.birth !== undefined) return sameTime(copy.baseBirth, st.birth);
    if (!this.stillAt(copy.delta!, st.ino, st.dev)) return false;
    copy.baseBirth ??= st.birth; // taken for that file: the next lookup compares at once
    return true;
  }

  /** Whether the base name delta inode `deltaIno` was copied from still holds inode `ino` (of `dev`). */
  private stillAt(deltaIno: number, ino: number, dev: number | undefined): boolean {
    const rec = this.o.origins.copyUp(deltaIno);
    if (!rec) return true; // copied by another implementation: no record to check, as before
    const at = this.o.base.lstat(rec.basePath);
    return at !== undefined && at.ino === ino && rec.baseIno === ino && (dev === undefined || at.dev === dev);
  }

  /**
   * The delta copy of a hard-linked file of another device made through another of its names.
   * Such copies show no number of the base's (Origins.record), so the names meet on the copy's
   * node, which every lookup and listing of them hands out (else a resumed session showed the old
   * content, under another number, through the names not written).
   */
  private otherDeviceLinkedCopy(st: Partial<HostStat>): number | undefined {
    if (st.dev === undefined || this.o.baseInos.onBaseDevice(st) || st.nlink === undefined || st.nlink < 2) return undefined;
    if (((st.mode ?? 0) & S_IFMT) === S_IFDIR) return undefined;
    const full = st as HostStat;
    const d = this.o.origins.copyOfOtherDeviceLink(full, (bp) => {
      const at = this.o.base.lstat(bp);
      return at !== undefined && at.dev === full.dev && at.ino === full.ino;
    });
    return d;
  }

  /**
   * A hard link of a file already copied up through another name (seen by this process, or
   * recorded by any): its node takes the copy, which every name then shows.
   */
  adoptIfLinked(node: Node, st: HostStat): void {
    if (node.delta === undefined && st.nlink > 1 && (st.mode & S_IFMT) !== S_IFDIR) this.adoptLinkedCopy(node, st);
  }

  /** A base node whose file was copied up through another hard link takes that copy. */
  private adoptLinkedCopy(node: Node, st: HostStat): void {
    // copies record the inode numbers of the base root's file system only (Origins.record)
    if (!this.o.baseInos.onBaseDevice(st)) return;
    const d = this.o.origins.copyOfLinkedBase(st);
    if (d === undefined || this.o.nodes.byDeltaIno(d)) return;
    this.o.nodes.setDelta(node, d);
  }

  /**
   * The node of a delta inode seen at parent/name (created, or moved to where it was seen). A
   * copy shows its base file's number (fs_origin) unless a node of another file has it: a base
   * file the host gave that number since (seen first in this session; baseNode), or another copy
   * of that number. It then shows its delta number.
   */
  nodeForDelta(deltaIno: number, mode: number, parent: Node, name: string): Node {
    const { nodes } = this.o;
    let node = nodes.byDeltaIno(deltaIno);
    if (!node) {
      const origin = this.o.origins.origin(deltaIno);
      let ino = exposedDeltaIno(deltaIno, origin?.ino);
      const existing = origin ? nodes.get(ino) : undefined;
      if (existing && existing !== this.o.root) {
        if (existing.delta === undefined && this.sameOrigin(existing, origin!, deltaIno)) {
          node = existing;
          node.baseBirth ??= origin!.birth;
          nodes.setDelta(node, deltaIno);
        } else {
          ino = exposedDeltaIno(deltaIno, undefined);
        }
      }
      node ??= nodes.add({ ino, parent, name, type: mode & S_IFMT, delta: deltaIno, baseBirth: origin?.birth, baseOpens: 0 });
    }
    if (node.parent !== parent || node.name !== name) {
      node.parent = parent;
      node.name = name;
      this.o.paths.forget(node); // a hard link's other name: its cached path named the old place
    }
    node.type = mode & S_IFMT;
    return node;
  }

  /** Whether base-only node `base` shows the file delta inode `deltaIno` was copied from (see copiedFrom). */
  private sameOrigin(base: Node, origin: BaseOrigin, deltaIno: number): boolean {
    if (base.baseBirth !== undefined && origin.birth !== undefined) return sameTime(base.baseBirth, origin.birth);
    return this.stillAt(deltaIno, origin.ino, this.o.base.dev);
  }

  /** A delta attr as the merged view shows it (the node's ino; see the nlink note). */
  deltaAttr(node: Node, attr: Attr): Attr {
    attr.ino = node.ino;
    // A directory merging with a base directory: its link count is unknown (find's leaf
    // optimisation must not trust it), as btrfs reports.
    if ((attr.mode & S_IFMT) === S_IFDIR && node !== this.o.root && node.parent && !this.madeNow.has(node)) {
      const base = this.o.paths.basePathOf(node);
      if (base !== null && this.o.base.lstat(base)) attr.nlink = 1;
    }
    return attr;
  }

  attrOf(node: Node): Attr {
    if (node.delta !== undefined) return this.deltaAttr(node, this.o.delta.getattr(node.delta));
    const bp = this.o.paths.basePathOf(node);
    const st = bp === null ? undefined : this.o.base.lstat(bp);
    if (!st || !this.sameBase(node, st)) throw new FsError('ESTALE', 'getattr', this.o.paths.pathOf(node), 'the base file is gone');
    return attrOfStats(st, node.ino);
  }

  /**
   * The base path of a base-only node, checked against the host file when a rename took the name
   * it was seen at (Node.nameTaken); ESTALE when it names another file or none (the kernel then
   * looks the name it used up again).
   */
  placedBase(node: Node, syscall: string): string {
    const bp = this.o.paths.basePathOf(node);
    if (bp === null) throw new FsError('ESTALE', syscall);
    if (node.nameTaken) {
      const st = this.o.base.lstat(bp);
      if (!st || !this.sameBase(node, st)) throw new FsError('ESTALE', syscall, this.o.paths.pathOf(node), 'the base file is gone');
    }
    return bp;
  }

  /** Whether a host lstat is of the file a base-only node showed (only doubted after Node.nameTaken). */
  sameBase(node: Node, st: Pick<HostStat, 'ino' | 'birth'>): boolean {
    if (!node.nameTaken || node.baseIno === undefined) return true;
    return st.ino === node.baseIno && (node.baseBirth === undefined || st.birth === undefined || sameTime(st.birth, node.baseBirth));
  }
}
