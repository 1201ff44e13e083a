import { FsError } from '../errors.js';
import type { Timespec } from '../types.js';
import { sameTime } from './host-stat.js';

/**
 * Inode numbers the overlay shows.
 * - Base files (and delta copies of them, through fs_origin) show their base st_ino as is.
 * - Delta-only inodes show DELTA_INO_BASE + delta ino: base inode numbers on Linux filesystems
 *   stay far below 2^50, so the two ranges never meet, and both are stable across remounts
 *   (delta inos are database rows, base inos are the host's).
 * - The root is always 1 (FUSE's root id), whatever the base root's number. A base entry whose
 *   own number is 1 (the root of a file system mounted inside the base: any FUSE mount, some
 *   tmpfs) shows DELTA_INO_BASE, which no delta inode takes (they start at 1): as 1 it took the
 *   root's node, and the sandbox's root listed that file system.
 */
export const DELTA_INO_BASE = 2 ** 50;
const ROOT_INO = 1;

/** The ino a base entry with host inode number `hostIno` shows. */
export function exposedBaseIno(hostIno: number): number {
  return hostIno === ROOT_INO ? DELTA_INO_BASE : hostIno;
}

/** The host inode number of a base entry showing `ino` (exposedBaseIno's inverse). */
export function hostInoOf(ino: number): number {
  return ino === DELTA_INO_BASE ? ROOT_INO : ino;
}

/**
 * Base entries on another file system than the base root's (one mounted inside the base: a
 * volume, a tmpfs) number their inodes on their own, and theirs meet the base's: two files with
 * one number would share a node, and the kernel would read one for the other. They show numbers
 * from OTHER_DEVICE_INO_BASE up instead, one per (device, inode), given out as they are seen and
 * kept for the life of the overlay (delta-only numbers stay far below: delta inos are rows).
 */
export const OTHER_DEVICE_INO_BASE = 2 ** 51;

/** A base file's identity beyond its inode number (see BaseInos.renumber). */
interface Renumbered {
  dev: number;
  birth: Timespec | undefined;
  ino: number;
}

export class BaseInos {
  private readonly others = new Map<string, number>();
  /** host inode number -> the base files of that number shown under numbers of their own */
  private readonly renumbered = new Map<number, Renumbered[]>();
  private next = OTHER_DEVICE_INO_BASE;

  /** `dev`: the base root's device */
  constructor(private readonly dev: number) {}

  /** Whether a base entry lives on the base root's file system (its number is its own). */
  onBaseDevice(st: { dev?: number }): boolean {
    return st.dev === undefined || st.dev === this.dev;
  }

  /** The ino a base entry shows (an entry without a device is on the base root's). */
  of(st: { dev?: number; ino: number; birth?: Timespec }): number {
    if (this.renumbered.size) {
      const r = this.renumbered.get(st.ino)?.find((e) => e.dev === (st.dev ?? this.dev) && sameBirth(e.birth, st.birth));
      if (r) return r.ino;
    }
    if (this.onBaseDevice(st)) return exposedBaseIno(st.ino);
    const key = `${st.dev}:${st.ino}`;
    let ino = this.others.get(key);
    if (ino === undefined) {
      ino = this.next++;
      this.others.set(key, ino);
    }
    return ino;
  }

  /**
   * A number of its own for base file `st`, whose inode number the host gave it after removing
   * the file a delta copy of this overlay was made from (that copy keeps the number: the kernel
   * knows it by it). From OTHER_DEVICE_INO_BASE up, kept for the overlay's life; `of` gives it
   * from now on (a file of the same number and birth time, or both without one).
   */
  renumber(st: { dev?: number; ino: number; birth?: Timespec }): number {
    const dev = st.dev ?? this.dev;
    let list = this.renumbered.get(st.ino);
    const had = list?.find((e) => e.dev === dev && sameBirth(e.birth, st.birth));
    if (had) return had.ino;
    if (!list) this.renumbered.set(st.ino, (list = []));
    const ino = this.next++;
    list.push({ dev, birth: st.birth, ino });
    if (dev === this.dev) for (const l of this.renumberListeners) l(exposedBaseIno(st.ino));
    return ino;
  }

  /**
   * Whether a base-device file of host number `hostIno` was given a number of its own: the host
   * number alone no longer says which file (or number) an entry of it shows.
   */
  isRenumbered(hostIno: number): boolean {
    return this.renumbered.get(hostIno)?.some((e) => e.dev === this.dev) ?? false;
  }

  /** The exposed numbers of the base-device host numbers renumbered so far. */
  *renumberedNumbers(): Iterable<number> {
    for (const [hostIno, list] of this.renumbered) if (list.some((e) => e.dev === this.dev)) yield exposedBaseIno(hostIno);
  }

  private readonly renumberListeners: ((ino: number) => void)[] = [];

  /** Told of each base-device host number renumbered for the first time (its exposed number). */
  onRenumber(listener: (ino: number) => void): void {
    this.renumberListeners.push(listener);
  }
}

/** Two birth times are the same, or both unknown. */
function sameBirth(a: Timespec | undefined, b: Timespec | undefined): boolean {
  return a === undefined || b === undefined ? a === b : sameTime(a, b);
}

export function exposedDeltaIno(deltaIno: number, originIno: number | undefined): number {
  return originIno !== undefined ? exposedBaseIno(originIno) : DELTA_INO_BASE + deltaIno;
}

export function isDeltaOnlyIno(ino: number): boolean {
  return ino > DELTA_INO_BASE;
}

/** Whether a node numbered `ino` living in the delta shows a base file's own inode number (a copy-up's). */
export function isCopyNumber(ino: number): boolean {
  return ino < DELTA_INO_BASE && ino !== ROOT_INO;
}

/** One file or directory of the merged view that the overlay has handed out an ino for. */
export interface Node {
  ino: number;
  /** parent in the merged view (null for the root); for hard links, where it was last seen */
  parent: Node | null;
  name: string;
  /** S_IFMT bits */
  type: number;
  /** delta inode, once the node lives in the delta (created there or copied up) */
  delta?: number;
  /** base inode number when the node comes from the base */
  baseIno?: number;
  /**
   * The birth time of the base file it shows or was copied from, when the file system gives one:
   * with the number, what tells that file from a later one the host gave the same number
   * (MergedLookup.baseNode).
   */
  baseBirth?: Timespec;
  /** base-only: handles opened before copy-up (re-opened on the delta copy) */
  baseOpens: number;
  /**
   * base-only, not a directory: the name it was last seen at went (a rename over it, an unlink),
   * while it lives on under other names (hard links) or open handles. Its base path is then only
   * trusted while it still names the same host file (MergedLookup.placedBase), until it is
   * seen again: the host could put another file there, whose content it showed.
   */
  nameTaken?: boolean;
}

/**
 * Nodes by exposed ino and by delta ino. Also who must hear that a node stopped being (or may
 * have stopped being) the host file it showed (FileSystem.hostFiles): copied up, moved, gone.
 */
export class NodeTable {
  private readonly byIno = new Map<number, Node>();
  private readonly byDelta = new Map<number, Node>();
  private readonly listeners: ((ino?: number) => void)[] = [];

  onChange(listener: (ino?: number) => void): void {
    this.listeners.push(listener);
  }

  private readonly copyListeners: ((ino: number) => void)[] = [];

  /** Told of each node made for a copy that shows its base file's number (no change of a host file: a new node). */
  onCopy(listener: (ino: number) => void): void {
    this.copyListeners.push(listener);
  }

  /** `ino`'s host file may have changed (undefined: every node's). */
  changed(ino?: number): void {
    for (const l of this.listeners) l(ino);
  }

  private readonly hidingListeners: ((dir: Node) => void)[] = [];

  /** Told of each directory about to get a whiteout (hiding). */
  onHiding(listener: (dir: Node) => void): void {
    this.hidingListeners.push(listener);
  }

  /**
   * Directory `dir` is about to hide a name of its base directory (a whiteout in it, which the
   * caller then adds `named`: Whiteouts.add): it no longer lists as its host directory.
   */
  hiding(dir: Node): void {
    for (const l of this.hidingListeners) l(dir);
  }

  get(ino: number): Node | undefined {
    return this.byIno.get(ino);
  }

  must(ino: number, syscall: string): Node {
    const n = this.byIno.get(ino);
    if (!n) throw new FsError('ESTALE', syscall, String(ino), 'unknown inode (look it up first)');
    return n;
  }

  /** Every node below `dir` (its descendants as last seen: each node's parent chain). */
  *below(dir: Node): Iterable<Node> {
    const known = new Map<Node, boolean>([[dir, true]]);
    for (const n of this.byIno.values()) {
      const chain: Node[] = [];
      let under = false;
      for (let a: Node | null = n.parent; a; a = a.parent) {
        const k = known.get(a);
        if (k !== undefined) {
          under = k;
          break;
        }
        if (chain.length > this.byIno.size) break; // a loop of parents (a damaged delta): not below
        chain.push(a);
      }
      for (const a of chain) known.set(a, under);
      if (under) yield n;
    }
  }

  /** The numbers of nodes living in the delta that show a base file's number (isCopyNumber). */
  *copyNumbers(): Iterable<number> {
    for (const n of this.byDelta.values()) if (isCopyNumber(n.ino) && this.byIno.get(n.ino) === n) yield n.ino;
  }

  byDeltaIno(deltaIno: number): Node | undefined {
    return this.byDelta.get(deltaIno);
  }

  add(node: Node): Node {
    this.byIno.set(node.ino, node);
    if (node.delta !== undefined) {
      this.byDelta.set(node.delta, node);
      // a copy showing its base file's number: no host file of that number is it (copyNumber)
      if (isCopyNumber(node.ino)) for (const l of this.copyListeners) l(node.ino);
    }
    return node;
  }

  // The listeners hear of each change after it is made (HostFiles.deltaFile gives the new answer).

  setDelta(node: Node, deltaIno: number): void {
    const was = node.delta;
    node.delta = deltaIno;
    this.byDelta.set(deltaIno, node);
    if (was !== deltaIno) this.changed(node.ino);
  }

  dropDelta(node: Node): void {
    if (node.delta === undefined) return;
    this.byDelta.delete(node.delta);
    node.delta = undefined;
    this.changed(node.ino);
  }

  delete(node: Node): void {
    if (this.byIno.get(node.ino) === node) this.byIno.delete(node.ino);
    if (node.delta !== undefined && this.byDelta.get(node.delta) === node) this.byDelta.delete(node.delta);
    this.changed(node.ino);
  }
}
