// A small ONC RPC / NFSv3 client of the tests' own (plain JS so the bench can use it too): record
// marking, AUTH_SYS, pipelined calls matched by xid, and the procedures the tests need, decoded
// into plain objects. Written from RFC 5531 / RFC 1813, independently of src/nfs.
import { connect } from 'node:net';

export const NFS = 100003;
export const MOUNT = 100005;
export const PORTMAP = 100000;

export const PROC = {
  NULL: 0, GETATTR: 1, SETATTR: 2, LOOKUP: 3, ACCESS: 4, READLINK: 5, READ: 6, WRITE: 7, CREATE: 8,
  MKDIR: 9, SYMLINK: 10, MKNOD: 11, REMOVE: 12, RMDIR: 13, RENAME: 14, LINK: 15, READDIR: 16,
  READDIRPLUS: 17, FSSTAT: 18, FSINFO: 19, PATHCONF: 20, COMMIT: 21,
};

export const ERR = {
  OK: 0, PERM: 1, NOENT: 2, IO: 5, ACCES: 13, EXIST: 17, XDEV: 18, NOTDIR: 20, ISDIR: 21, INVAL: 22,
  NAMETOOLONG: 63, NOTEMPTY: 66, STALE: 70, BADHANDLE: 10001, NOT_SYNC: 10002, BAD_COOKIE: 10003,
  NOTSUPP: 10004, TOOSMALL: 10005, SERVERFAULT: 10006, BADTYPE: 10007,
};

/** accept_stat values */
export const ACCEPT = { SUCCESS: 0, PROG_UNAVAIL: 1, PROG_MISMATCH: 2, PROC_UNAVAIL: 3, GARBAGE_ARGS: 4, SYSTEM_ERR: 5 };

export class W {
  constructor() {
    this.b = Buffer.allocUnsafe(256);
    this.n = 0;
  }
  room(k) {
    if (this.n + k <= this.b.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.b.length * 2, this.n + k));
    this.b.copy(next, 0, 0, this.n);
    this.b = next;
  }
  u32(v) {
    this.room(4);
    this.b.writeUInt32BE(v >>> 0, this.n);
    this.n += 4;
    return this;
  }
  u64(v) {
    this.room(8);
    this.b.writeBigUInt64BE(BigInt(v), this.n);
    this.n += 8;
    return this;
  }
  bool(v) {
    return this.u32(v ? 1 : 0);
  }
  fixed(buf) {
    const pad = (4 - (buf.length % 4)) % 4;
    this.room(buf.length + pad);
    this.b.set(buf, this.n);
    this.n += buf.length;
    this.b.fill(0, this.n, this.n + pad);
    this.n += pad;
    return this;
  }
  opaque(buf) {
    return this.u32(buf.length).fixed(buf);
  }
  str(s) {
    return this.opaque(Buffer.from(s, 'utf8'));
  }
  /** sattr3 from { mode, uid, gid, size, atime, mtime } (times: 'now' or {sec, nsec}) */
  sattr(s = {}) {
    for (const k of ['mode', 'uid', 'gid']) {
      this.bool(s[k] !== undefined);
      if (s[k] !== undefined) this.u32(s[k]);
    }
    this.bool(s.size !== undefined);
    if (s.size !== undefined) this.u64(s.size);
    for (const k of ['atime', 'mtime']) {
      const t = s[k];
      if (t === undefined) this.u32(0);
      else if (t === 'now') this.u32(1);
      else this.u32(2).u32(t.sec).u32(t.nsec);
    }
    return this;
  }
  buf() {
    return this.b.subarray(0, this.n);
  }
}

export class R {
  constructor(buf, pos = 0) {
    this.buf = buf;
    this.pos = pos;
  }
  u32() {
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  u64() {
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return Number(v);
  }
  bool() {
    return this.u32() !== 0;
  }
  fixed(n) {
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n + ((4 - (n % 4)) % 4);
    return Buffer.from(b);
  }
  opaque() {
    return this.fixed(this.u32());
  }
  str() {
    return this.opaque().toString('utf8');
  }
  time() {
    return { sec: this.u32(), nsec: this.u32() };
  }
  fattr() {
    return {
      type: this.u32(), mode: this.u32(), nlink: this.u32(), uid: this.u32(), gid: this.u32(),
      size: this.u64(), used: this.u64(), rdev: [this.u32(), this.u32()], fsid: this.fixed(8),
      fileid: this.u64(), atime: this.time(), mtime: this.time(), ctime: this.time(),
    };
  }
  postOpAttr() {
    return this.bool() ? this.fattr() : undefined;
  }
  wcc() {
    const before = this.bool() ? { size: this.u64(), mtime: this.time(), ctime: this.time() } : undefined;
    return { before, after: this.postOpAttr() };
  }
  postOpFh() {
    return this.bool() ? this.opaque() : undefined;
  }
}

export class NfsClient {
  /** @param {{ uid?: number, gid?: number, gids?: number[] }} [cred] */
  static async connect(port, host = '127.0.0.1', cred = {}) {
    const socket = connect({ port, host, noDelay: true });
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new NfsClient(socket, cred);
  }

  constructor(socket, cred) {
    this.socket = socket;
    this.cred = { uid: cred.uid ?? 0, gid: cred.gid ?? 0, gids: cred.gids ?? [] };
    this.xid = (Math.random() * 0x7fffffff) >>> 0;
    this.pending = new Map();
    this.buf = Buffer.alloc(0);
    this.frags = [];
    this.closed = false;
    socket.on('data', (d) => this.onData(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      for (const p of this.pending.values()) p.reject(new Error('connection closed'));
      this.pending.clear();
    });
  }

  onData(d) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= 4) {
      const h = this.buf.readUInt32BE(0);
      const len = h & 0x7fffffff;
      if (this.buf.length < 4 + len) break;
      this.frags.push(this.buf.subarray(4, 4 + len));
      this.buf = this.buf.subarray(4 + len);
      if (h & 0x80000000) {
        const rec = Buffer.concat(this.frags);
        this.frags = [];
        this.onReply(rec);
      }
    }
  }

  onReply(rec) {
    const r = new R(rec);
    const xid = r.u32();
    const p = this.pending.get(xid);
    if (!p) return;
    this.pending.delete(xid);
    r.u32(); // REPLY
    const replyStat = r.u32();
    if (replyStat === 1) {
      const rejectStat = r.u32();
      p.resolve({ denied: true, rejectStat, detail: [r.u32(), rec.length > r.pos ? r.u32() : undefined], r });
      return;
    }
    r.u32(); // verifier flavor
    r.opaque();
    const accept = r.u32();
    const out = { denied: false, accept, r };
    if (accept === ACCEPT.PROG_MISMATCH) out.mismatch = [r.u32(), r.u32()];
    p.resolve(out);
  }

  credential() {
    if (this.cred.bytes) return this.cred.bytes;
    const body = new W().u32(0).str('agentfs-test').u32(this.cred.uid).u32(this.cred.gid).u32(this.cred.gids.length);
    for (const g of this.cred.gids) body.u32(g);
    return (this.cred.bytes = body.buf());
  }

  /** One call; resolves with { accept, r } (r positioned at the results) or { denied, ... }. */
  call(prog, vers, proc, args = Buffer.alloc(0)) {
    const xid = (this.xid = (this.xid + 1) >>> 0);
    const cred = this.credential();
    const w = new W().u32(0).u32(xid).u32(0).u32(2).u32(prog).u32(vers).u32(proc).u32(1).opaque(cred).u32(0).u32(0).fixed(args);
    const msg = w.buf();
    msg.writeUInt32BE((0x80000000 | (msg.length - 4)) >>> 0, 0);
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('connection closed'));
      this.pending.set(xid, { resolve, reject });
      this.socket.write(msg);
    });
  }

  /** Writes raw bytes (for the fuzz test). */
  raw(bytes) {
    this.socket.write(bytes);
  }

  /** An NFS call whose RPC must succeed; resolves with the reader at nfsstat3. */
  async nfs(proc, args) {
    const res = await this.call(NFS, 3, proc, args instanceof W ? args.buf() : args);
    if (res.denied || res.accept !== ACCEPT.SUCCESS) throw new Error(`NFS proc ${proc}: RPC failed: ${JSON.stringify({ denied: res.denied, accept: res.accept })}`);
    return res.r;
  }

  async null() {
    const res = await this.call(NFS, 3, PROC.NULL);
    return !res.denied && res.accept === ACCEPT.SUCCESS;
  }

  async mount(path = '/') {
    const res = await this.call(MOUNT, 3, 1, new W().str(path).buf());
    const status = res.r.u32();
    if (status !== 0) throw Object.assign(new Error(`MNT ${path}: status ${status}`), { status });
    return res.r.opaque();
  }

  async getattr(fh) {
    const r = await this.nfs(PROC.GETATTR, new W().opaque(fh));
    const status = r.u32();
    return { status, attr: status === 0 ? r.fattr() : undefined };
  }

  /** guard: the object's ctime the server must still have */
  async setattr(fh, sattr, guard) {
    const w = new W().opaque(fh).sattr(sattr).bool(guard !== undefined);
    if (guard) w.u32(guard.sec).u32(guard.nsec);
    const r = await this.nfs(PROC.SETATTR, w);
    const status = r.u32();
    return { status, wcc: r.wcc() };
  }

  async lookup(dir, name) {
    const r = await this.nfs(PROC.LOOKUP, new W().opaque(dir).str(name));
    const status = r.u32();
    if (status !== 0) return { status, dirAttr: r.postOpAttr() };
    return { status, fh: r.opaque(), attr: r.postOpAttr(), dirAttr: r.postOpAttr() };
  }

  /** how: 0 UNCHECKED, 1 GUARDED (with sattr), 2 EXCLUSIVE (with an 8-byte verifier) */
  async create(dir, name, { how = 1, sattr = { mode: 0o644 }, verifier } = {}) {
    const w = new W().opaque(dir).str(name).u32(how);
    if (how === 2) w.fixed(verifier);
    else w.sattr(sattr);
    return this.created(await this.nfs(PROC.CREATE, w));
  }

  async mkdir(dir, name, sattr = { mode: 0o755 }) {
    return this.created(await this.nfs(PROC.MKDIR, new W().opaque(dir).str(name).sattr(sattr)));
  }

  created(r) {
    const status = r.u32();
    if (status !== 0) return { status, dirWcc: r.wcc() };
    return { status, fh: r.postOpFh(), attr: r.postOpAttr(), dirWcc: r.wcc() };
  }

  async write(fh, offset, data, stable = 0) {
    const r = await this.nfs(PROC.WRITE, new W().opaque(fh).u64(offset).u32(data.length).u32(stable).opaque(data));
    const status = r.u32();
    const wcc = r.wcc();
    if (status !== 0) return { status, wcc };
    return { status, wcc, count: r.u32(), committed: r.u32(), verifier: r.fixed(8) };
  }

  async read(fh, offset, count) {
    const r = await this.nfs(PROC.READ, new W().opaque(fh).u64(offset).u32(count));
    const status = r.u32();
    const attr = r.postOpAttr();
    if (status !== 0) return { status, attr };
    const n = r.u32();
    const eof = r.bool();
    return { status, attr, count: n, eof, data: r.opaque() };
  }

  async commit(fh) {
    const r = await this.nfs(PROC.COMMIT, new W().opaque(fh).u64(0).u32(0));
    const status = r.u32();
    const wcc = r.wcc();
    return { status, wcc, verifier: status === 0 ? r.fixed(8) : undefined };
  }

  async remove(dir, name) {
    const r = await this.nfs(PROC.REMOVE, new W().opaque(dir).str(name));
    return { status: r.u32(), wcc: r.wcc() };
  }

  async rmdir(dir, name) {
    const r = await this.nfs(PROC.RMDIR, new W().opaque(dir).str(name));
    return { status: r.u32(), wcc: r.wcc() };
  }

  async rename(fromDir, fromName, toDir, toName) {
    const r = await this.nfs(PROC.RENAME, new W().opaque(fromDir).str(fromName).opaque(toDir).str(toName));
    return { status: r.u32(), fromWcc: r.wcc(), toWcc: r.wcc() };
  }

  async link(fh, dir, name) {
    const r = await this.nfs(PROC.LINK, new W().opaque(fh).opaque(dir).str(name));
    return { status: r.u32(), attr: r.postOpAttr(), dirWcc: r.wcc() };
  }

  async readdirplus(dir, cookie = 0, verifier = Buffer.alloc(8), maxcount = 32768) {
    const r = await this.nfs(PROC.READDIRPLUS, new W().opaque(dir).u64(cookie).fixed(verifier).u32(maxcount).u32(maxcount));
    const status = r.u32();
    const dirAttr = r.postOpAttr();
    if (status !== 0) return { status, dirAttr };
    const cookieverf = r.fixed(8);
    const entries = [];
    while (r.bool()) {
      const fileid = r.u64();
      const name = r.str();
      const c = r.u64();
      const attr = r.postOpAttr();
      const fh = r.postOpFh();
      entries.push({ fileid, name, cookie: c, attr, fh });
    }
    return { status, dirAttr, verifier: cookieverf, entries, eof: r.bool() };
  }

  async readdir(dir, cookie = 0, verifier = Buffer.alloc(8), count = 32768) {
    const r = await this.nfs(PROC.READDIR, new W().opaque(dir).u64(cookie).fixed(verifier).u32(count));
    const status = r.u32();
    const dirAttr = r.postOpAttr();
    if (status !== 0) return { status, dirAttr };
    const cookieverf = r.fixed(8);
    const entries = [];
    while (r.bool()) entries.push({ fileid: r.u64(), name: r.str(), cookie: r.u64() });
    return { status, dirAttr, verifier: cookieverf, entries, eof: r.bool() };
  }

  close() {
    this.socket.destroy();
  }
}

/** Runs fn(i) for i in [0, n) with at most `depth` calls in flight. */
export async function pipelined(n, depth, fn) {
  let next = 0;
  const workers = Array.from({ length: Math.min(depth, n) }, async () => {
    while (next < n) {
      const i = next++;
      await fn(i);
    }
  });
  await Promise.all(workers);
}
