/** nfsstat3 (RFC 1813 §2.6) and the one-for-one mapping from our errno codes. */
import { FsError, type ErrnoCode } from '../core/errors.js';
import { StoreError } from '../store/errors.js';

export const NFS3_OK = 0;
export const NFS3ERR = {
  PERM: 1,
  NOENT: 2,
  IO: 5,
  NXIO: 6,
  ACCES: 13,
  EXIST: 17,
  XDEV: 18,
  NODEV: 19,
  NOTDIR: 20,
  ISDIR: 21,
  INVAL: 22,
  FBIG: 27,
  NOSPC: 28,
  ROFS: 30,
  MLINK: 31,
  NAMETOOLONG: 63,
  NOTEMPTY: 66,
  DQUOT: 69,
  STALE: 70,
  REMOTE: 71,
  BADHANDLE: 10001,
  NOT_SYNC: 10002,
  BAD_COOKIE: 10003,
  NOTSUPP: 10004,
  TOOSMALL: 10005,
  SERVERFAULT: 10006,
  BADTYPE: 10007,
  JUKEBOX: 10008,
} as const;

/** Every errno the core raises has its status (the compiler checks the table is complete). */
const BY_CODE: Record<ErrnoCode, number> = {
  EPERM: NFS3ERR.PERM,
  ENOENT: NFS3ERR.NOENT,
  EIO: NFS3ERR.IO,
  EBADF: NFS3ERR.BADHANDLE,
  EACCES: NFS3ERR.ACCES,
  EEXIST: NFS3ERR.EXIST,
  EXDEV: NFS3ERR.XDEV,
  ENOTDIR: NFS3ERR.NOTDIR,
  EISDIR: NFS3ERR.ISDIR,
  EINVAL: NFS3ERR.INVAL,
  EFBIG: NFS3ERR.FBIG,
  ENOSPC: NFS3ERR.NOSPC,
  EROFS: NFS3ERR.ROFS,
  EMLINK: NFS3ERR.MLINK,
  ENAMETOOLONG: NFS3ERR.NAMETOOLONG,
  ENOTEMPTY: NFS3ERR.NOTEMPTY,
  // NFSv3 has no ELOOP; a symlink where a directory must be is "not a directory"
  ELOOP: NFS3ERR.NOTDIR,
  ENOSYS: NFS3ERR.NOTSUPP,
  ENOTSUP: NFS3ERR.NOTSUPP,
  ENODATA: NFS3ERR.NOENT,
  ERANGE: NFS3ERR.INVAL,
  // a name that is not UTF-8: NFSv3 has no EILSEQ; knfsd answers such names INVAL too
  EILSEQ: NFS3ERR.INVAL,
  // the core's EBUSY is permanent (renaming '..' or the root): not JUKEBOX, which clients retry
  EBUSY: NFS3ERR.INVAL,
  // temporarily unavailable: "try again later"
  EAGAIN: NFS3ERR.JUKEBOX,
  ENOTCONN: NFS3ERR.IO,
  ESTALE: NFS3ERR.STALE,
};

/** A failed NFS procedure: its nfsstat3. */
export class NfsError extends Error {
  constructor(
    readonly status: number,
    message = `nfsstat3 ${status}`,
  ) {
    super(message);
    this.name = 'NfsError';
  }
}

/** The nfsstat3 for anything a procedure threw; undefined for a bug (the caller reports it). */
export function statusOf(e: unknown): number | undefined {
  if (e instanceof NfsError) return e.status;
  if (e instanceof FsError) return BY_CODE[e.code] ?? NFS3ERR.IO;
  // served read-only (a database this process may not write)
  if (e instanceof StoreError && e.code === 'read-only') return NFS3ERR.ROFS;
  const code = (e as { code?: unknown })?.code;
  if (typeof code !== 'string') return undefined;
  // busy/locked: another process holds the write lock past the timeout
  if (/^SQLITE_(BUSY|LOCKED)/.test(code)) return NFS3ERR.JUKEBOX;
  // the database file is read-only to this process: a read-only filesystem to the client
  if (/^SQLITE_READONLY/.test(code)) return NFS3ERR.ROFS;
  // the disk holding the database is full
  if (code === 'SQLITE_FULL') return NFS3ERR.NOSPC;
  if (isStorageFault(e)) return NFS3ERR.IO;
  return undefined;
}

/** A damaged database or failing disk: the call gets IO, and the server says so on stderr. */
export function isStorageFault(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && /^SQLITE_(CORRUPT|IOERR|NOTADB)/.test(code);
}
