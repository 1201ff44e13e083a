/**
 * ENOENT for a request that names an inode and no name (GETATTR, OPEN, READ...) means the inode
 * itself is gone: another process (the CLI, the SDK) unlinked the file or renamed another over
 * it, and it was purged, while the kernel still held the name's old entry. ENOENT there is final
 * to the caller (`open` failed on a name that exists: 44 of 85,000 opens while an SDK renamed
 * over the name); ESTALE makes the VFS walk the path again once with LOOKUP_REVAL, which asks
 * the name anew and opens what it holds now, as NFS clients do.
 */
import { constants as osConstants } from 'node:os';
import { Op, type OpCode } from './requests.js';

const ENOENT = osConstants.errno.ENOENT;
const ESTALE = osConstants.errno.ESTALE;

const BY_INODE: ReadonlySet<OpCode> = new Set<OpCode>([
  Op.GETATTR, Op.SETATTR, Op.READLINK, Op.OPEN, Op.READ, Op.WRITE, Op.FSYNC, Op.OPENDIR, Op.READDIR, Op.READDIRPLUS,
  Op.FSYNCDIR, Op.ACCESS, Op.FALLOCATE,
]);

/** The errno the kernel is given for `errno` from a request of kind `op`. */
export function errnoForKernel(op: OpCode, errno: number): number {
  return errno === ENOENT && BY_INODE.has(op) ? ESTALE : errno;
}
