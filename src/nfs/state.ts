/**
 * What the NFS procedures of one server share: the filesystem, handles, verifiers, permission
 * checks and the group commit (changes of calls that arrive together share one transaction,
 * committed before any of their replies goes out).
 */
import { randomBytes } from 'node:crypto';
import { FsError, isFsError } from '../core/errors.js';
import { checkAccess } from '../core/fs/access.js';
import { isDir, type Attr, type Caller, type FileSystem } from '../core/types.js';
import { NFS3ERR, NfsError } from './errors.js';
import { Handles } from './handles.js';
import type { XdrReader } from './xdr.js';

/** Opens and commits a transaction spanning several calls (Store.beginBatch/commitBatch). */
export interface GroupCommit {
  begin(): boolean;
  commit(): void;
}

export const NFS3_FHSIZE = 64;

export class NfsState {
  readonly handles: Handles;
  /** fattr3 fsid: the database's generation */
  readonly fsid: Buffer;
  /** WRITE/COMMIT verifier: new at every server start, so clients resend unstable writes */
  readonly writeVerifier: Buffer = randomBytes(8);
  /** READDIR cookie verifier: cookies are dentry ids, valid as long as the database is */
  readonly cookieVerifier: Buffer;
  private groupOpen = false;

  constructor(
    readonly fs: FileSystem,
    generation: Buffer,
    private readonly group?: GroupCommit,
  ) {
    this.handles = new Handles(generation);
    this.fsid = generation;
    this.cookieVerifier = Buffer.from(generation);
  }

  /** Reads an nfs_fh3 and returns its inode (BADHANDLE / STALE as NfsError). */
  readHandle(r: XdrReader): number {
    const fh = r.opaque(NFS3_FHSIZE);
    return this.handles.decode(fh);
  }

  /** Attributes of the object a handle names: STALE when it no longer exists. */
  attrOf(ino: number): Attr {
    try {
      return this.fs.getattr(ino);
    } catch (e) {
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

  /** Called before a procedure changes anything: joins (or opens) the group transaction. */
  mutating(): void {
    if (this.groupOpen || !this.group) return;
    if (this.group.begin()) this.groupOpen = true;
  }

  /** Commits the group transaction, if one is open. */
  commit(): void {
    if (!this.groupOpen) return;
    this.groupOpen = false;
    this.group!.commit();
  }

  /** Commits and makes everything durable, as fsync of ino does (COMMIT, FILE_SYNC writes). */
  sync(ino: number): void {
    this.commit();
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
