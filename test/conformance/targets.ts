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

export interface Stat {
  ino: number;
  mode: number;
  nlink: number;
  size: number;
}

/** Path-level operations every target supports; failures throw an error whose `code` is the errno name. */
export interface Driver {
  mkdir(path: string, mode?: number): void;
  /** O_CREAT|O_EXCL */
  create(path: string, mode?: number): void;
  write(path: string, offset: number, data: string | Buffer): void;
  read(path: string, offset?: number, length?: number): Buffer;
  stat(path: string): Stat;
  unlink(path: string): void;
  rmdir(path: string): void;
  rename(from: string, to: string): void;
  link(existing: string, newPath: string): void;
  symlink(target: string, path: string): void;
  readlink(path: string): string;
  readdir(path: string): string[];
  truncate(path: string, size: number): void;
  chmod(path: string, mode: number): void;
}

export interface Target {
  name: string;
  /** a fresh directory for one test, possibly with files in it (from the base where there is one) */
  fresh(files?: Record<string, string | null>): string;
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
