// The addon's listing and lstat of host files (native/host_stat.cc) against node:fs, the way
// the overlay's base layer used them before (and still does without the addon).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants } from 'node:os';
import { BaseReader } from '../../src/core/overlay/base.js';
import {
  addonHostFs,
  fromBigIntStats,
  hostFs,
  loadHostStatAddon,
  nodeHostFs,
  type HostFs,
  type HostStatAddon,
} from '../../src/core/overlay/host-stat.js';
import { isFsError } from '../../src/core/errors.js';
import { tempDir } from '../support/cli.js';

const AT_FDCWD = -100;
let tmp: { dir: string; cleanup: () => void };
let dir: string;
let addon: HostStatAddon;
let native: HostFs;

beforeEach(() => {
  tmp = tempDir();
  dir = join(tmp.dir, 'd');
  mkdirSync(dir);
  const a = loadHostStatAddon();
  if (!a) throw new Error('the addon did not load (build native/ first: bash scripts/setup.sh)');
  addon = a;
  native = addonHostFs(addon);
});

afterEach(() => tmp.cleanup());

/** Names whose order differs between byte order and JavaScript's (UTF-16 code unit) order. */
const ORDER_NAMES = ['a', 'B', 'a\uE000', 'a\uFFFF', 'a\u{1F600}', 'a\u{10FFFF}', 'a\uD7FF', 'a\u00E9', 'a\u0800', 'aa', 'a\u007F', '\u{1F600}', '\uFFFD', 'x\uFFFDy'];

function populate(): void {
  writeFileSync(join(dir, 'file'), 'hello');
  mkdirSync(join(dir, 'sub'));
  symlinkSync('file', join(dir, 'link'));
  symlinkSync('nowhere', join(dir, 'dangling'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  writeFileSync(Buffer.concat([Buffer.from(`${dir}/bad-`), Buffer.from([0xff, 0xfe])]), 'not utf-8');
  writeFileSync(join(dir, 'é'.repeat(127) + 'x'), '255 bytes'); // 2 * 127 + 1
  for (const n of ORDER_NAMES) writeFileSync(join(dir, n), n);
  // before 1970: a negative second and a positive nanosecond, as the kernel has it
  execFileSync('touch', ['-h', '-d', '1960-01-01 00:00:00.5 UTC', join(dir, 'file')]);
}

describe('hostList', () => {
  it('lists what node:fs lists: names, order, every field; non-UTF-8 names counted, not listed', () => {
    populate();
    const got = native.list(dir);
    const want = nodeHostFs.list(dir);
    expect(got).toEqual(want);
    expect(got.unnamed).toBe(1);
    expect(got.names).toEqual([...got.names].sort());
    expect(got.names).toContain('\uFFFD');
    expect(got.names).toContain('é'.repeat(127) + 'x');
    for (const n of ['file', 'sub', 'link', 'dangling', 'fifo', ...ORDER_NAMES]) expect(got.names).toContain(n);
    expect(got.names.some((n) => n.startsWith('bad-'))).toBe(false);
    // and against lstat itself, field by field
    const i = got.names.indexOf('file');
    const st = lstatSync(join(dir, 'file'), { bigint: true });
    expect(got.stats[i]).toEqual(fromBigIntStats(st));
    expect(got.stats[i]!.mtime).toEqual({ sec: -315619200, nsec: 500_000_000 });
    expect(got.stats[i]!.ino).toBe(Number(st.ino));
    expect(got.stats[i]!.dev).toBe(Number(st.dev));
    expect(got.stats[got.names.indexOf('fifo')]!.mode & 0o170000).toBe(0o010000);
    expect(got.stats[got.names.indexOf('dangling')]!.mode & 0o170000).toBe(0o120000);
  });

  it('orders any valid name as Array.prototype.sort does', () => {
    // random names from every UTF-8 length class, the ranges around the surrogates included
    const ranges = [[0x21, 0x7e], [0x80, 0x7ff], [0x800, 0xd7ff], [0xe000, 0xffff], [0x10000, 0x10ffff]] as const;
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const names = new Set<string>();
    while (names.size < 300) {
      let s = '';
      for (let k = 1 + rnd(4); k > 0; k--) {
        const [lo, hi] = ranges[rnd(ranges.length)]!;
        const cp = lo + rnd(hi - lo + 1);
        if (cp !== 0x2f && cp !== 0x2e) s += String.fromCodePoint(cp);
      }
      if (s) names.add(s);
    }
    for (const n of names) writeFileSync(join(dir, n), '');
    expect(native.list(dir).names).toEqual([...names].sort());
  });

  it('returns the errno for a missing directory and for a file', () => {
    writeFileSync(join(dir, 'f'), '');
    expect(addon.hostListAt(AT_FDCWD, join(dir, 'missing/'))).toBe(constants.errno.ENOENT);
    expect(addon.hostListAt(AT_FDCWD, join(dir, 'f/'))).toBe(constants.errno.ENOTDIR);
    expect(() => native.list(join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'scandir' }));
  });

  it('leaves out entries removed between readdir and their lstat', async () => {
    // A second process removes and re-creates files while the directory is listed again and
    // again: some listings see a name whose lstat then finds nothing. Those must neither fail
    // nor show the entry.
    const names = Array.from({ length: 400 }, (_, i) => `f${i}`);
    for (const n of names) writeFileSync(join(dir, n), '');
    const churn = spawn(process.execPath, [
      '-e',
      `const fs = require('fs'); const d = ${JSON.stringify(dir)};
       for (;;) for (let i = 0; i < 400; i++) { try { fs.unlinkSync(d + '/f' + i); } catch {} fs.writeFileSync(d + '/f' + i, ''); }`,
    ]);
    try {
      await new Promise((r) => setTimeout(r, 100));
      let short = 0;
      // at least 400 listings, and on until some of them came out short (a loaded machine may
      // run the other process rarely)
      for (let k = 0; k < 400 || (short < 5 && k < 20_000); k++) {
        const r = addon.hostListAt(AT_FDCWD, `${dir}/`);
        expect(typeof r).toBe('object');
        if (typeof r === 'number') break;
        expect(r.stats.length).toBe(r.names.length * addon.hostStatFields.length);
        if (r.names.length < names.length) short++;
      }
      expect(short).toBeGreaterThan(0);
    } finally {
      churn.kill('SIGKILL');
      await new Promise((r) => churn.once('exit', r));
    }
  });
});

describe('hostLstat', () => {
  it('gives what node:fs gives, undefined for a missing path or a file as a parent', () => {
    populate();
    for (const n of ['file', 'sub', 'link', 'dangling', 'fifo', '\uFFFD']) {
      expect(native.lstat(join(dir, n))).toEqual(nodeHostFs.lstat(join(dir, n)));
    }
    expect(native.lstat(join(dir, 'missing'))).toBeUndefined();
    expect(native.lstat(join(dir, 'file', 'below'))).toBeUndefined();
    expect(nodeHostFs.lstat(join(dir, 'file', 'below'))).toBeUndefined();
    expect(() => native.lstat(join(dir, 'x'.repeat(300)))).toThrow(expect.objectContaining({ code: 'ENAMETOOLONG', syscall: 'lstat' }));
  });

  it('gives the birth time in the same call (statx), where the file system keeps one, as node:fs does', () => {
    writeFileSync(join(dir, 'f'), 'x');
    const st = lstatSync(join(dir, 'f'), { bigint: true });
    const got = native.lstat(join(dir, 'f'))!;
    if (st.birthtimeNs === 0n) expect(got.birth).toBeUndefined();
    else expect(got.birth).toEqual({ sec: Number(st.birthtimeNs / 1_000_000_000n), nsec: Number(st.birthtimeNs % 1_000_000_000n) });
    // unlike the ctime, a change leaves it as it is
    execFileSync('chmod', ['600', join(dir, 'f')]);
    writeFileSync(join(dir, 'f'), 'changed');
    expect(native.lstat(join(dir, 'f'))!.birth).toEqual(got.birth);
  });

  it('takes node:fs for values a double cannot hold exactly (EOVERFLOW)', () => {
    populate();
    const overflowing: HostStatAddon = {
      hostStatFields: addon.hostStatFields,
      hostListAt: () => constants.errno.EOVERFLOW,
      hostLstatAt: () => constants.errno.EOVERFLOW,
      hostReadlinkAt: addon.hostReadlinkAt,
      hostOpenFile: addon.hostOpenFile,
    };
    const fs = addonHostFs(overflowing);
    expect(fs.list(dir)).toEqual(nodeHostFs.list(dir));
    expect(fs.lstat(join(dir, 'file'))).toEqual(nodeHostFs.lstat(join(dir, 'file')));
    const d = openSync(dir, 'r');
    try {
      expect(fs.list('sub', d)).toEqual(nodeHostFs.list(dir + '/sub'));
      expect(fs.lstat('file', d)).toEqual(nodeHostFs.lstat(join(dir, 'file')));
    } finally {
      closeSync(d);
    }
  });
});

describe('hostOpenFile', () => {
  it('opens a regular file beneath the directory, and nothing reached through a symlink or out of it', () => {
    writeFileSync(join(dir, 'f'), 'content');
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'g'), 'deeper');
    writeFileSync(join(tmp.dir, 'outside'), 'secret');
    symlinkSync(tmp.dir, join(dir, 'link-out'));
    symlinkSync('f', join(dir, 'link-f'));
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    const d = openSync(dir, 'r');
    try {
      const read = (fd: number) => {
        try {
          return readFileSync(fd, 'utf8');
        } finally {
          closeSync(fd);
        }
      };
      expect(read(native.openFile(d, 'f')!)).toBe('content');
      expect(read(native.openFile(d, 'sub/g')!)).toBe('deeper');
      const { ELOOP, EXDEV, EINVAL, ENOENT } = constants.errno;
      expect(native.openFile(d, 'link-out/outside')).toBe(-ELOOP);
      expect(native.openFile(d, 'link-f')).toBe(-ELOOP);
      expect(native.openFile(d, '../outside')).toBe(-EXDEV);
      expect(native.openFile(d, 'sub')).toBe(-EINVAL);
      expect(native.openFile(d, 'fifo')).toBe(-EINVAL); // not opened for reading and waited on
      expect(native.openFile(d, 'missing')).toBe(-ENOENT);
      expect(nodeHostFs.openFile(d, 'f')).toBeUndefined();
    } finally {
      closeSync(d);
    }
  });

  it('BaseReader reads through it, and refuses a directory swapped for a symlink with ELOOP either way', () => {
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'g'), 'deeper');
    mkdirSync(join(tmp.dir, 'elsewhere'));
    writeFileSync(join(tmp.dir, 'elsewhere', 'g'), 'secret');
    for (const host of [native, nodeHostFs]) {
      const r = new BaseReader(dir, { host });
      try {
        expect(r.read('/sub/g', 0, 100).toString()).toBe('deeper');
      } finally {
        r.close();
      }
    }
    renameSync(join(dir, 'sub'), join(dir, 'sub-old'));
    symlinkSync(join(tmp.dir, 'elsewhere'), join(dir, 'sub'));
    for (const host of [native, nodeHostFs]) {
      const r = new BaseReader(dir, { host });
      try {
        let err: unknown;
        try {
          r.read('/sub/g', 0, 100);
        } catch (e) {
          err = e;
        }
        expect(isFsError(err) && err.code, host.native ? 'addon' : 'node:fs').toBe('ELOOP');
      } finally {
        r.close();
      }
    }
  });
});

describe('beneath a directory descriptor', () => {
  /** dir/sub/g; elsewhere/g outside; then dir/sub swapped for a symlink to elsewhere */
  function swapped(): void {
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'g'), 'deeper');
    symlinkSync('g', join(dir, 'sub', 'l'));
    mkdirSync(join(tmp.dir, 'elsewhere'));
    writeFileSync(join(tmp.dir, 'elsewhere', 'g'), 'secret, and longer');
    symlinkSync('/etc/passwd', join(tmp.dir, 'elsewhere', 'l'));
  }

  it('the addon stats, lists and reads links through no symlink on the way, and not out of the directory', () => {
    swapped();
    const d = openSync(dir, 'r');
    const out = new Float64Array(addon.hostStatFields.length);
    const { ENOTDIR } = constants.errno;
    try {
      expect(addon.hostLstatAt(d, 'sub/g', out)).toBe(0);
      expect(out[5]).toBe(6); // size
      expect(addon.hostLstatAt(d, '', out)).toBe(0);
      expect(out[0]).toBe(Number(lstatSync(dir).ino));
      expect((addon.hostReadlinkAt(d, 'sub/l') as Buffer).toString()).toBe('g');
      expect((addon.hostListAt(d, 'sub') as { names: string[] }).names).toEqual(['g', 'l']);
      renameSync(join(dir, 'sub'), join(dir, 'sub-old'));
      symlinkSync(join(tmp.dir, 'elsewhere'), join(dir, 'sub'));
      expect(addon.hostLstatAt(d, 'sub/g', out)).toBe(ENOTDIR);
      expect(addon.hostReadlinkAt(d, 'sub/l')).toBe(ENOTDIR);
      expect(addon.hostListAt(d, 'sub')).toBe(ENOTDIR);
      expect(addon.hostLstatAt(d, '../elsewhere/g', out)).toBe(ENOTDIR);
      expect(addon.hostLstatAt(d, 'sub', out)).toBe(0); // the symlink itself
      // AT_FDCWD: the caller's own path, followed as any path is
      expect(addon.hostLstatAt(AT_FDCWD, join(dir, 'sub/g'), out)).toBe(0);
      expect(out[5]).toBe(18);
    } finally {
      closeSync(d);
    }
  });

  it('BaseReader shows nothing of what a directory swapped for a symlink leads to', () => {
    swapped();
    const r = new BaseReader(dir, { host: native });
    try {
      expect(r.lstat('/sub/g')!.size).toBe(6);
      expect(r.readlink('/sub/l')).toBe('g');
      expect(r.list('/sub').map((e) => e.name)).toEqual(['g', 'l']);
      renameSync(join(dir, 'sub'), join(dir, 'sub-old'));
      symlinkSync(join(tmp.dir, 'elsewhere'), join(dir, 'sub'));
      r.forgetAll();
      expect(r.lstat('/sub/g')).toBeUndefined();
      expect(r.list('/sub')).toEqual([]);
      expect(() => r.readlink('/sub/l')).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
      expect(r.lstat('/sub')!.mode & 0o170000).toBe(0o120000);
    } finally {
      r.close();
    }
  });
});

describe('BaseReader over either implementation', () => {
  it('uses the addon when it loads, node:fs with AGENTFS_NATIVE_HOST=0', () => {
    expect(hostFs().native).toBe(true);
    const dist = fileURLToPath(new URL('../../dist/core/overlay/host-stat.js', import.meta.url));
    const script = `import(${JSON.stringify(dist)}).then((m) => process.stdout.write(String(m.hostFs().native)))`;
    const native = (v?: string) => {
      const env = { ...process.env };
      delete env.AGENTFS_NATIVE_HOST;
      if (v !== undefined) env.AGENTFS_NATIVE_HOST = v;
      return execFileSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
    };
    expect(native('0')).toBe('false');
    expect(native(undefined)).toBe('true');
  });

  it('shows the same base with the addon and without it (node:fs injected)', () => {
    populate();
    mkdirSync(join(dir, 'sub', 'deeper'));
    writeFileSync(join(dir, 'sub', 'deeper', 'leaf'), 'x');
    const a = new BaseReader(dir, { host: native });
    const b = new BaseReader(dir, { host: nodeHostFs });
    try {
      for (const p of ['/', '/sub', '/sub/deeper', '/file', '/missing', '/file/below']) {
        expect(a.list(p)).toEqual(b.list(p));
        expect(a.lstat(p)).toEqual(b.lstat(p));
      }
      expect(a.hasUnnamed('/')).toBe(true);
      expect(b.hasUnnamed('/')).toBe(true);
      expect(a.hasUnnamed('/sub')).toBe(false);
      expect(a.list('/').map((e) => e.name)).toEqual(b.list('/').map((e) => e.name));
      // a path that is too long for the kernel still maps to the overlay's error
      const long = '/' + 'y'.repeat(300);
      for (const r of [a, b]) expect(() => r.list(long)).toThrow(expect.objectContaining({ code: 'ENAMETOOLONG' }));
      expect(isFsError((() => { try { a.lstat(long); } catch (e) { return e; } })(), 'ENAMETOOLONG')).toBe(true);
    } finally {
      a.close();
      b.close();
    }
  });
});
