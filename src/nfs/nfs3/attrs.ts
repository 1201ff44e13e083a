/** Attribute procedures: GETATTR, SETATTR, ACCESS, READLINK, FSSTAT, FSINFO, PATHCONF. */
import { FsError } from '../../core/errors.js';
import { checkAccess } from '../../core/fs/access.js';
import { isDir, isSymlink, NAME_MAX, R_OK, W_OK, X_OK, type Attr, type Caller, type SetAttr, type Timespec } from '../../core/types.js';
import { putPostOpAttr, putWcc, putFattr, readNfsTime, readSattr } from '../attrs.js';
import { NFS3ERR, NfsError } from '../errors.js';
import type { NfsState } from '../state.js';
import { requireDataAccess } from '../state.js';
import { inoOr, MAX_IO, ok, type Nfs3Proc } from './common.js';
import { FHSIZE3 } from '../handles.js';

interface FhArgs {
  fh: Buffer;
}

const readFh = (r: { opaque(max: number): Buffer }): FhArgs => ({ fh: r.opaque(FHSIZE3) });

/** post_op_attr of the handle's object, for the failure replies that carry one. */
function failAttr(s: NfsState, a: FhArgs, w: import('../xdr.js').XdrWriter): void {
  const ino = inoOr(s, a.fh);
  putPostOpAttr(w, ino === undefined ? undefined : s.tryAttr(ino), s.fsid);
}

export const getattr: Nfs3Proc<FhArgs> = {
  args: readFh,
  run(s, a, w) {
    const attr = s.attrOf(s.handles.decode(a.fh));
    ok(w);
    putFattr(w, attr, s.fsid);
  },
};

interface SetattrArgs extends FhArgs {
  changes: SetAttr;
  guard?: Timespec;
  before?: Attr;
}

/** Who may change what (the kernel's rules for chmod, chown, truncate and utimes). */
export function checkSetattr(a: Attr, c: SetAttr, caller: Caller): void {
  // sizes from the wire go up to 2^64-1; the largest file is FSINFO's maxfilesize (2^53-1)
  if (c.size !== undefined && !Number.isSafeInteger(c.size)) throw new FsError('EFBIG', 'setattr');
  if (caller.uid === 0) return;
  const owner = caller.uid === a.uid;
  if (c.uid !== undefined && c.uid !== a.uid) throw new FsError('EPERM', 'setattr');
  if (c.gid !== undefined && c.gid !== a.gid && !(owner && (caller.gid === c.gid || (caller.groups ?? []).includes(c.gid)))) {
    throw new FsError('EPERM', 'setattr');
  }
  if (c.mode !== undefined && !owner) throw new FsError('EPERM', 'setattr');
  if (c.size !== undefined) requireDataAccess(a, W_OK, caller);
  if (c.atime !== undefined || c.mtime !== undefined) {
    const toNow = (c.atime === undefined || c.atime === 'now') && (c.mtime === undefined || c.mtime === 'now');
    if (!owner && !(toNow && checkAccess(a, W_OK, caller))) throw new FsError(toNow ? 'EACCES' : 'EPERM', 'setattr');
  }
}

export const setattr: Nfs3Proc<SetattrArgs> = {
  args(r) {
    const fh = r.opaque(FHSIZE3);
    const changes = readSattr(r);
    const guard = r.bool() ? readNfsTime(r) : undefined;
    return { fh, changes, guard };
  },
  run(s, a, w, ctx) {
    const ino = s.handles.decode(a.fh);
    const before = (a.before = s.attrOf(ino));
    if (a.guard && (a.guard.sec !== before.ctime.sec || a.guard.nsec !== before.ctime.nsec)) {
      throw new NfsError(NFS3ERR.NOT_SYNC, 'ctime guard does not match');
    }
    checkSetattr(before, a.changes, ctx.caller);
    let after = before;
    if (Object.keys(a.changes).length) {
      s.mutating();
      // set-id bits a chown or a user's truncate drops: the core's (FileSystem.setattr)
      after = s.fs.setattr(ino, a.changes, ctx.caller);
    }
    ok(w);
    putWcc(w, before, after, s.fsid);
  },
  fail(s, a, w) {
    const ino = inoOr(s, a.fh);
    putWcc(w, a.before, ino === undefined ? undefined : s.tryAttr(ino), s.fsid);
  },
};

export const ACCESS3 = { READ: 1, LOOKUP: 2, MODIFY: 4, EXTEND: 8, DELETE: 0x10, EXECUTE: 0x20 } as const;

export const access: Nfs3Proc<FhArgs & { mask: number }> = {
  args(r) {
    const fh = r.opaque(FHSIZE3);
    return { fh, mask: r.uint32() };
  },
  run(s, a, w, ctx) {
    const attr = s.attrOf(s.handles.decode(a.fh));
    const dir = isDir(attr.mode);
    const can = (m: number): boolean => checkAccess(attr, m, ctx.caller);
    let allowed = 0;
    if (a.mask & ACCESS3.READ && can(R_OK)) allowed |= ACCESS3.READ;
    if (a.mask & ACCESS3.LOOKUP && dir && can(X_OK)) allowed |= ACCESS3.LOOKUP;
    if (a.mask & (ACCESS3.MODIFY | ACCESS3.EXTEND) && can(W_OK)) allowed |= a.mask & (ACCESS3.MODIFY | ACCESS3.EXTEND);
    if (a.mask & ACCESS3.DELETE && dir && can(W_OK | X_OK)) allowed |= ACCESS3.DELETE;
    if (a.mask & ACCESS3.EXECUTE && !dir && can(X_OK)) allowed |= ACCESS3.EXECUTE;
    ok(w);
    putPostOpAttr(w, attr, s.fsid);
    w.uint32(allowed);
  },
  fail: failAttr,
};

export const readlink: Nfs3Proc<FhArgs> = {
  args: readFh,
  run(s, a, w) {
    const ino = s.handles.decode(a.fh);
    const attr = s.attrOf(ino);
    if (!isSymlink(attr.mode)) throw new NfsError(NFS3ERR.INVAL, 'not a symbolic link');
    const target = s.fs.readlink(ino);
    ok(w);
    putPostOpAttr(w, attr, s.fsid);
    w.string(target);
  },
  fail: failAttr,
};

export const fsstat: Nfs3Proc<FhArgs> = {
  args: readFh,
  run(s, a, w) {
    const attr = s.attrOf(s.handles.decode(a.fh));
    const st = s.fs.statfs();
    ok(w);
    putPostOpAttr(w, attr, s.fsid);
    w.uint64(st.blocks * st.frsize).uint64(st.bfree * st.frsize).uint64(st.bavail * st.frsize);
    w.uint64(st.files).uint64(st.ffree).uint64(st.ffree);
    w.uint32(0); // invarsec: the numbers may change at any time
  },
  fail: failAttr,
};

const FSF3_LINK = 0x1;
const FSF3_SYMLINK = 0x2;
const FSF3_HOMOGENEOUS = 0x8;
const FSF3_CANSETTIME = 0x10;

export const fsinfo: Nfs3Proc<FhArgs> = {
  args: readFh,
  run(s, a, w) {
    const attr = s.attrOf(s.handles.decode(a.fh));
    ok(w);
    putPostOpAttr(w, attr, s.fsid);
    w.uint32(MAX_IO).uint32(MAX_IO).uint32(4096); // rtmax, rtpref, rtmult
    w.uint32(MAX_IO).uint32(MAX_IO).uint32(4096); // wtmax, wtpref, wtmult
    w.uint32(64 << 10); // dtpref
    w.uint64(Number.MAX_SAFE_INTEGER); // maxfilesize
    w.uint32(0).uint32(1); // time_delta: nanoseconds
    w.uint32(FSF3_LINK | FSF3_SYMLINK | FSF3_HOMOGENEOUS | FSF3_CANSETTIME);
  },
  fail: failAttr,
};

export const pathconf: Nfs3Proc<FhArgs> = {
  args: readFh,
  run(s, a, w) {
    const attr = s.attrOf(s.handles.decode(a.fh));
    ok(w);
    putPostOpAttr(w, attr, s.fsid);
    w.uint32(0xffffffff); // linkmax: nlink is a 64-bit column
    w.uint32(NAME_MAX);
    w.bool(true); // no_trunc: long names are refused, not cut
    w.bool(true); // chown_restricted
    w.bool(false); // case_insensitive
    w.bool(true); // case_preserving
  },
  fail: failAttr,
};
