// An overlay mount answers GETATTR, read-only OPEN, READ and RELEASE of the files that are exactly
// host files from the host, in the addon (native/host_files.h). Each case here checks that those
// answers are the ones JavaScript gives, and that a change which makes a file something else
// (a copy-up, a chmod, a directory renamed above it) takes it back first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chmodSync, closeSync, fstatSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmdirSync, rmSync, symlinkSync,
  unlinkSync, writeFileSync, writeSync, constants as C,
} from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/cli.js';
import { forceUnmount, mountTracedOverlay, unmountOk } from '../support/fuse.js';

let tmp: { dir: string; cleanup: () => void };
let base: string;
const mounts: { mnt: string; pid: number; trace: string }[] = [];

/** A mount of a new overlay agent over `base`; `env` for the server (AGENTFS_NATIVE_READS=0: JavaScript only). */
async function mountOverlay(name: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ mnt: string; pid: number; trace: string }> {
  const m = await mountTracedOverlay(tmp.dir, base, name, extra, env);
  mounts.push(m);
  return m;
}

const unmount = unmountOk;

/** How many requests the addon answered from host files, from the trace written at unmount. */
function hostServed(trace: string): number {
  const m = /native host-file reads: (\d+) served/.exec(readFileSync(trace, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Requests the addon left to JavaScript (host files it did not hold), from the same trace. */
function hostDeclined(trace: string): number {
  const m = /native host-file reads: \d+ served \(\d+ listing pages\), (\d+) left to JavaScript/.exec(readFileSync(trace, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Every page cache dropped: the next read of a file goes to its server. */
function dropCaches(): void {
  writeFileSync('/proc/sys/vm/drop_caches', '1');
}

function readAll(fd: number): string {
  const buf = Buffer.alloc(1 << 16);
  const n = readSync(fd, buf, 0, buf.length, 0);
  return buf.subarray(0, n).toString();
}

beforeAll(() => {
  tmp = tempDir('agentfs-hostfiles-');
  base = join(tmp.dir, 'base');
  mkdirSync(join(base, 'dir/sub'), { recursive: true });
  writeFileSync(join(base, 'a.txt'), 'alpha\n');
  writeFileSync(join(base, 'empty'), '');
  writeFileSync(join(base, 'dir/b.bin'), Buffer.alloc(300_000, 7));
  writeFileSync(join(base, 'dir/sub/c.txt'), 'gamma\n');
  chmodSync(join(base, 'dir/sub/c.txt'), 0o600);
  linkSync(join(base, 'a.txt'), join(base, 'dir/a-link'));
  symlinkSync('a.txt', join(base, 'sym'));
});

afterAll(async () => {
  for (const m of mounts) await forceUnmount(m.mnt, m.pid);
  tmp.cleanup();
});

describe('overlay mount: host files answered natively', () => {
  it('attributes and contents equal those JavaScript serves, and the addon served them', async () => {
    const native = await mountOverlay('native');
    const js = await mountOverlay('js', [], { AGENTFS_NATIVE_READS: '0' });
    const paths = ['a.txt', 'empty', 'dir', 'dir/b.bin', 'dir/sub', 'dir/sub/c.txt', 'dir/a-link', 'sym'];
    const files = ['a.txt', 'empty', 'dir/b.bin', 'dir/sub/c.txt', 'dir/a-link'];
    const want = files.map((p) => readFileSync(join(base, p)));
    // contents first (a first read moves the host's atime), then attributes once the kernels'
    // cached ones are out of date, twice (the second time by GETATTR of open files too)
    files.forEach((p, i) => {
      expect(readFileSync(join(native.mnt, p)), p).toEqual(want[i]);
      expect(readFileSync(join(js.mnt, p)), p).toEqual(want[i]);
    });
    const fields = (s: BigIntStats) => [s.ino, s.mode, s.nlink, s.uid, s.gid, s.size, s.blocks, s.atimeNs, s.mtimeNs, s.ctimeNs];
    const fds = files.map((p) => [openSync(join(native.mnt, p), 'r'), openSync(join(js.mnt, p), 'r')] as const);
    try {
      for (let round = 0; round < 2; round++) {
        await new Promise((r) => setTimeout(r, 1100));
        for (const p of paths) {
          const a = lstatSync(join(native.mnt, p), { bigint: true });
          expect(fields(a), p).toEqual(fields(lstatSync(join(js.mnt, p), { bigint: true })));
          expect(fields(a), p).toEqual(fields(lstatSync(join(base, p), { bigint: true })));
        }
        fds.forEach(([n, j], i) => expect(fields(fstatSync(n, { bigint: true })), files[i]).toEqual(fields(fstatSync(j, { bigint: true }))));
      }
    } finally {
      for (const [n, j] of fds) {
        closeSync(n);
        closeSync(j);
      }
    }
    await unmount(native);
    await unmount(js);
    expect(hostServed(native.trace)).toBeGreaterThan(10);
    // and left nothing else to JavaScript: the lookups of the hard-linked file's two names (a.txt,
    // dir/a-link) are its to answer; every GETATTR's lstat (from the base's descriptor) found its file
    expect(hostDeclined(native.trace)).toBe(2);
    expect(hostServed(js.trace)).toBe(0);
  });

  it('a read-only handle opened before a copy-up reads the copy, and fstat shows it', async () => {
    writeFileSync(join(base, 'cu.txt'), 'original content\n');
    const m = await mountOverlay('copyup');
    const f = join(m.mnt, 'cu.txt');
    const ro = openSync(f, 'r');
    try {
      expect(readAll(ro)).toBe('original content\n');
      const rw = openSync(f, C.O_WRONLY | C.O_TRUNC);
      writeSync(rw, 'changed\n');
      closeSync(rw);
      dropCaches();
      expect(readAll(ro)).toBe('changed\n');
      expect(fstatSync(ro).size).toBe(8);
      expect(readFileSync(f, 'utf8')).toBe('changed\n');
    } finally {
      closeSync(ro);
    }
    expect(readFileSync(join(base, 'cu.txt'), 'utf8')).toBe('original content\n');
    await unmount(m);
  });

  it('chmod and a write copy up: stat shows the overlay file at once, the host file is untouched', async () => {
    writeFileSync(join(base, 'mode.txt'), 'm\n');
    const m = await mountOverlay('chmod');
    const f = join(m.mnt, 'mode.txt');
    expect(lstatSync(f).mode & 0o777).toBe(0o644);
    expect(readFileSync(f, 'utf8')).toBe('m\n');
    chmodSync(f, 0o751);
    expect(lstatSync(f).mode & 0o777).toBe(0o751);
    writeFileSync(f, 'longer now\n', { flag: 'a' });
    dropCaches();
    expect(lstatSync(f).size).toBe(13);
    expect(readFileSync(f, 'utf8')).toBe('m\nlonger now\n');
    expect(lstatSync(join(base, 'mode.txt')).mode & 0o777).toBe(0o644);
    expect(readFileSync(join(base, 'mode.txt'), 'utf8')).toBe('m\n');
    await unmount(m);
  });

  it('files under a directory renamed in the overlay stat, read and change under the new name', async () => {
    mkdirSync(join(base, 'mv/in'), { recursive: true });
    writeFileSync(join(base, 'mv/in/x.txt'), 'x1\n');
    const m = await mountOverlay('rename');
    expect(readFileSync(join(m.mnt, 'mv/in/x.txt'), 'utf8')).toBe('x1\n');
    renameSync(join(m.mnt, 'mv'), join(m.mnt, 'moved'));
    dropCaches();
    expect(readFileSync(join(m.mnt, 'moved/in/x.txt'), 'utf8')).toBe('x1\n');
    expect(() => lstatSync(join(m.mnt, 'mv'))).toThrow(/ENOENT/);
    writeFileSync(join(m.mnt, 'moved/in/x.txt'), 'x2 changed\n');
    dropCaches();
    expect(lstatSync(join(m.mnt, 'moved/in/x.txt')).size).toBe(11);
    expect(readFileSync(join(m.mnt, 'moved/in/x.txt'), 'utf8')).toBe('x2 changed\n');
    expect(readFileSync(join(base, 'mv/in/x.txt'), 'utf8')).toBe('x1\n');
    await unmount(m);
  });

  it('a host change to a base file shows after the attribute timeout (attributes and content)', async () => {
    writeFileSync(join(base, 'host.txt'), 'v1\n');
    const m = await mountOverlay('host');
    const f = join(m.mnt, 'host.txt');
    expect(readFileSync(f, 'utf8')).toBe('v1\n');
    expect(readFileSync(f, 'utf8')).toBe('v1\n');
    writeFileSync(join(base, 'host.txt'), 'version two\n');
    await new Promise((r) => setTimeout(r, 1500));
    expect(lstatSync(f).size).toBe(12);
    expect(readFileSync(f, 'utf8')).toBe('version two\n');
    await unmount(m);
  });

  it('an open base file unlinked in the overlay still reads through its handle; the host keeps it', async () => {
    writeFileSync(join(base, 'gone.txt'), 'still here\n');
    const m = await mountOverlay('unlink');
    const f = join(m.mnt, 'gone.txt');
    const fd = openSync(f, 'r');
    try {
      unlinkSync(f);
      expect(() => lstatSync(f)).toThrow(/ENOENT/);
      dropCaches();
      expect(readAll(fd)).toBe('still here\n');
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(join(base, 'gone.txt'), 'utf8')).toBe('still here\n');
    await unmount(m);
  });

  it('a directory listing kept by the kernel follows changes through the mount and on the host', async () => {
    mkdirSync(join(base, 'ls'));
    for (const n of ['a', 'b', 'c']) writeFileSync(join(base, 'ls', n), n);
    const m = await mountOverlay('listing');
    const d = join(m.mnt, 'ls');
    const names = () => readdirSync(d).sort().join(',');
    // the first listing is fetched by JavaScript; later opens keep it (opened by the addon)
    for (let i = 0; i < 3; i++) expect(names()).toBe('a,b,c');
    unlinkSync(join(d, 'b'));
    expect(names()).toBe('a,c');
    expect(names()).toBe('a,c');
    writeFileSync(join(base, 'ls', 'host-added'), 'h'); // moves the host directory's mtime
    expect(names()).toBe('a,c,host-added');
    writeFileSync(join(d, 'mine'), 'm'); // the directory is the delta's now
    expect(names()).toBe('a,c,host-added,mine');
    await unmount(m);
    expect(hostServed(m.trace)).toBeGreaterThan(0);
  });

  it('a file renamed (over a host file too) takes back only itself and the file it replaced', async () => {
    // git's index.lock -> index: before, any file rename took every host file back, and every
    // later GETATTR, OPEN and OPENDIR of them went to JavaScript
    mkdirSync(join(base, 'many'));
    const names = Array.from({ length: 40 }, (_, i) => `f${i}`);
    for (const n of names) writeFileSync(join(base, 'many', n), `${n}\n`);
    writeFileSync(join(base, 'replaced.txt'), 'host version\n');
    const native = await mountOverlay('rename-one');
    const js = await mountOverlay('rename-one-js', [], { AGENTFS_NATIVE_READS: '0' });
    const fields = (s: BigIntStats) => [s.ino, s.mode, s.nlink, s.uid, s.gid, s.size, s.blocks, s.mtimeNs, s.ctimeNs];
    const held: number[] = [];
    try {
      for (const m of [native, js]) {
        for (const n of names) expect(readFileSync(join(m.mnt, 'many', n), 'utf8')).toBe(`${n}\n`);
        held.push(openSync(join(m.mnt, 'replaced.txt'), 'r')); // the replaced file, still open
        writeFileSync(join(m.mnt, 'new.tmp'), 'delta version\n');
        renameSync(join(m.mnt, 'new.tmp'), join(m.mnt, 'replaced.txt'));
        writeFileSync(join(m.mnt, 'other.tmp'), 'x');
        renameSync(join(m.mnt, 'other.tmp'), join(m.mnt, 'many', 'moved'));
      }
      await new Promise((r) => setTimeout(r, 1100)); // the kernel's attributes are out of date
      dropCaches();
      for (const p of ['replaced.txt', 'many/moved', ...names.map((n) => `many/${n}`)]) {
        // the two delta files were written at different times in the two mounts
        const f = p.startsWith('many/f') ? fields : (s: BigIntStats) => fields(s).slice(0, -2);
        expect(f(lstatSync(join(native.mnt, p), { bigint: true })), p).toEqual(f(lstatSync(join(js.mnt, p), { bigint: true })));
        expect(readFileSync(join(native.mnt, p)), p).toEqual(readFileSync(join(js.mnt, p)));
      }
      expect(readFileSync(join(native.mnt, 'replaced.txt'), 'utf8')).toBe('delta version\n');
      // the replaced host file, open across the rename: what JavaScript shows, not the host file
      expect(fields(fstatSync(held[0], { bigint: true }))).toEqual(fields(fstatSync(held[1], { bigint: true })));
      expect(readAll(held[0])).toBe('host version\n');
    } finally {
      for (const fd of held) closeSync(fd);
    }
    await unmount(native);
    await unmount(js);
    expect(readFileSync(join(base, 'replaced.txt'), 'utf8')).toBe('host version\n');
    // the 40 files' GETATTR and OPEN after the rename were answered from the host
    expect(hostServed(native.trace)).toBeGreaterThan(80);
    expect(hostDeclined(native.trace)).toBeLessThan(25); // 49 when every host file was taken back
  });

  it('a directory removed, moved, made over a removed one, or a refused move takes back only the directories it names', async () => {
    // before, each of these took every host file back, and `git status` after an `rm -rf` of a
    // build directory (or a `mv` of one) asked JavaScript for each of its lstats: 3-4x as long
    mkdirSync(join(base, 'kept'));
    const names = Array.from({ length: 40 }, (_, i) => `k${i}`);
    for (const n of names) writeFileSync(join(base, 'kept', n), `${n}\n`);
    mkdirSync(join(base, 'tree/in'), { recursive: true });
    writeFileSync(join(base, 'tree/in/t.txt'), 'tree\n');
    mkdirSync(join(base, 'redo'));
    writeFileSync(join(base, 'redo/old.txt'), 'old\n');
    for (const d of ['full', 'full2']) {
      mkdirSync(join(base, d));
      writeFileSync(join(base, d, 'f'), `${d}\n`);
    }
    const native = await mountOverlay('dir-changes');
    const js = await mountOverlay('dir-changes-js', [], { AGENTFS_NATIVE_READS: '0' });
    const fields = (s: BigIntStats) => [s.ino, s.mode, s.nlink, s.uid, s.gid, s.size, s.blocks, s.mtimeNs, s.ctimeNs];
    for (const m of [native, js]) {
      const at = (p: string) => join(m.mnt, p);
      for (const n of names) expect(readFileSync(at(`kept/${n}`), 'utf8')).toBe(`${n}\n`);
      mkdirSync(at('made'));
      rmdirSync(at('made')); // a directory only the delta had
      mkdirSync(at('y'));
      renameSync(at('y'), at('z')); // one the delta made, moved
      renameSync(at('tree'), at('tree2')); // a host directory, moved
      rmSync(at('redo'), { recursive: true });
      mkdirSync(at('redo')); // made over the one removed: empty
      expect(() => renameSync(at('full'), at('full2'))).toThrow(/ENOTEMPTY|EEXIST/);
    }
    await new Promise((r) => setTimeout(r, 1100)); // the kernel's attributes are out of date
    dropCaches();
    for (const p of names.map((n) => `kept/${n}`)) {
      expect(fields(lstatSync(join(native.mnt, p), { bigint: true })), p).toEqual(fields(lstatSync(join(js.mnt, p), { bigint: true })));
      expect(readFileSync(join(native.mnt, p), 'utf8'), p).toBe(readFileSync(join(base, p), 'utf8'));
    }
    for (const m of [native, js]) {
      expect(readFileSync(join(m.mnt, 'tree2/in/t.txt'), 'utf8')).toBe('tree\n');
      for (const gone of ['made', 'y', 'tree', 'redo/old.txt']) expect(() => lstatSync(join(m.mnt, gone)), gone).toThrow(/ENOENT/);
      expect(lstatSync(join(m.mnt, 'z')).isDirectory()).toBe(true);
      expect(readdirSync(join(m.mnt, 'redo'))).toEqual([]);
      expect(readFileSync(join(m.mnt, 'full/f'), 'utf8')).toBe('full\n');
      expect(readFileSync(join(m.mnt, 'full2/f'), 'utf8')).toBe('full2\n');
    }
    await unmount(native);
    await unmount(js);
    expect(readFileSync(join(base, 'tree/in/t.txt'), 'utf8')).toBe('tree\n');
    expect(readFileSync(join(base, 'redo/old.txt'), 'utf8')).toBe('old\n');
    // the 40 files' GETATTRs after the changes were answered from the host
    expect(hostServed(native.trace)).toBeGreaterThan(80);
    expect(hostDeclined(native.trace)).toBeLessThan(25);
  });

  it('a directory moved while its host directory is gone shows nothing the host puts back there (hostile pass)', async () => {
    // moved, it keeps no base layer: the host files once below it are not, even if the host
    // puts them back (the addon served them under the new name, with the new content)
    mkdirSync(join(base, 'away'));
    writeFileSync(join(base, 'away/f'), 'hello\n');
    const m = await mountOverlay('moved-gone');
    writeFileSync(join(m.mnt, 'away/new'), ''); // copied up: the delta's, showing the host's too
    expect(lstatSync(join(m.mnt, 'away/f')).size).toBe(6); // handed to the addon
    renameSync(join(base, 'away'), join(base, 'away-tmp'));
    await new Promise((r) => setTimeout(r, 1100)); // the kernel's names and attributes are out of date
    renameSync(join(m.mnt, 'away'), join(m.mnt, 'moved'));
    renameSync(join(base, 'away-tmp'), join(base, 'away'));
    writeFileSync(join(base, 'away/f'), 'changed on the host\n'); // the same host file
    await new Promise((r) => setTimeout(r, 1100));
    expect(readdirSync(join(m.mnt, 'moved'))).toEqual(['new']);
    // (an lstat may still meet the kernel's cached name and attributes: the host-cache contract)
    expect(() => readFileSync(join(m.mnt, 'moved/f'))).toThrow(/ENOENT|ESTALE/);
    await unmount(m);
  });

  it('a name a host directory lacks is answered absent by the addon; one made later, in the overlay or on the host, shows', async () => {
    mkdirSync(join(base, 'sparse/deep'), { recursive: true });
    const m = await mountOverlay('absent');
    const before = lstatSync(join(m.mnt, 'sparse/deep')); // JavaScript hands the directories out (and registers them)
    expect(before.isDirectory()).toBe(true);
    const missing = (p: string) => expect(() => lstatSync(join(m.mnt, p))).toThrow(/ENOENT/);
    for (let i = 0; i < 40; i++) missing(`sparse/deep/none-${i}`);
    missing('sparse/none/below'); // a missing directory on the way
    // a name the host gains shows at once (this mount caches no missing names)
    writeFileSync(join(base, 'sparse/deep/from-host'), 'h\n');
    expect(readFileSync(join(m.mnt, 'sparse/deep/from-host'), 'utf8')).toBe('h\n');
    // a name made in the overlay (its directory is copied up) shows, and others stay absent
    writeFileSync(join(m.mnt, 'sparse/deep/none-3'), 'o\n');
    expect(readFileSync(join(m.mnt, 'sparse/deep/none-3'), 'utf8')).toBe('o\n');
    missing('sparse/deep/none-4');
    expect(readdirSync(join(m.mnt, 'sparse/deep')).sort()).toEqual(['from-host', 'none-3']);
    expect(() => lstatSync(join(base, 'sparse/deep/none-3'))).toThrow(/ENOENT/);
    await unmount(m);
    expect(hostServed(m.trace)).toBeGreaterThanOrEqual(41);
  });

  it('--uid and --gid apply to host files too', async () => {
    writeFileSync(join(base, 'owned.txt'), 'o\n');
    const m = await mountOverlay('owner', ['--uid', '1234', '--gid', '4321']);
    const fd = openSync(join(m.mnt, 'owned.txt'), 'r');
    try {
      for (let round = 0; round < 2; round++) {
        const st = lstatSync(join(m.mnt, 'owned.txt'));
        expect([st.uid, st.gid]).toEqual([1234, 4321]);
        const fst = fstatSync(fd); // GETATTR once the attributes are out of date
        expect([fst.uid, fst.gid]).toEqual([1234, 4321]);
        await new Promise((r) => setTimeout(r, 1100));
      }
    } finally {
      closeSync(fd);
    }
    await unmount(m);
    expect(hostServed(m.trace)).toBeGreaterThan(0);
  });
});
