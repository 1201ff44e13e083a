/**
 * What the NFS procedures of one server share: the filesystem, handles, verifiers, attribute
 * look-ups that turn a vanished inode into STALE, the group commit and permission checks.
 */
import { randomBytes } from 'node:crypto';
import { FsError, isFsError } from '../core/errors.js';
import { checkAccess } from '../core/fs/access.js';
import { isDir, type Attr, type Caller, type FileSystem } from '../core/types.js';
import { NFS3ERR, NfsError } from './errors.js';
import { GroupCommitter, type GroupCommit } from './group-commit.js';
import { Handles } from './handles.js';
import { InodeKnowledge } from './inodes.js';

export class NfsState {
  readonly handles: Handles;
  /** fattr3 fsid: the database's generation */
  readonly fsid: Buffer;
  /**
   * WRITE/COMMIT verifier: new at every server start, and after a group commit failed (rolling
   * back UNSTABLE writes already answered), so clients resend the unstable writes they hold
   */
  readonly writeVerifier: Buffer = randomBytes(8);
  /** READDIR cookie verifier: cookies are dentry ids, valid as long as the database is */
  readonly cookieVerifier: Buffer;
  readonly group: GroupCommitter;
  private readonly known: InodeKnowledge;

  constructor(
    readonly fs: FileSystem,
    generation: Buffer,
    group?: GroupCommit,
    /** longest a change waits for its commit (default 10 ms); 0: before the replies of its burst */
    groupCommitMs?: number,
    onCommitError?: (e: unknown) => void,
  ) {
    this.handles = new Handles(generation);
    this.fsid = generation;
    this.cookieVerifier = Buffer.from(generation);
    this.group = new GroupCommitter(group, groupCommitMs, onCommitError, () => randomBytes(8).copy(this.writeVerifier));
    this.known = new InodeKnowledge(fs);
  }

  /** Notes that dir is a directory inside parent (mkdir, lookup, readdirplus). */
  rememberParent(dir: number, parent: number): void {
    this.known.rememberParent(dir, parent);
  }

  /**
   * The attributes of '..' of dir: the core looks it up where it can (the inode filesystem); the
   * overlay cannot, so the parent learned from earlier lookups serves, else dir itself.
   */
  parentAttr(dir: number, dirAttr: Attr): Attr {
    try {
      return this.fs.lookup(dir, '..');
    } catch {
      const p = this.known.parentOf(dir);
      return (p !== undefined && this.tryAttr(p)) || dirAttr;
    }
  }

  /** Attributes of the object a handle names: STALE when it no longer exists. */
  attrOf(ino: number): Attr {
    try {
      return this.fs.getattr(ino);
    } catch (e) {
      if (isFsError(e, 'ESTALE') && this.known.relocate(ino)) return this.fs.getattr(ino);
      if (isFsError(e, 'ENOENT') || isFsError(e, 'ESTALE')) throw new NfsError(NFS3ERR.STALE, `inode ${ino} is gone`);
      throw e;
    }
  }

  /** Attributes for a reply's post-op fields; undefined when they cannot be had. */
  tryAttr(ino: number): Attr | undefined {
    try {
      return this.fs.getattr(ino);
    } catch {
      return undefined;
    }
  }

  /** A directory handle's attributes (NOTDIR when it is not one). */
  dirAttr(ino: number): Attr {
    const a = this.attrOf(ino);
    if (!isDir(a.mode)) throw new NfsError(NFS3ERR.NOTDIR);
    return a;
  }

  /** Before a procedure changes anything (with the bytes it writes): see GroupCommitter. */
  mutating(bytes = 0): void {
    this.group.mutating(bytes);
  }

  /** Commits and makes everything durable, as fsync of ino does (COMMIT, FILE_SYNC writes). */
  sync(ino: number): void {
    this.group.commit();
    this.fs.fsync(ino, false);
  }
}

/** EACCES unless caller has mask on a (root passes, as in the core's access()). */
export function requireAccess(a: Attr, mask: number, caller: Caller): void {
  if (!checkAccess(a, mask, caller)) throw new FsError('EACCES', 'access');
}

/** Like requireAccess, but the owner may always read and write their file (as knfsd does). */
export function requireDataAccess(a: Attr, mask: number, caller: Caller): void {
  if (caller.uid === a.uid) return;
  requireAccess(a, mask, caller);
}

