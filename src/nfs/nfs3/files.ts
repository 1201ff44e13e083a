/** Data procedures: READ, WRITE, COMMIT. */
import { isDir, isReg, R_OK, W_OK, type Attr } from '../../core/types.js';
import { putPostOpAttr, putWcc } from '../attrs.js';
import { NFS3ERR, NfsError } from '../errors.js';
import { requireDataAccess, type NfsState } from '../state.js';
import { XdrError } from '../xdr.js';
import { inoOr, MAX_IO, ok, type Nfs3Proc } from './common.js';
import { FHSIZE3 } from '../handles.js';

export const UNSTABLE = 0;
export const DATA_SYNC = 1;
export const FILE_SYNC = 2;

/** A regular file's attributes (ISDIR / INVAL for anything else). */
function fileAttr(s: NfsState, ino: number): Attr {
  const a = s.attrOf(ino);
  if (isDir(a.mode)) throw new NfsError(NFS3ERR.ISDIR);
  if (!isReg(a.mode)) throw new NfsError(NFS3ERR.INVAL, 'not a regular file');
  return a;
}

interface ReadArgs {
  fh: Buffer;
  offset: number;
  count: number;
}

export const read: Nfs3Proc<ReadArgs> = {
  args(r) {
    const fh = r.opaque(FHSIZE3);
    const offset = r.uint64();
    return { fh, offset, count: r.uint32() };
  },
  run(s, a, w, ctx) {
    const ino = s.handles.decode(a.fh);
    const attr = fileAttr(s, ino);
    requireDataAccess(attr, R_OK, ctx.caller);
    // an offset beyond the largest file (up to 2^64-1 on the wire) reads nothing, at its end
    const data = Number.isSafeInteger(a.offset) ? s.fs.read(ino, a.offset, Math.min(a.count, MAX_IO)) : Buffer.alloc(0);
    ok(w);
    putPostOpAttr(w, attr, s.fsid);
    w.uint32(data.length);
    w.bool(a.offset + data.length >= attr.size);
    w.opaqueRef(data);
  },
  fail(s, a, w) {
    const ino = inoOr(s, a.fh);
    putPostOpAttr(w, ino === undefined ? undefined : s.tryAttr(ino), s.fsid);
  },
};

interface WriteArgs {
  fh: Buffer;
  offset: number;
  stable: number;
  data: Buffer;
  before?: Attr;
}

export const write: Nfs3Proc<WriteArgs> = {
  args(r) {
    const fh = r.opaque(FHSIZE3);
    const offset = r.uint64();
    const count = r.uint32();
    const stable = r.uint32();
    if (stable > FILE_SYNC) throw new XdrError(`bad stable_how ${stable}`);
    const data = r.opaque(MAX_IO);
    // count and the data's length must agree (RFC 1813 §3.3.7); extra data is not written
    if (count > data.length) throw new XdrError('WRITE count exceeds its data');
    return { fh, offset, stable, data: data.subarray(0, count) };
  },
  run(s, a, w, ctx) {
    const ino = s.handles.decode(a.fh);
    const before = (a.before = fileAttr(s, ino));
    requireDataAccess(before, W_OK, ctx.caller);
    if (!Number.isSafeInteger(a.offset + a.data.length)) throw new NfsError(NFS3ERR.FBIG, 'write beyond the largest file');
    s.mutating(a.data.length);
    // writing drops set-id bits unless root writes (the kernel's file_remove_privs): the core's
    const n = s.fs.write(ino, a.offset, a.data, ctx.caller);
    // UNSTABLE: committed within the group commit's few ms, made durable by COMMIT (a restart
    // changes the verifier, so the client resends); DATA_SYNC / FILE_SYNC: durable before the reply
    let committed = UNSTABLE;
    if (a.stable !== UNSTABLE) {
      s.sync(ino);
      committed = FILE_SYNC;
    }
    ok(w);
    putWcc(w, before, s.tryAttr(ino), s.fsid);
    w.uint32(n).uint32(committed).fixed(s.writeVerifier);
  },
  fail(s, a, w) {
    const ino = inoOr(s, a.fh);
    putWcc(w, a.before, ino === undefined ? undefined : s.tryAttr(ino), s.fsid);
  },
};

interface CommitArgs {
  fh: Buffer;
  before?: Attr;
}

export const commit: Nfs3Proc<CommitArgs> = {
  args(r) {
    const fh = r.opaque(FHSIZE3);
    r.uint64Big(); // offset and count: everything is committed at once
    r.uint32();
    return { fh };
  },
  run(s, a, w) {
    const ino = s.handles.decode(a.fh);
    const before = (a.before = s.attrOf(ino));
    s.sync(ino);
    ok(w);
    putWcc(w, before, s.tryAttr(ino), s.fsid);
    w.fixed(s.writeVerifier);
  },
  fail(s, a, w) {
    const ino = inoOr(s, a.fh);
    putWcc(w, a.before, ino === undefined ? undefined : s.tryAttr(ino), s.fsid);
  },
};
