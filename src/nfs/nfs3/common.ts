/** What the NFSv3 procedure modules share: the procedure wrapper, names, handles in replies. */
import type { Attr } from '../../core/types.js';
import { isStorageFault, NFS3ERR, NFS3_OK, NfsError, statusOf } from '../errors.js';
import type { CallContext, Procedure } from '../rpc.js';
import type { NfsState } from '../state.js';
import { putPostOpAttr, putWcc } from '../attrs.js';
import { XdrWriter, type XdrReader } from '../xdr.js';
import { FHSIZE3 } from '../handles.js';

/** READ and WRITE move at most this much per call (FSINFO rtmax/wtmax). */
export const MAX_IO = 1 << 20;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * One NFSv3 procedure: `args` decodes everything (malformed -> GARBAGE_ARGS, handled by the RPC
 * layer); `run` does the work and writes NFS3_OK and the resok body; when it throws, the status
 * and `fail`'s resfail body are sent instead. `run` may note what it learned in the args object
 * (attributes before a change) for `fail` to report.
 */
export interface Nfs3Proc<A> {
  args(r: XdrReader): A;
  run(s: NfsState, a: A, w: XdrWriter, ctx: CallContext): void;
  fail?(s: NfsState, a: A, w: XdrWriter): void;
}

export function procedure<A>(s: NfsState, p: Nfs3Proc<A>, onError?: (e: unknown) => void): Procedure {
  return (r, out, ctx) => {
    const a = p.args(r);
    const w = new XdrWriter();
    try {
      p.run(s, a, w, ctx);
      out.append(w);
    } catch (e) {
      let status = statusOf(e);
      if (status === undefined) {
        onError?.(e);
        status = NFS3ERR.SERVERFAULT;
      } else if (isStorageFault(e)) {
        onError?.(e);
      }
      const f = new XdrWriter().uint32(status);
      if (p.fail) {
        try {
          p.fail(s, a, f);
        } catch (e2) {
          onError?.(e2);
        }
      }
      out.append(f);
    }
  };
}

export function ok(w: XdrWriter): XdrWriter {
  return w.uint32(NFS3_OK);
}

/** A file name from the wire, as the core's text (INVAL when it is not UTF-8). */
export function nameOf(raw: Buffer): string {
  try {
    return utf8.decode(raw);
  } catch {
    throw new NfsError(NFS3ERR.INVAL, 'file name is not UTF-8');
  }
}

export interface DirOp {
  dir: Buffer;
  name: Buffer;
  /** the directory's attributes before the change, once known */
  before?: Attr;
}

/** diropargs3; names are bounded only by the record size here (the core says NAMETOOLONG). */
export function readDirOp(r: XdrReader): DirOp {
  const dir = r.opaque(FHSIZE3);
  const name = r.opaque();
  return { dir, name };
}

/** The inode of a handle, or undefined when it is not a usable one (for failure replies). */
export function inoOr(s: NfsState, fh: Buffer): number | undefined {
  try {
    return s.handles.decode(fh);
  } catch {
    return undefined;
  }
}

/** wcc_data of a directory for a failure reply: what is known before, what it is now. */
export function failWcc(s: NfsState, op: DirOp, w: XdrWriter): void {
  const ino = inoOr(s, op.dir);
  putWcc(w, op.before, ino === undefined ? undefined : s.tryAttr(ino), s.fsid);
}

export function putHandle(s: NfsState, w: XdrWriter, ino: number): void {
  w.opaque(s.handles.encode(ino));
}

/** post_op_fh3 + post_op_attr of a new object, then the directory's wcc_data (CREATE, MKDIR...). */
export function putCreated(s: NfsState, w: XdrWriter, attr: Attr, op: DirOp, dirIno: number): void {
  ok(w);
  w.bool(true);
  putHandle(s, w, attr.ino);
  putPostOpAttr(w, attr, s.fsid);
  putWcc(w, op.before, s.tryAttr(dirIno), s.fsid);
}
