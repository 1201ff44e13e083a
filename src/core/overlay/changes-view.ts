import type { FileSystem } from '../types.js';
import type { BaseReader } from './base.js';
import { adoptBaseRoot } from './base-root.js';
import type { BaseRenames } from './base-rename.js';
import type { Node } from './inodes.js';
import type { Found, MergedLookup } from './lookup.js';
import type { HiddenRecord } from './hidden-base.js';
import type { CopyUpRecord } from './origins.js';
import type { DeltaFs, OverlayParts } from './parts.js';
import type { DeltaEntry, DeltaRevert } from './revert.js';
import type { OverlayTransactions } from './transaction.js';

/**
 * What the change engine (diff, patch, commit, discard in core/changes) sees of an overlay: both
 * layers, where merged entries come from, and the few ways to take changes back. Nothing else of
 * the overlay's insides is reachable from outside it.
 */
export interface OverlayChanges {
  /** the merged view itself (getattr, read, readlink, readdir of the inos below) */
  readonly merged: FileSystem;
  /** the base directory, read-only (commit writes it through its own BaseWriter) */
  readonly base: BaseReader;
  /** the delta, through its FileSystem interface */
  readonly delta: DeltaFs;

  /** the merged root */
  root(): Found;
  /** the entry `name` of a merged directory, or undefined */
  entry(parent: Node, name: string): Found | undefined;
  /** the entry at an overlay path ('/a/b'), symlinks not followed, or undefined */
  resolve(path: string): Found | undefined;
  /** the base path a merged entry shows from, or null (opaque, or no base layer) */
  basePathOf(node: Node): string | null;
  /** whether a base path is kept out of the merged view */
  hides(basePath: string): boolean;

  /** whiteouts strictly below an overlay directory, with their creation times */
  whiteoutsUnder(dir: string): { path: string; createdAt: number }[];
  /** when the whiteout at `path` was made (seconds), if there is one */
  whiteoutTime(path: string): number | undefined;
  /** removes the whiteout at `path` */
  dropWhiteout(path: string): void;
  /** removes the whiteout at `path` and all below it */
  clearWhiteouts(path: string): void;
  /** what the base entry hidden at overlay path `path` looked like when it was first hidden there */
  hiddenAt(path: string): HiddenRecord | undefined;
  /** the hidden-entry record of the base entry at base path `basePath`, wherever it was hidden */
  hiddenFrom(basePath: string): HiddenRecord | undefined;
  /** the hidden-entry records of base inode `ino` (every name of a hard-linked file hidden here) */
  hiddenLinks(ino: number): HiddenRecord[];
  /** commit removed or replaced a name of hard-linked base file `ino`: the others' records follow their ctime */
  hiddenRelinked(ino: number): void;
  /** forgets the hidden-entry records at `path` and below (commit or discard settled them) */
  dropHidden(path: string): void;
  /** the base file's state when the delta inode was copied up from it */
  copyUpRecord(deltaIno: number): CopyUpRecord | undefined;
  /** the copy-up records made from the base file at a base path (a file moved away: its copy) */
  copiedFrom(basePath: string): CopyUpRecord[];
  /** the delta inodes that have a copy-up record */
  copiedUp(): Set<number>;
  /** delta directories that show another base directory than the one at their path (null: opaque) */
  redirects(): { deltaIno: number; basePath: string | null }[];
  /** the overlay path of a delta inode (its first name) */
  deltaPathOf(deltaIno: number): string | undefined;
  /**
   * commit wrote delta directory `deltaIno` whole into the base at its own path: it shows that
   * base directory from now on (its redirect, or its opacity, goes)
   */
  baseHoldsDir(deltaIno: number): void;

  /** the delta entry at an overlay path */
  deltaEntryAt(path: string): DeltaEntry | undefined;
  /** takes the delta entry at `path` out (see DeltaRevert.drop); the overlay shows the base there again */
  dropDeltaEntry(path: string, recursive: boolean): boolean;
  /**
   * dropDeltaEntry for an entry the base now holds as the delta did (commit): the merged view does
   * not change, so the journal records nothing (the session did not remove the file)
   */
  settleDeltaEntry(path: string): boolean;
  /** the root shows the base root's attributes again */
  resetRoot(): void;
  /** commit is about to rename base directory `from` to `to` */
  beginBaseRename(from: string, to: string): void;
  /** commit renamed base directory `from` to `to`: the overlay follows it */
  baseRenamed(from: string, to: string): void;
  /** one transaction over the delta and the overlay's tables */
  transaction<T>(fn: () => T): T;
}

/** The overlay's OverlayChanges, composed of its modules. */
export class ChangesView implements OverlayChanges {
  constructor(
    readonly merged: FileSystem,
    private readonly o: OverlayParts,
    private readonly lookup: MergedLookup,
    private readonly revert: DeltaRevert,
    private readonly renames: BaseRenames,
    private readonly tx: OverlayTransactions,
  ) {}

  get base(): BaseReader {
    return this.o.base;
  }

  get delta(): DeltaFs {
    return this.o.delta;
  }

  root(): Found {
    return { node: this.o.root, attr: this.lookup.attrOf(this.o.root) };
  }

  entry(parent: Node, name: string): Found | undefined {
    return this.lookup.find(parent, name);
  }

  resolve(path: string): Found | undefined {
    return this.lookup.resolve(path);
  }

  basePathOf(node: Node): string | null {
    return this.o.paths.basePathOf(node);
  }

  hides(basePath: string): boolean {
    return this.o.paths.isHidden(basePath);
  }

  whiteoutsUnder(dir: string): { path: string; createdAt: number }[] {
    return this.o.whiteouts.under(dir);
  }

  whiteoutTime(path: string): number | undefined {
    return this.o.whiteouts.createdAt(path);
  }

  dropWhiteout(path: string): void {
    this.o.whiteouts.remove(path);
  }

  clearWhiteouts(path: string): void {
    this.o.whiteouts.remove(path);
    this.o.whiteouts.removeUnder(path);
  }

  hiddenAt(path: string): HiddenRecord | undefined {
    return this.o.hidden.at(path);
  }

  hiddenFrom(basePath: string): HiddenRecord | undefined {
    return this.o.hidden.of(basePath);
  }

  hiddenLinks(ino: number): HiddenRecord[] {
    return this.o.hidden.withIno(ino);
  }

  hiddenRelinked(ino: number): void {
    this.o.hidden.relinked(ino, (p) => {
      this.o.base.forget(p);
      return this.o.base.lstat(p);
    });
  }

  dropHidden(path: string): void {
    this.o.hidden.drop(path);
  }

  copyUpRecord(deltaIno: number): CopyUpRecord | undefined {
    return this.o.origins.copyUp(deltaIno);
  }

  copiedFrom(basePath: string): CopyUpRecord[] {
    return this.o.origins.copiedFrom(basePath);
  }

  copiedUp(): Set<number> {
    return this.o.origins.copiedUp();
  }

  redirects(): { deltaIno: number; basePath: string | null }[] {
    return this.o.origins.redirects();
  }

  deltaPathOf(deltaIno: number): string | undefined {
    return this.o.delta.pathOf(deltaIno);
  }

  baseHoldsDir(deltaIno: number): void {
    this.o.origins.dropRedirect(deltaIno);
    // every cached base path below it named the old one
    this.o.paths.invalidate();
  }

  deltaEntryAt(path: string): DeltaEntry | undefined {
    return this.revert.entryAt(path);
  }

  dropDeltaEntry(path: string, recursive: boolean): boolean {
    return this.revert.drop(path, recursive);
  }

  settleDeltaEntry(path: string): boolean {
    return this.o.delta.unobserved(() => this.revert.drop(path, false));
  }

  resetRoot(): void {
    adoptBaseRoot(this.o, true);
  }

  beginBaseRename(from: string, to: string): void {
    this.renames.begin(from, to);
  }

  baseRenamed(from: string, to: string): void {
    this.renames.done(from, to);
  }

  transaction<T>(fn: () => T): T {
    return this.tx.run(fn);
  }
}
