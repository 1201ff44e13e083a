import { FsError } from '../errors.js';
import type { Caller, FileSystem } from '../types.js';
import { COPY_IN_ALONE_BYTES } from '../fs/index.js';
import { ROOT_CALLER, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../types.js';
import type { BaseReader } from './base.js';
import { sameTime, type HostStat } from './host-stat.js';
import type { Node } from './inodes.js';
import type { MergedLookup } from './lookup.js';
import type { DeltaFs, OverlayParts } from './parts.js';
import type { OverlayTransactions } from './transaction.js';

const COPY_CHUNK = 1 << 20;

/**
 * Creates in the delta, under directory `deltaParent` as `name`, a copy of the base entry at
 * `basePath` (type, content up to `keepBytes`, symlink target, mode, owner, times) and returns its
 * delta inode. The caller records the origin and runs this inside a transaction.
 */
export function copyUpEntry(
  delta: FileSystem,
  base: BaseReader,
  basePath: string,
  st: HostStat,
  deltaParent: number,
  name: string,
  keepBytes = Infinity,
): number {
  const mode = st.mode;
  const type = mode & S_IFMT;
  let ino: number;
  switch (type) {
    case S_IFDIR:
      ino = delta.mkdir(deltaParent, name, mode & 0o7777, ROOT_CALLER).ino;
      break;
    case S_IFREG: {
      ino = delta.create(deltaParent, name, mode & 0o7777, ROOT_CALLER).ino;
      const size = Math.min(st.size, keepBytes);
      for (let off = 0; off < size; off += COPY_CHUNK) {
        const buf = base.read(basePath, off, Math.min(COPY_CHUNK, size - off));
        if (buf.length === 0) break;
        delta.write(ino, off, buf);
      }
      break;
    }
    case S_IFLNK:
      ino = delta.symlink(deltaParent, name, base.readlink(basePath), ROOT_CALLER).ino;
      break;
    default:
      ino = delta.mknod(deltaParent, name, mode, st.rdev, ROOT_CALLER).ino;
  }
  if (type === S_IFLNK) {
    delta.setattr(ino, { uid: st.uid, gid: st.gid, atime: { ...st.atime }, mtime: { ...st.mtime } });
  } else {
    delta.setattr(ino, {
      mode: mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      atime: { ...st.atime },
      mtime: { ...st.mtime },
    });
  }
  if (type === S_IFREG && keepBytes === Infinity) {
    const got = delta.getattr(ino).size;
    if (got !== st.size) throw new FsError('EIO', 'copy-up', basePath, 'base file changed size during copy-up');
  }
  return ino;
}

/** An append that a copy-up may make in the copy's own rows (CopyUp.ensureDelta); `at`: where it went. */
export interface Appending {
  data: Uint8Array;
  caller?: Caller;
  at?: number;
}

/** The content a copy of base file `basePath` keeps: up to keepBytes, all of it unless it changed size meanwhile. */
function readContent(base: BaseReader, basePath: string, st: HostStat, keepBytes: number): Buffer {
  const size = Math.min(st.size, keepBytes);
  const content = size > 0 ? base.read(basePath, 0, size) : Buffer.alloc(0);
  if (keepBytes === Infinity && content.length !== st.size) throw new FsError('EIO', 'copy-up', basePath, 'base file changed size during copy-up');
  return content;
}

/**
 * copyUpEntry for a copy-up, which changes no listing: the parent keeps its modification time.
 * A directory, and a file whose copied content fits one read, are made in one go (copyIn), with
 * `append`'s data after the content when that fits the read too (copyIn's `then`: the write is
 * journaled as an append to the copy would be). The copy itself is not journaled. `read`: the
 * content, read already.
 */
function copyUpQuietly(
  delta: DeltaFs,
  base: BaseReader,
  basePath: string,
  st: HostStat,
  deltaParent: number,
  name: string,
  keepBytes: number,
  append?: Appending,
  read?: Buffer,
): number {
  const type = st.mode & S_IFMT;
  const size = Math.min(st.size, keepBytes);
  if (type === S_IFDIR || (type === S_IFREG && size <= COPY_CHUNK)) {
    const src = { mode: st.mode, uid: st.uid, gid: st.gid, atime: { ...st.atime }, mtime: { ...st.mtime } };
    if (type === S_IFDIR) return delta.copyIn(deltaParent, name, src).ino;
    const content = read ?? readContent(base, basePath, st, keepBytes);
    const then = append && size + append.data.byteLength <= COPY_CHUNK ? append : undefined;
    const ino = delta.copyIn(deltaParent, name, { ...src, content, then }).ino;
    if (then) then.at = content.length;
    return ino;
  }
  // the general route's create, write and setattr are the copy's, not the agent's: unjournaled
  return delta.unobserved(() => {
    const { mtime } = delta.getattr(deltaParent);
    const made = copyUpEntry(delta, base, basePath, st, deltaParent, name, keepBytes);
    delta.setattr(deltaParent, { mtime });
    return made;
  });
}

/** Copy-up: a node of the merged view gets its delta inode (copied from the base first if need be). */
export class CopyUp {
  constructor(
    private readonly o: OverlayParts,
    private readonly lookup: MergedLookup,
    private readonly tx: OverlayTransactions,
  ) {}

  /**
   * The node's delta inode, copying it (and its parent directories) up from the base first.
   * `append`: the write the copy is made for, made in the copy when it can be (then `append.at`
   * says where it went; else the caller appends to the copy).
   */
  ensureDelta(node: Node, keepBytes = Infinity, append?: Appending): number {
    if (node.delta !== undefined) return node.delta;
    if (!node.parent) throw new FsError('ESTALE', 'copy-up', undefined, 'no parent known for this inode');
    // its copy would take (or clash with) the name it lost (the removed name came back): ESTALE,
    // and an open through another name finds that name again (the kernel looks it up anew)
    if (node.nameTaken) throw new FsError('ESTALE', 'copy-up', this.o.paths.pathOf(node), 'the file lost the name it was seen at');
    // the same when another process removed that name (`agentfs fs rm` of a file the command
    // holds open, seen as a whiteout once the change watcher told us): a write through the handle
    // copied it back under the removed name
    const path = this.o.paths.pathOf(node);
    if (this.o.whiteouts.has(path)) {
      node.nameTaken = true;
      throw new FsError('ESTALE', 'copy-up', path, 'the file lost the name it was seen at');
    }
    const { base, origins } = this.o;
    const bp = this.o.paths.basePathOf(node);
    const st = bp === null ? undefined : base.lstat(bp);
    if (!st || bp === null) throw new FsError('ESTALE', 'copy-up', path, 'the base file is gone');
    // the host put another kind of file at its name (a directory where the kernel holds a regular
    // file open): a file never changes type, so that is not this node's file, and copying it in
    // would hide the host's later file at that name, and `commit` write it back over that file.
    // Checked before the directories above it are copied up: a refused copy-up leaves none
    if ((st.mode & S_IFMT) !== (node.type & S_IFMT)) throw new FsError('ESTALE', 'copy-up', path, 'the base file was replaced by another kind of file');
    const parentDelta = this.ensureDelta(node.parent);
    const alone = this.copyAlone(node, bp, st, parentDelta, keepBytes, append);
    const d =
      typeof alone === 'number'
        ? alone
        : this.tx.run(() => {
            // Another process (a second mount, the CLI) may have copied it up since this node was
            // seen: use that copy; a second copy-up would fail (EEXIST) or shadow its changes.
            const theirs = this.lookup.deltaChild(parentDelta, node.name);
            if (theirs !== undefined && this.isCopyOf(theirs, node)) return theirs;
            // A copy-up changes no listing: the parent keeps its modification time (kernel overlayfs
            // restores it too), so the kernel's cached listing of it stays valid (git status after
            // edits relisted every directory an edit had copied a file up in).
            // Nor is it a change the agent made: the journal hears only what follows it
            const ino = copyUpQuietly(this.o.delta, base, bp, st, parentDelta, node.name, keepBytes, append, alone);
            origins.record(ino, bp, st, this.o.baseInos.onBaseDevice(st));
            return ino;
          });
    node.baseBirth = st.birth;
    this.adopted(node, d);
    for (; node.baseOpens > 0; node.baseOpens--) this.o.delta.open(d, 2);
    base.forget(bp);
    return d;
  }

  /**
   * The copy of a directory, or of a small regular file with its append, and its origin rows, as
   * one statement (InodeFs.copyInAlone): no savepoint, no lookup of the name first (a copy another
   * process made takes the name, and the statement then writes nothing). The copy's inode; else
   * the content when it was read (the transaction route copies it), undefined when it was not.
   */
  private copyAlone(node: Node, bp: string, st: HostStat, parentDelta: number, keepBytes: number, append?: Appending): number | Buffer | undefined {
    const type = st.mode & S_IFMT;
    const size = Math.min(st.size, keepBytes);
    if (type !== S_IFDIR && (type !== S_IFREG || size + (append?.data.byteLength ?? 0) > COPY_IN_ALONE_BYTES)) return undefined;
    const content = type === S_IFDIR ? undefined : readContent(this.o.base, bp, st, keepBytes);
    const src = { mode: st.mode, uid: st.uid, gid: st.gid, atime: { ...st.atime }, mtime: { ...st.mtime }, content, then: append };
    const rows = this.o.origins.rowsOfCopy(bp, st, this.o.baseInos.onBaseDevice(st));
    const made = this.tx.alone(() => this.o.delta.copyInAlone(parentDelta, node.name, src, rows));
    if (!made) return content;
    if (append && content) append.at = content.length;
    return made.ino;
  }

  /** Whether delta inode `theirs` is a copy of the base file `node` shows (its number and birth time). */
  private isCopyOf(theirs: number, node: Node): boolean {
    const origin = this.o.origins.origin(theirs);
    if (!origin || origin.ino !== node.baseIno) return false;
    return origin.birth === undefined || node.baseBirth === undefined || sameTime(origin.birth, node.baseBirth);
  }

  /** The node now lives in the delta as `deltaIno` (undone if the transaction fails). */
  adopted(node: Node, deltaIno: number): void {
    this.o.nodes.setDelta(node, deltaIno);
    this.tx.copiedUp(node);
  }
}
