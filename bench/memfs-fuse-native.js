#!/usr/bin/env node
// The ceiling of a Node FUSE stack: a minimal in-memory, path-based filesystem on fuse-native
// (libfuse 2 high-level API), with no database behind it. Used by bench/suites/mount.js.
// Usage: node bench/memfs-fuse-native.js MOUNTPOINT   (prints "ready" once mounted; SIGTERM unmounts)
import Fuse from 'fuse-native';

const mnt = process.argv[2];
if (!mnt) {
  console.error('usage: memfs-fuse-native.js MOUNTPOINT');
  process.exit(2);
}

let nextIno = 2;
const now = () => new Date();
function node(mode, extra = {}) {
  const t = now();
  return { ino: nextIno++, mode, uid: process.getuid(), gid: process.getgid(), nlink: 1, size: 0, data: Buffer.alloc(0), atime: t, mtime: t, ctime: t, ...extra };
}
const nodes = new Map([['/', { ...node(0o040755), ino: 1, nlink: 2, children: new Map() }]]);

const dirname = (p) => p.slice(0, p.lastIndexOf('/')) || '/';
const basename = (p) => p.slice(p.lastIndexOf('/') + 1);
const stat = (n) => ({ mode: n.mode, uid: n.uid, gid: n.gid, size: n.size, nlink: n.nlink, ino: n.ino, atime: n.atime, mtime: n.mtime, ctime: n.ctime, blocks: Math.ceil(n.size / 512), blksize: 4096, dev: 0, rdev: 0 });

function add(path, n) {
  const parent = nodes.get(dirname(path));
  if (!parent || !parent.children) return Fuse.ENOENT;
  if (parent.children.has(basename(path))) return Fuse.EEXIST;
  parent.children.set(basename(path), n);
  nodes.set(path, n);
  parent.mtime = now();
  return 0;
}
function remove(path) {
  const parent = nodes.get(dirname(path));
  parent?.children?.delete(basename(path));
  nodes.delete(path);
}
function grow(n, size) {
  if (size <= n.data.length) return;
  const b = Buffer.alloc(Math.max(size, n.data.length * 2));
  n.data.copy(b, 0, 0, n.size);
  n.data = b;
}

const ops = {
  getattr(path, cb) {
    const n = nodes.get(path);
    return n ? cb(0, stat(n)) : cb(Fuse.ENOENT);
  },
  fgetattr(path, fd, cb) {
    const n = nodes.get(path);
    return n ? cb(0, stat(n)) : cb(Fuse.ENOENT);
  },
  access: (path, mode, cb) => cb(nodes.has(path) ? 0 : Fuse.ENOENT),
  statfs: (path, cb) => cb(0, { bsize: 4096, frsize: 4096, blocks: 1 << 24, bfree: 1 << 23, bavail: 1 << 23, files: 1 << 20, ffree: 1 << 20, favail: 1 << 20, fsid: 0, flag: 0, namemax: 255 }),
  readdir(path, cb) {
    const n = nodes.get(path);
    if (!n?.children) return cb(Fuse.ENOTDIR);
    return cb(0, [...n.children.keys()], [...n.children.values()].map(stat));
  },
  opendir: (path, flags, cb) => cb(0, 0),
  releasedir: (path, fd, cb) => cb(0),
  open: (path, flags, cb) => (nodes.has(path) ? cb(0, 42) : cb(Fuse.ENOENT)),
  create(path, mode, cb) {
    const err = add(path, node(mode));
    return cb(err, 42);
  },
  release: (path, fd, cb) => cb(0),
  flush: (path, fd, cb) => cb(0),
  fsync: (path, fd, datasync, cb) => cb(0),
  fsyncdir: (path, fd, datasync, cb) => cb(0),
  read(path, fd, buf, len, pos, cb) {
    const n = nodes.get(path);
    if (!n) return cb(Fuse.ENOENT);
    const end = Math.min(n.size, pos + len);
    if (end <= pos) return cb(0);
    n.data.copy(buf, 0, pos, end);
    return cb(end - pos);
  },
  write(path, fd, buf, len, pos, cb) {
    const n = nodes.get(path);
    if (!n) return cb(Fuse.ENOENT);
    grow(n, pos + len);
    buf.copy(n.data, pos, 0, len);
    if (pos + len > n.size) n.size = pos + len;
    n.mtime = now();
    return cb(len);
  },
  truncate(path, size, cb) {
    const n = nodes.get(path);
    if (!n) return cb(Fuse.ENOENT);
    grow(n, size);
    if (size < n.size) n.data.fill(0, size, n.size);
    n.size = size;
    return cb(0);
  },
  ftruncate(path, fd, size, cb) {
    return ops.truncate(path, size, cb);
  },
  unlink(path, cb) {
    const n = nodes.get(path);
    if (!n) return cb(Fuse.ENOENT);
    n.nlink--;
    remove(path);
    return cb(0);
  },
  mkdir(path, mode, cb) {
    return cb(add(path, node(0o040000 | mode, { nlink: 2, children: new Map() })));
  },
  rmdir(path, cb) {
    const n = nodes.get(path);
    if (!n) return cb(Fuse.ENOENT);
    if (n.children.size) return cb(Fuse.ENOTEMPTY);
    remove(path);
    return cb(0);
  },
  rename(src, dest, cb) {
    const n = nodes.get(src);
    if (!n) return cb(Fuse.ENOENT);
    const prefix = src + '/';
    const moved = [...nodes.keys()].filter((k) => k.startsWith(prefix));
    remove(dest);
    remove(src);
    add(dest, n);
    for (const k of moved) {
      nodes.set(dest + k.slice(src.length), nodes.get(k));
      nodes.delete(k);
    }
    return cb(0);
  },
  link(src, dest, cb) {
    const n = nodes.get(src);
    if (!n) return cb(Fuse.ENOENT);
    n.nlink++;
    return cb(add(dest, n));
  },
  symlink(target, path, cb) {
    return cb(add(path, node(0o120777, { target, size: Buffer.byteLength(target) })));
  },
  readlink(path, cb) {
    const n = nodes.get(path);
    return n?.target ? cb(0, n.target) : cb(Fuse.EINVAL);
  },
  chmod(path, mode, cb) {
    const n = nodes.get(path);
    if (!n) return cb(Fuse.ENOENT);
    n.mode = (n.mode & 0o170000) | (mode & 0o7777);
    return cb(0);
  },
  chown(path, uid, gid, cb) {
    const n = nodes.get(path);
    if (!n) return cb(Fuse.ENOENT);
    n.uid = uid;
    n.gid = gid;
    return cb(0);
  },
  utimens(path, atime, mtime, cb) {
    const n = nodes.get(path);
    if (!n) return cb(Fuse.ENOENT);
    n.atime = new Date(atime);
    n.mtime = new Date(mtime);
    return cb(0);
  },
  mknod(path, mode, dev, cb) {
    return cb(add(path, node(mode)));
  },
};

const fuse = new Fuse(mnt, ops, { force: true, autoCache: true, attrTimeout: 1, entryTimeout: 1 });
fuse.mount((err) => {
  if (err) {
    console.error(`memfs-fuse-native: ${err.message}`);
    process.exit(1);
  }
  console.log('ready');
});
const stop = () => fuse.unmount(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
