import type { Store } from '../../store/index.js';
import type { Attr, FileSystem } from '../types.js';
import type { CopyRows, CopyRowsShape, CopySource } from '../fs/index.js';
import type { BaseReader } from './base.js';
import type { HiddenBase } from './hidden-base.js';
import type { BaseInos, NodeTable, Node } from './inodes.js';
import type { MergedPaths } from './merged-paths.js';
import type { Origins } from './origins.js';
import type { Whiteouts } from './whiteouts.js';

/** The delta: the FileSystem contract, plus the path of an inode (InodeFs has it). */
export type DeltaFs = FileSystem & {
  pathOf(ino: number): string | undefined;
  /** the inode a name in a delta directory names, if any (no attributes, no error) */
  childIno(parent: number, name: string): number | undefined;
  /** runs fn without journaling what it does (copy-up: the merged view does not change) */
  unobserved<T>(fn: () => T): T;
  /** a copy of a base file or directory made in one go, unjournaled, its parent's mtime kept */
  copyIn(parent: number, name: string, src: CopySource): Attr;
  /** copyIn of a regular file or directory as one statement with `rows` in it; undefined when it cannot be (nothing written) */
  copyInAlone(parent: number, name: string, src: CopySource, rows?: CopyRows): Attr | undefined;
  /** FileSystem.prepareWrites, and what copyInAlone takes for rows of this shape */
  prepareWrites?(copyRows?: CopyRowsShape): void;
};

/**
 * What the overlay's modules share: the two layers, the overlay's own tables, and what it
 * remembers in memory (the nodes it handed out, where they are).
 */
export interface OverlayParts {
  readonly store: Store;
  /** the writable layer, reached only through its FileSystem interface */
  readonly delta: DeltaFs;
  /** the read-only layer */
  readonly base: BaseReader;
  readonly whiteouts: Whiteouts;
  readonly origins: Origins;
  /** what base entries looked like when the overlay hid them */
  readonly hidden: HiddenBase;
  readonly nodes: NodeTable;
  readonly paths: MergedPaths;
  readonly root: Node;
  /** the inode numbers base entries show (entries of file systems mounted inside the base apart) */
  readonly baseInos: BaseInos;
}
