/**
 * The targets the contract suite runs against, behind one path-level driver: the FileSystem
 * implementations called directly (InodeFs, OverlayFs over an empty base, OverlayFs over a
 * populated base), and a live FUSE mount of an agent called through node:fs (the kernel in
 * between). Each driver call names a path; the FileSystem driver walks to the parent with
 * lookup and hands the last name to the operation as it is ('.', '..', 255-byte names reach
 * the implementation), as the kernel would.
 */
import * as nfs from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/store/index.js';
import { InodeFs } from '../../src/core/fs/index.js';
import { PathFs } from '../../src/core/fs/paths.js';
import { OverlayFs } from '../../src/core/overlay/index.js';
import type { MutationObserver } from '../../src/core/fs/mutation.js';
import { ROOT_CALLER, type FileSystem } from '../../src/core/types.js';
import { runCli, tempDir } from '../support/cli.js';
import { forceUnmount, mountBg } from '../support/fuse.js';
import { startNfs } from '../support/nfs-server.js';
// @ts-expect-error: the tests' own NFS client is plain JavaScript
import { NfsClient, PROC, W } from '../support/nfs-client.mjs';

export interface Stat {
  ino: number;
  mode: number;
  nlink: number;
  size: number;
}

/** Path-level operations every target supports; failures throw an error whose `code` is the errno name. */
/** Path-level operations every target supports; failures throw (or reject with) an error whose `code` is the errno name. */
type R<T> = T | Promise<T>;
export interface Driver {
  mkdir(path: string, mode?: number): R<void>;
  /** O_CREAT|O_EXCL */
  create(path: string, mode?: number): R<void>;
  write(path: string, offset: number, data: string | Buffer): R<void>;
  read(path: string, offset?: number, length?: number): R<Buffer>;
  stat(path: string): R<Stat>;
  unlink(path: string): R<void>;
  rmdir(path: string): R<void>;
  rename(from: string, to: string): R<void>;
  link(existing: string, newPath: string): R<void>;
  symlink(target: string, path: string): R<void>;
  readlink(path: string): R<string>;
  readdir(path: string): R<string[]>;
  truncate(path: string, size: number): R<void>;
  chmod(path: string, mode: number): R<void>;
}

export interface Target {
  name: string;
  /** a fresh directory for one test, possibly with files in it (from the base where there is one) */
  fresh(files?: Record<string, string | null>): R<string>;
  /** the errno a core errno arrives as (NFSv3 has no EBUSY or EILSEQ: they arrive as EINVAL) */
  wire?(code: string): string;
  driver: Driver;
  /** the FileSystem itself (core targets only) */
  fs?: FileSystem;
  /** PathFs over fs (core targets only) */
  paths?: PathFs;
  /** makes the n-th change from now fail inside its transaction (core targets only) */
  failAfter?(n: number): void;
  close(): Promise<void>;
}

let counter = 0;
const freshName = () => `t${++counter}`;

/** Walks the parent of a path by lookup; the last name goes to the operation as given. */
function fsDriver(fs: FileSystem): Driver {
  const split = (path: string): [number, string] => {
    const parts = path.split('/').filter(Boolean);
    const name = parts.pop()!;
    let ino = fs.rootIno;
    for (const p of parts) ino = fs.lookup(ino, p).ino;
    return [ino, name];
  };
  const ino = (path: string) => {
    const [p, name] = split(path);
    return name === undefined ? fs.rootIno : fs.lookup(p, name).ino;
  };
  const st = (a: { ino: number; mode: number; nlink: number; size: number }): Stat => ({ ino: a.ino, mode: a.mode, nlink: a.nlink, size: a.size });
  return {
    mkdir: (path, mode = 0o755) => void fs.mkdir(...split(path), mode, ROOT_CALLER),
    create: (path, mode = 0o644) => void fs.create(...split(path), mode, ROOT_CALLER),
    write: (path, offset, data) => void fs.write(ino(path), offset, typeof data === 'string' ? Buffer.from(data) : data),
    read: (path, offset = 0, length = 1 << 20) => fs.read(ino(path), offset, length),
    stat: (path) => st(path === '/' ? fs.getattr(fs.rootIno) : fs.lookup(...split(path))),
    unlink: (path) => fs.unlink(...split(path)),
    rmdir: (path) => fs.rmdir(...split(path)),
    rename: (from, to) => fs.rename(...split(from), ...split(to)),
    link: (existing, newPath) => void fs.link(ino(existing), ...split(newPath)),
    symlink: (target, path) => void fs.symlink(...split(path), target, ROOT_CALLER),
    readlink: (path) => fs.readlink(ino(path)),
    readdir: (path) => fs.readdir(ino(path)).map((e) => e.name),
    truncate: (path, size) => void fs.setattr(ino(path), { size }),
    chmod: (path, mode) => void fs.setattr(ino(path), { mode }),
  };
}

/** The same operations through the kernel on a mountpoint. */
function mountDriver(root: string): Driver {
  // concatenated, not path.join: '.' and '..' must reach the kernel as they are
  const p = (path: string) => root + path;
  return {
    mkdir: (path, mode = 0o755) => nfs.mkdirSync(p(path), mode),
    create: (path, mode = 0o644) => nfs.closeSync(nfs.openSync(p(path), nfs.constants.O_CREAT | nfs.constants.O_EXCL | nfs.constants.O_WRONLY, mode)),
    write: (path, offset, data) => {
      const fd = nfs.openSync(p(path), nfs.constants.O_WRONLY);
      try {
        const buf = typeof data === 'string' ? Buffer.from(data) : data;
        nfs.writeSync(fd, buf, 0, buf.length, offset);
      } finally {
        nfs.closeSync(fd);
      }
    },
    read: (path, offset = 0, length = 1 << 20) => {
      const fd = nfs.openSync(p(path), nfs.constants.O_RDONLY);
      try {
        const buf = Buffer.alloc(length);
        let got = 0;
        for (let n; got < length && (n = nfs.readSync(fd, buf, got, length - got, offset + got)) > 0; ) got += n;
        return buf.subarray(0, got);
      } finally {
        nfs.closeSync(fd);
      }
    },
    stat: (path) => {
      const s = nfs.lstatSync(p(path));
      return { ino: s.ino, mode: s.mode, nlink: s.nlink, size: s.size };
    },
    unlink: (path) => nfs.unlinkSync(p(path)),
    rmdir: (path) => nfs.rmdirSync(p(path)),
    rename: (from, to) => nfs.renameSync(p(from), p(to)),
    link: (existing, newPath) => nfs.linkSync(p(existing), p(newPath)),
    symlink: (target, path) => nfs.symlinkSync(target, p(path)),
    readlink: (path) => nfs.readlinkSync(p(path)),
    readdir: (path) => nfs.readdirSync(p(path)),
    truncate: (path, size) => nfs.truncateSync(p(path), size),
    chmod: (path, mode) => nfs.chmodSync(p(path), mode),
  };
}

/** An observer that can be told to fail the n-th change from now (inside its transaction). */
function faultInjector(): { observer: MutationObserver; failAfter(n: number): void } {
  let left = 0;
  return {
    observer: () => {
      if (left > 0 && --left === 0) throw Object.assign(new Error('injected failure'), { code: 'EIO' });
    },
    failAfter: (n) => {
      left = n;
    },
  };
}

/** Writes files into a real directory: null is a directory, a string a file's content. */
function writeTree(dir: string, files: Record<string, string | null>): void {
  nfs.mkdirSync(dir, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    const at = join(dir, rel);
    if (content === null) nfs.mkdirSync(at, { recursive: true });
    else {
      nfs.mkdirSync(join(at, '..'), { recursive: true });
      nfs.writeFileSync(at, content);
    }
  }
}

function viaPaths(paths: PathFs, dir: string, files: Record<string, string | null>): void {
  paths.mkdir(dir, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    const at = `${dir}/${rel}`;
    if (content === null) paths.mkdir(at, { recursive: true });
    else {
      paths.mkdir(at.slice(0, at.lastIndexOf('/')), { recursive: true });
      paths.writeFile(at, content);
    }
  }
}

export function inodeTarget(): Target {
  const tmp = tempDir('agentfs-conf-');
  const store = Store.open({ path: join(tmp.dir, 'a.db') }, { create: true });
  const faults = faultInjector();
  const fs = new InodeFs(store, { observer: faults.observer });
  const paths = new PathFs(fs, { caller: ROOT_CALLER, pieceSize: 4096 });
  return {
    name: 'InodeFs',
    fs,
    paths,
    driver: fsDriver(fs),
    failAfter: faults.failAfter,
    fresh(files = {}) {
      const dir = `/${freshName()}`;
      viaPaths(paths, dir, files);
      return dir;
    },
    async close() {
      store.close();
      tmp.cleanup();
    },
  };
}

/** OverlayFs over a base directory; `populated`: every test's directory and files come from the base. */
export function overlayTarget(populated: boolean): Target {
  const tmp = tempDir('agentfs-conf-');
  const base = join(tmp.dir, 'base');
  nfs.mkdirSync(base);
  if (populated) writeTree(base, { 'README': 'base\n', 'src/a.c': 'int a;\n', 'src/deep/b.c': 'int b;\n', 'empty': null });
  const store = Store.open({ path: join(tmp.dir, 'a.db') }, { create: true });
  const faults = faultInjector();
  const fs = new OverlayFs(store, base, { delta: new InodeFs(store, { observer: faults.observer }), observer: faults.observer });
  const paths = new PathFs(fs, { caller: ROOT_CALLER, pieceSize: 4096 });
  return {
    name: populated ? 'OverlayFs over a populated base' : 'OverlayFs over an empty base',
    fs,
    paths,
    driver: fsDriver(fs),
    failAfter: faults.failAfter,
    fresh(files = {}) {
      const name = freshName();
      // populated: the directory and its files are the base's, so every change copies up
      if (populated) writeTree(join(base, name), files);
      else viaPaths(paths, `/${name}`, files);
      return `/${name}`;
    },
    async close() {
      fs.close();
      store.close();
      tmp.cleanup();
    },
  };
}

/** A live FUSE mount of a plain agent, driven through the kernel. */
export async function mountTarget(): Promise<Target> {
  const tmp = tempDir('agentfs-conf-mnt-');
  const db = join(tmp.dir, 'a.db');
  const mnt = join(tmp.dir, 'mnt');
  nfs.mkdirSync(mnt);
  const init = await runCli(['init', db]);
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  const pid = await mountBg(db, mnt);
  const driver = mountDriver(mnt);
  return {
    name: 'FUSE mount',
    driver,
    fresh(files = {}) {
      const dir = `/${freshName()}`;
      writeTree(join(mnt, dir), files);
      return dir;
    },
    async close() {
      await forceUnmount(mnt, pid);
      tmp.cleanup();
    },
  };
}

/**
 * A live FUSE mount of an overlay agent whose every test directory and file comes from the base
 * (written on the host): the kernel's requests for files that are exactly host files are answered
 * from them natively (native/host_files.h) until a change copies them up.
 */
export async function overlayMountTarget(): Promise<Target> {
  const tmp = tempDir('agentfs-conf-ovl-');
  const base = join(tmp.dir, 'base');
  const db = join(tmp.dir, 'a.db');
  const mnt = join(tmp.dir, 'mnt');
  nfs.mkdirSync(base);
  nfs.mkdirSync(mnt);
  const init = await runCli(['init', db, '--base', base]);
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  const pid = await mountBg(db, mnt);
  const driver = mountDriver(mnt);
  return {
    name: 'FUSE mount of an overlay over a populated base',
    driver,
    fresh(files = {}) {
      const name = freshName();
      writeTree(join(base, name), files);
      return `/${name}`;
    },
    async close() {
      await forceUnmount(mnt, pid);
      tmp.cleanup();
    },
  };
}

const NFS_ERRNO: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 5: 'EIO', 13: 'EACCES', 17: 'EEXIST', 18: 'EXDEV', 20: 'ENOTDIR', 21: 'EISDIR',
  22: 'EINVAL', 27: 'EFBIG', 28: 'ENOSPC', 30: 'EROFS', 31: 'EMLINK', 63: 'ENAMETOOLONG', 66: 'ENOTEMPTY', 70: 'ESTALE',
};
const NFS_TYPE: Record<number, number> = { 1: 0o100000, 2: 0o040000, 3: 0o060000, 4: 0o020000, 5: 0o120000, 6: 0o140000, 7: 0o010000 };

/* eslint-disable @typescript-eslint/no-explicit-any */
/** The same operations as NFSv3 calls to `agentfs serve nfs` (the tests' own RPC client). */
function nfsDriver(client: any, root: Buffer): Driver {
  const check = (status: number, what: string) => {
    if (status !== 0) throw Object.assign(new Error(`${what}: NFS status ${status}`), { code: NFS_ERRNO[status] ?? `NFS${status}` });
  };
  const walk = async (parts: string[]): Promise<{ fh: Buffer; attr?: any }> => {
    let fh = root;
    let attr: any;
    for (const part of parts) {
      const r = await client.lookup(fh, part);
      check(r.status, `lookup ${part}`);
      fh = r.fh;
      attr = r.attr;
    }
    return { fh, attr };
  };
  const fhOf = async (path: string) => (await walk(path.split('/').filter(Boolean))).fh;
  const split = async (path: string): Promise<[Buffer, string]> => {
    const parts = path.split('/').filter(Boolean);
    const name = parts.pop()!;
    return [(await walk(parts)).fh, name];
  };
  return {
    async mkdir(path, mode = 0o755) {
      const [dir, name] = await split(path);
      check((await client.mkdir(dir, name, { mode })).status, 'mkdir');
    },
    async create(path, mode = 0o644) {
      const [dir, name] = await split(path);
      check((await client.create(dir, name, { how: 1, sattr: { mode } })).status, 'create');
    },
    async write(path, offset, data) {
      const r = await client.write(await fhOf(path), offset, typeof data === 'string' ? Buffer.from(data) : data, 2);
      check(r.status, 'write');
    },
    async read(path, offset = 0, length = 1 << 20) {
      const fh = await fhOf(path);
      const parts: Buffer[] = [];
      let got = 0;
      for (;;) {
        const r = await client.read(fh, offset + got, Math.min(length - got, 1 << 17));
        check(r.status, 'read');
        parts.push(r.data);
        got += r.data.length;
        if (r.eof || got >= length || r.data.length === 0) break;
      }
      return Buffer.concat(parts);
    },
    async stat(path) {
      const parts = path.split('/').filter(Boolean);
      let attr = (await walk(parts)).attr;
      if (!parts.length) {
        const r = await client.getattr(root);
        check(r.status, 'getattr');
        attr = r.attr;
      }
      return { ino: attr.fileid, mode: NFS_TYPE[attr.type]! | attr.mode, nlink: attr.nlink, size: attr.size };
    },
    async unlink(path) {
      const [dir, name] = await split(path);
      check((await client.remove(dir, name)).status, 'remove');
    },
    async rmdir(path) {
      const [dir, name] = await split(path);
      check((await client.rmdir(dir, name)).status, 'rmdir');
    },
    async rename(from, to) {
      const [a, an] = await split(from);
      const [b, bn] = await split(to);
      check((await client.rename(a, an, b, bn)).status, 'rename');
    },
    async link(existing, newPath) {
      const fh = await fhOf(existing);
      const [dir, name] = await split(newPath);
      check((await client.link(fh, dir, name)).status, 'link');
    },
    async symlink(target, path) {
      const [dir, name] = await split(path);
      const r = client.created(await client.nfs(PROC.SYMLINK, new W().opaque(dir).str(name).sattr({}).str(target)));
      check(r.status, 'symlink');
    },
    async readlink(path) {
      const r = await client.nfs(PROC.READLINK, new W().opaque(await fhOf(path)));
      const status = r.u32();
      r.postOpAttr();
      check(status, 'readlink');
      return r.str();
    },
    async readdir(path) {
      const fh = await fhOf(path);
      const names: string[] = [];
      let cookie = 0;
      let verifier = Buffer.alloc(8);
      for (;;) {
        const r = await client.readdir(fh, cookie, verifier);
        check(r.status, 'readdir');
        for (const e of r.entries) if (e.name !== '.' && e.name !== '..') names.push(e.name);
        if (r.eof || !r.entries.length) break;
        cookie = r.entries[r.entries.length - 1].cookie;
        verifier = r.verifier;
      }
      return names;
    },
    async truncate(path, size) {
      check((await client.setattr(await fhOf(path), { size })).status, 'setattr');
    },
    async chmod(path, mode) {
      check((await client.setattr(await fhOf(path), { mode })).status, 'setattr');
    },
  };
}

/** `agentfs serve nfs` of a plain agent, driven by NFSv3 calls. */
export async function nfsTarget(): Promise<Target> {
  const tmp = tempDir('agentfs-conf-nfs-');
  const db = join(tmp.dir, 'a.db');
  const init = await runCli(['init', db]);
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  const server = await startNfs(db, tmp.dir);
  const client = await NfsClient.connect(server.port);
  const driver = nfsDriver(client, await client.mount('/'));
  return {
    name: 'serve nfs',
    driver,
    wire: (code) => (code === 'EBUSY' || code === 'EILSEQ' ? 'EINVAL' : code),
    async fresh(files = {}) {
      const dir = `/${freshName()}`;
      await driver.mkdir(dir);
      for (const [rel, content] of Object.entries(files)) {
        const parts = rel.split('/');
        for (let i = 1; i < parts.length; i++) {
          const sub = `${dir}/${parts.slice(0, i).join('/')}`;
          await Promise.resolve(driver.mkdir(sub)).catch((e) => {
            if (e.code !== 'EEXIST') throw e;
          });
        }
        if (content === null) await Promise.resolve(driver.mkdir(`${dir}/${rel}`)).catch((e) => {
          if (e.code !== 'EEXIST') throw e;
        });
        else {
          await driver.create(`${dir}/${rel}`);
          await driver.write(`${dir}/${rel}`, 0, content);
        }
      }
      return dir;
    },
    async close() {
      client.close();
      await server.stop();
      tmp.cleanup();
    },
  };
}
