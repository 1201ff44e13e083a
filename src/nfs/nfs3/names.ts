/** Namespace procedures: LOOKUP, CREATE, MKDIR, SYMLINK, MKNOD, REMOVE, RMDIR, RENAME, LINK. */
import { FsError, isFsError } from '../../core/errors.js';
import { isDir, isReg, S_IFMT, S_IFREG, W_OK, X_OK, type Attr, type Caller, type SetAttr } from '../../core/types.js';
import { makeDev, modeTypeOf, NF3BLK, NF3CHR, NF3FIFO, NF3SOCK, putPostOpAttr, putWcc, readSattr } from '../attrs.js';
import { NFS3ERR, NfsError } from '../errors.js';
import { requireAccess, type NfsState } from '../state.js';
import { XdrError, type XdrReader, type XdrWriter } from '../xdr.js';
import { checkSetattr } from './attrs.js';
import { failWcc, inoOr, nameOf, ok, putCreated, putHandle, readDirOp, type DirOp, type Nfs3Proc } from './common.js';
import { FHSIZE3 } from '../handles.js';

export const lookup: Nfs3Proc<DirOp> = {
  args: readDirOp,
  run(s, a, w, ctx) {
    const dir = s.handles.decode(a.dir);
    const dirAttr = (a.before = s.dirAttr(dir));
    requireAccess(dirAttr, X_OK, ctx.caller);
    const name = nameOf(a.name);
    const attr = name === '.' ? dirAttr : name === '..' ? s.parentAttr(dir, dirAttr) : s.fs.lookup(dir, name);
    if (isDir(attr.mode) && name !== '.' && name !== '..') s.rememberParent(attr.ino, dir);
    ok(w);
    putHandle(s, w, attr.ino);
    putPostOpAttr(w, attr, s.fsid);
    putPostOpAttr(w, dirAttr, s.fsid);
  },
  fail(s, a, w) {
    putPostOpAttr(w, a.before, s.fsid);
  },
};

/** Checks the directory and returns its inode, with its attributes noted for the wcc data. */
function writableDir(s: NfsState, a: DirOp, caller: Caller): number {
  const dir = s.handles.decode(a.dir);
  a.before = s.dirAttr(dir);
  requireAccess(a.before, W_OK | X_OK, caller);
  return dir;
}

/** Sets what a create's sattr3 asked for beyond the mode (owner, size, times). */
function applyRest(s: NfsState, attr: Attr, sattr: SetAttr, caller: Caller): Attr {
  const { mode: _mode, ...rest } = sattr;
  if (!Object.keys(rest).length) return attr;
  checkSetattr(attr, rest, caller);
  return s.fs.setattr(attr.ino, rest, caller);
}

/**
 * The common end of MKDIR, SYMLINK and MKNOD: the sattr3 is checked before anything is made,
 * `make` makes the object (with the mode), then the rest of the sattr3 is applied.
 */
function makeNew(s: NfsState, a: DirOp, w: XdrWriter, caller: Caller, dir: number, sattr: SetAttr, make: () => Attr): void {
  precheckNew(a.before!, sattr, caller);
  s.mutating();
  const attr = applyRest(s, make(), sattr, caller);
  putCreated(s, w, attr, a, dir);
}

/** A directory moved to another parent has its '..' changed: it must be writable (as in rename(2)). */
function requireMovableDir(s: NfsState, dir: number, name: string, caller: Caller): void {
  let entry: Attr;
  try {
    entry = s.fs.lookup(dir, name);
  } catch {
    return; // no such entry: the rename itself says so
  }
  if (isDir(entry.mode)) requireAccess(entry, W_OK, caller);
}

const S_ISGID = 0o2000;
const S_ISVTX = 0o1000;

/**
 * Refuses, before anything is made, the sattr3 a new object could not take (an owner the caller
 * may not give it...): made first and refused after, the object would stay while the client is
 * told the call failed.
 */
function precheckNew(dirAttr: Attr, sattr: SetAttr, caller: Caller): void {
  const { mode: _mode, ...rest } = sattr;
  if (!Object.keys(rest).length) return;
  const gid = dirAttr.mode & S_ISGID ? dirAttr.gid : caller.gid;
  checkSetattr({ ...dirAttr, uid: caller.uid, gid, mode: S_IFREG | 0o600 }, rest, caller);
}

/**
 * The sticky bit of a directory (/tmp): only root, the directory's owner or the entry's owner may
 * remove or rename the entry away (EPERM, as unlink(2) and rename(2)).
 */
function requireNotSticky(s: NfsState, dirAttr: Attr, name: string, caller: Caller): void {
  if (!(dirAttr.mode & S_ISVTX) || caller.uid === 0 || caller.uid === dirAttr.uid) return;
  let entry: Attr;
  try {
    entry = s.fs.lookup(dirAttr.ino, name);
  } catch {
    return; // no such entry: the operation itself says so
  }
  if (entry.uid !== caller.uid) throw new FsError('EPERM', 'sticky directory');
}

const UNCHECKED = 0;
const GUARDED = 1;
const EXCLUSIVE = 2;

interface CreateArgs extends DirOp {
  how: number;
  sattr: SetAttr;
  verifier?: Buffer;
}

export const create: Nfs3Proc<CreateArgs> = {
  args(r) {
    const op = readDirOp(r);
    const how = r.uint32();
    if (how === EXCLUSIVE) return { ...op, how, sattr: {}, verifier: Buffer.from(r.fixed(8)) };
    if (how !== UNCHECKED && how !== GUARDED) throw new XdrError(`bad createmode3 ${how}`);
    return { ...op, how, sattr: readSattr(r) };
  },
  run(s, a, w, ctx) {
    const dir = writableDir(s, a, ctx.caller);
    const name = nameOf(a.name);
    // refused before the file is made (the size is applied after)
    if (a.sattr.size !== undefined && !Number.isSafeInteger(a.sattr.size)) throw new FsError('EFBIG', 'create');
    if (a.how !== EXCLUSIVE) precheckNew(a.before!, a.sattr, ctx.caller);
    s.mutating();
    let attr: Attr;
    if (a.how === EXCLUSIVE) {
      // the verifier is kept in the new file's times (as knfsd does) until the client's SETATTR,
      // so a retransmitted CREATE is recognised as the same one
      const atime = { sec: a.verifier!.readUInt32BE(0), nsec: 0 };
      const mtime = { sec: a.verifier!.readUInt32BE(4), nsec: 0 };
      try {
        attr = s.fs.create(dir, name, 0o600, ctx.caller);
        attr = s.fs.setattr(attr.ino, { atime, mtime }, ctx.caller);
      } catch (e) {
        if (!isFsError(e, 'EEXIST')) throw e;
        const have = s.fs.lookup(dir, name);
        // a retransmission finds the file as the first call left it: empty (as knfsd checks), the
        // caller's, its times the verifier; anything else is someone else's file (O_EXCL holds)
        const same =
          isReg(have.mode) && have.size === 0 && have.uid === ctx.caller.uid &&
          have.atime.sec === atime.sec && have.mtime.sec === mtime.sec && have.atime.nsec === 0 && have.mtime.nsec === 0;
        if (!same) throw e;
        attr = have;
      }
    } else {
      try {
        attr = s.fs.create(dir, name, a.sattr.mode ?? 0o644, ctx.caller);
        attr = applyRest(s, attr, a.sattr, ctx.caller);
      } catch (e) {
        if (!isFsError(e, 'EEXIST') || a.how === GUARDED) throw e;
        attr = s.fs.lookup(dir, name);
        if (!isReg(attr.mode)) throw e;
        // UNCHECKED over an existing file: only a size (truncation) applies
        if (a.sattr.size !== undefined) {
          checkSetattr(attr, { size: a.sattr.size }, ctx.caller);
          attr = s.fs.setattr(attr.ino, { size: a.sattr.size }, ctx.caller);
        }
      }
    }
    putCreated(s, w, attr, a, dir);
  },
  fail: failWcc,
};

interface MkdirArgs extends DirOp {
  sattr: SetAttr;
}

export const mkdir: Nfs3Proc<MkdirArgs> = {
  args(r) {
    const op = readDirOp(r);
    return { ...op, sattr: readSattr(r) };
  },
  run(s, a, w, ctx) {
    const dir = writableDir(s, a, ctx.caller);
    const name = nameOf(a.name);
    // a size means nothing for a directory (knfsd ignores it too)
    const { size: _size, ...sattr } = a.sattr;
    makeNew(s, a, w, ctx.caller, dir, sattr, () => {
      const attr = s.fs.mkdir(dir, name, sattr.mode ?? 0o755, ctx.caller);
      s.rememberParent(attr.ino, dir);
      return attr;
    });
  },
  fail: failWcc,
};

interface SymlinkArgs extends DirOp {
  sattr: SetAttr;
  target: Buffer;
}

export const symlink: Nfs3Proc<SymlinkArgs> = {
  args(r) {
    const op = readDirOp(r);
    const sattr = readSattr(r);
    // nfspath3 has no bound but the record's: too long a target is NAMETOOLONG (the core's PATH_MAX)
    return { ...op, sattr, target: r.opaque() };
  },
  run(s, a, w, ctx) {
    const dir = writableDir(s, a, ctx.caller);
    const name = nameOf(a.name);
    const target = nameOf(a.target);
    const { mode: _mode, size: _size, ...rest } = a.sattr;
    makeNew(s, a, w, ctx.caller, dir, rest, () => s.fs.symlink(dir, name, target, ctx.caller));
  },
  fail: failWcc,
};

interface MknodArgs extends DirOp {
  type: number;
  sattr: SetAttr;
  rdev: number;
}

export const mknod: Nfs3Proc<MknodArgs> = {
  args(r: XdrReader) {
    const op = readDirOp(r);
    const type = r.uint32();
    if (type === NF3CHR || type === NF3BLK) {
      const sattr = readSattr(r);
      const major = r.uint32();
      const minor = r.uint32();
      return { ...op, type, sattr, rdev: makeDev(major, minor) };
    }
    if (type === NF3SOCK || type === NF3FIFO) return { ...op, type, sattr: readSattr(r), rdev: 0 };
    return { ...op, type, sattr: {}, rdev: 0 };
  },
  run(s, a, w, ctx) {
    const dir = writableDir(s, a, ctx.caller);
    if (a.type !== NF3CHR && a.type !== NF3BLK && a.type !== NF3SOCK && a.type !== NF3FIFO) {
      throw new NfsError(NFS3ERR.BADTYPE, 'MKNOD makes only devices, sockets and fifos');
    }
    // device nodes need privilege, as mknod(2) does
    if ((a.type === NF3CHR || a.type === NF3BLK) && ctx.caller.uid !== 0) throw new FsError('EPERM', 'mknod');
    const name = nameOf(a.name);
    const { size: _size, ...sattr } = a.sattr;
    const mode = modeTypeOf(a.type)! | ((sattr.mode ?? 0o644) & ~S_IFMT);
    makeNew(s, a, w, ctx.caller, dir, sattr, () => s.fs.mknod(dir, name, mode, a.rdev, ctx.caller));
  },
  fail: failWcc,
};

function removal(op: (s: NfsState, dir: number, name: string) => void): Nfs3Proc<DirOp> {
  return {
    args: readDirOp,
    run(s, a, w, ctx) {
      const dir = writableDir(s, a, ctx.caller);
      const name = nameOf(a.name);
      requireNotSticky(s, a.before!, name, ctx.caller);
      s.mutating();
      op(s, dir, name);
      ok(w);
      putWcc(w, a.before, s.tryAttr(dir), s.fsid);
    },
    fail: failWcc,
  };
}

export const remove = removal((s, dir, name) => {
  // REMOVE is unlink(2): a directory is refused, as the core's unlink does
  s.fs.unlink(dir, name);
});

export const rmdir = removal((s, dir, name) => {
  if (name === '.') throw new NfsError(NFS3ERR.INVAL, 'rmdir .');
  s.fs.rmdir(dir, name);
});

interface RenameArgs {
  from: DirOp;
  to: DirOp;
}

export const rename: Nfs3Proc<RenameArgs> = {
  args(r) {
    const from = readDirOp(r);
    return { from, to: readDirOp(r) };
  },
  run(s, a, w, ctx) {
    const fromDir = writableDir(s, a.from, ctx.caller);
    const toDir = writableDir(s, a.to, ctx.caller);
    const fromName = nameOf(a.from.name);
    const toName = nameOf(a.to.name);
    requireNotSticky(s, a.from.before!, fromName, ctx.caller);
    requireNotSticky(s, a.to.before!, toName, ctx.caller);
    if (fromDir !== toDir) requireMovableDir(s, fromDir, fromName, ctx.caller);
    s.mutating();
    s.fs.rename(fromDir, fromName, toDir, toName, 0);
    ok(w);
    putWcc(w, a.from.before, s.tryAttr(fromDir), s.fsid);
    putWcc(w, a.to.before, s.tryAttr(toDir), s.fsid);
  },
  fail(s, a, w) {
    failWcc(s, a.from, w);
    failWcc(s, a.to, w);
  },
};

interface LinkArgs {
  file: Buffer;
  link: DirOp;
}

export const link: Nfs3Proc<LinkArgs> = {
  args(r) {
    const file = r.opaque(FHSIZE3);
    return { file, link: readDirOp(r) };
  },
  run(s, a, w, ctx) {
    const ino = s.handles.decode(a.file);
    s.attrOf(ino); // STALE before anything else
    const dir = writableDir(s, a.link, ctx.caller);
    const name = nameOf(a.link.name);
    s.mutating();
    const attr = s.fs.link(ino, dir, name);
    ok(w);
    putPostOpAttr(w, attr, s.fsid);
    putWcc(w, a.link.before, s.tryAttr(dir), s.fsid);
  },
  fail(s, a, w) {
    const ino = inoOr(s, a.file);
    putPostOpAttr(w, ino === undefined ? undefined : s.tryAttr(ino), s.fsid);
    failWcc(s, a.link, w);
  },
};
