/**
 * READDIR and READDIRPLUS. Cookies: 1 is after '.', 2 after '..', and the core's cookie + 2 after
 * an entry. The core's cookies are dentry ids, stable while the directory changes, so the cookie
 * verifier never changes for a database and any cookie stays usable.
 */
import { R_OK, S_IFDIR, S_IFMT, type Attr, type DirEntry, type DirEntryPlus } from '../../core/types.js';
import { putPostOpAttr } from '../attrs.js';
import { NFS3ERR, NfsError } from '../errors.js';
import { requireAccess, type NfsState } from '../state.js';
import { XdrWriter, type XdrReader } from '../xdr.js';
import { inoOr, ok, putHandle, type Nfs3Proc } from './common.js';
import { FHSIZE3 } from '../handles.js';

const DOTS = 2;
const MAX_COOKIE = 2n ** 53n;
/** never fetch more than this many entries for one reply */
const MAX_BATCH = 4096;

interface ReaddirArgs {
  fh: Buffer;
  cookie: bigint;
  verifier: Buffer;
  /** READDIR: count; READDIRPLUS: maxcount */
  max: number;
  dirAttr?: Attr;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

interface Row {
  name: string;
  ino: number;
  cookie: number;
  attr?: Attr;
}

/** '.' and '..' as the listing starts at `cookie`. */
function dots(s: NfsState, dir: number, dirAttr: Attr, cookie: number, plus: boolean): Row[] {
  const rows: Row[] = [];
  if (cookie < 1) rows.push({ name: '.', ino: dir, cookie: 1, attr: dirAttr });
  if (cookie < DOTS) {
    const parent = s.parentAttr(dir, dirAttr);
    rows.push({ name: '..', ino: parent.ino, cookie: DOTS, attr: plus ? parent : undefined });
  }
  return rows;
}

function list(s: NfsState, a: ReaddirArgs, w: XdrWriter, caller: import('../../core/types.js').Caller, plus: boolean): void {
  const dir = s.handles.decode(a.fh);
  const dirAttr = (a.dirAttr = s.dirAttr(dir));
  requireAccess(dirAttr, R_OK, caller);
  if (a.cookie !== 0n && !a.verifier.equals(s.cookieVerifier) && !a.verifier.equals(ZERO_VERF)) {
    throw new NfsError(NFS3ERR.BAD_COOKIE, 'cookie verifier of another database');
  }
  if (a.cookie >= MAX_COOKIE) throw new NfsError(NFS3ERR.BAD_COOKIE, 'cookie out of range');
  const cookie = Number(a.cookie);

  // reply overhead: status, post_op_attr, verifier, end-of-list marker, eof
  let room = a.max - (4 + 4 + 84 + 8 + 4 + 4);
  const rows = dots(s, dir, dirAttr, cookie, plus);
  const after = Math.max(cookie, DOTS) - DOTS;
  const perEntry = plus ? 150 : 32;
  const want = Math.min(MAX_BATCH, Math.max(1, Math.ceil(room / perEntry)));
  const entries: (DirEntry | DirEntryPlus)[] = plus ? s.fs.readdirPlus(dir, after, want + 1) : s.fs.readdir(dir, after, want + 1);
  let more = entries.length > want;
  for (let i = 0; i < Math.min(entries.length, want); i++) {
    const e = entries[i]!;
    rows.push({ name: e.name, ino: e.ino, cookie: e.offset + DOTS, attr: (e as DirEntryPlus).attr });
    if ((e.mode & S_IFMT) === S_IFDIR) s.rememberParent(e.ino, dir);
  }

  const body = new XdrWriter(Math.min(a.max, 64 << 10));
  let sent = 0;
  for (const row of rows) {
    const nameBytes = Buffer.byteLength(row.name);
    const dirPart = 8 + 4 + pad4(nameBytes) + 8;
    const size = 4 + dirPart + (plus ? 4 + 84 + 4 + 4 + 20 : 0);
    if (size > room) {
      more = true;
      break;
    }
    room -= size;
    body.bool(true).uint64(row.ino).string(row.name).uint64(row.cookie);
    if (plus) {
      const attr = row.attr ?? s.tryAttr(row.ino);
      putPostOpAttr(body, attr, s.fsid);
      if (attr) {
        body.bool(true);
        putHandle(s, body, row.ino);
      } else {
        body.bool(false);
      }
    }
    sent++;
  }
  if (sent === 0 && rows.length > 0) throw new NfsError(NFS3ERR.TOOSMALL, 'the reply cannot hold one entry');
  ok(w);
  putPostOpAttr(w, dirAttr, s.fsid);
  w.fixed(s.cookieVerifier);
  w.append(body);
  w.bool(false); // no more entries in this reply
  w.bool(!more);
}

const ZERO_VERF = Buffer.alloc(8);

function failDir(s: NfsState, a: ReaddirArgs, w: XdrWriter): void {
  const ino = inoOr(s, a.fh);
  putPostOpAttr(w, a.dirAttr ?? (ino === undefined ? undefined : s.tryAttr(ino)), s.fsid);
}

export const readdir: Nfs3Proc<ReaddirArgs> = {
  args(r: XdrReader) {
    const fh = r.opaque(FHSIZE3);
    const cookie = r.uint64Big();
    const verifier = Buffer.from(r.fixed(8));
    return { fh, cookie, verifier, max: r.uint32() };
  },
  run(s, a, w, ctx) {
    list(s, a, w, ctx.caller, false);
  },
  fail: failDir,
};

export const readdirplus: Nfs3Proc<ReaddirArgs> = {
  args(r: XdrReader) {
    const fh = r.opaque(FHSIZE3);
    const cookie = r.uint64Big();
    const verifier = Buffer.from(r.fixed(8));
    r.uint32(); // dircount: a hint; like knfsd, only maxcount bounds the reply
    return { fh, cookie, verifier, max: r.uint32() };
  },
  run(s, a, w, ctx) {
    list(s, a, w, ctx.caller, true);
  },
  fail: failDir,
};
