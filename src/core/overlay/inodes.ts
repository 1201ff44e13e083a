import { FsError } from '../errors.js';

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

export class BaseInos {
  private readonly others = new Map<string, number>();
  private next = OTHER_DEVICE_INO_BASE;

  /** `dev`: the base root's device */
  constructor(private readonly dev: number) {}

  /** Whether a base entry lives on the base root's file system (its number is its own). */
  onBaseDevice(st: { dev?: number }): boolean {
    return st.dev === undefined || st.dev === this.dev;
  }

  /** The ino a base entry shows (an entry without a device is on the base root's). */
  of(st: { dev?: number; ino: number }): number {
    if (this.onBaseDevice(st)) return exposedBaseIno(st.ino);
    const key = `${st.dev}:${st.ino}`;
    let ino = this.others.get(key);
    if (ino === undefined) {
      ino = this.next++;
      this.others.set(key, ino);
    }
    return ino;
  }
}

export function exposedDeltaIno(deltaIno: number, originIno: number | undefined): number {
  return originIno !== undefined ? exposedBaseIno(originIno) : DELTA_INO_BASE + deltaIno;
}

export function isDeltaOnlyIno(ino: number): boolean {
  return ino > DELTA_INO_BASE;
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

  /** `ino`'s host file may have changed (undefined: every node's). */
  changed(ino?: number): void {
    for (const l of this.listeners) l(ino);
  }

  get(ino: number): Node | undefined {
    return this.byIno.get(ino);
  }

  must(ino: number, syscall: string): Node {
    const n = this.byIno.get(ino);
    if (!n) throw new FsError('ESTALE', syscall, String(ino), 'unknown inode (look it up first)');
    return n;
  }

  byDeltaIno(deltaIno: number): Node | undefined {
    return this.byDelta.get(deltaIno);
  }

  add(node: Node): Node {
    this.byIno.set(node.ino, node);
    if (node.delta !== undefined) this.byDelta.set(node.delta, node);
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
