// Host files answered natively on an overlay mount (native/host_files.h), attacked the way other
// programs on the host and in the sandbox would: each case is a sequence that once gave a wrong
// answer through the addon.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSync, existsSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, readSync, renameSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runCli, tempDir } from '../support/cli.js';
import { forceUnmount, mountBg, unmountOk } from '../support/fuse.js';

let tmp: { dir: string; cleanup: () => void };
let base: string;
const mounts: { mnt: string; pid: number }[] = [];
/** trees past PATH_MAX, which tmp.cleanup (rmSync) cannot remove */
const deepTrees: string[] = [];

/** A mount of overlay agent `name` over `base` (made at its first mount) on a new directory `name` + `as`. */
async function mountOverlay(name: string, env: NodeJS.ProcessEnv = {}, as = ''): Promise<{ mnt: string; pid: number }> {
  const db = join(tmp.dir, `${name}.db`);
  const mnt = join(tmp.dir, name + as);
  mkdirSync(mnt);
  if (!existsSync(db)) {
    const init = await runCli(['init', db, '--base', base]);
    expect(init.code, init.stderr).toBe(0);
  }
  const m = { mnt, pid: await mountBg(db, mnt, [], undefined, env) };
  mounts.push(m);
  return m;
}

const unmount = unmountOk;

/** The whole file through one descriptor, as `cat` reads it: until a read returns nothing. */
function cat(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const parts: Buffer[] = [];
    const buf = Buffer.alloc(1 << 16);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) parts.push(Buffer.from(buf.subarray(0, n)));
    return Buffer.concat(parts).toString();
  } finally {
    closeSync(fd);
  }
}

/**
 * `cat` of a file read through the mount at `mnt`; 'off the mount' when the kernel, told the
 * directory on the way is now a symlink, followed it to a host file (read with the caller's own
 * rights, not the server's: that is what a symlink in the overlay is).
 */
function catOnMount(path: string, mnt: string): string {
  const fd = openSync(path, 'r');
  try {
    if (fstatSync(fd).dev !== statSync(mnt).dev) return 'off the mount';
  } finally {
    closeSync(fd);
  }
  return cat(path);
}

/** Every page cache dropped: the next read of a file goes to its server. */
function dropCaches(): void {
  writeFileSync('/proc/sys/vm/drop_caches', '1');
}

beforeAll(() => {
  tmp = tempDir('agentfs-hosthostile-');
  base = join(tmp.dir, 'base');
  mkdirSync(base);
});

afterAll(async () => {
  for (const m of mounts) await forceUnmount(m.mnt, m.pid);
  for (const dir of deepTrees) spawnSync('python3', ['-c', 'import shutil, sys; shutil.rmtree(sys.argv[1], ignore_errors=True)', dir]);
  tmp.cleanup();
});

describe('overlay mount: host files under attack', () => {
  it('a host rewrite that keeps the size and puts the mtime back is read, not the kernel\'s old pages', async () => {
    const host = join(base, 'same.txt');
    writeFileSync(host, 'first\n');
    const when = new Date('2020-01-02T03:04:05Z');
    utimesSync(host, when, when);
    const m = await mountOverlay('samesize');
    const f = join(m.mnt, 'same.txt');
    // twice: the first release tells the addon what the kernel's pages hold
    expect(cat(f)).toBe('first\n');
    expect(cat(f)).toBe('first\n');
    // cp -p, rsync, touch -d: same size, same mtime; only the ctime moved
    writeFileSync(host, 'other\n');
    utimesSync(host, when, when);
    expect(cat(f)).toBe('other\n');
    await unmount(m);
  });

  it('a host file that grew since the kernel held its pages is read whole, at its new size', async () => {
    const host = join(base, 'grow.txt');
    writeFileSync(host, 'v1\n');
    const m = await mountOverlay('grow');
    const f = join(m.mnt, 'grow.txt');
    expect(cat(f)).toBe('v1\n');
    expect(cat(f)).toBe('v1\n');
    expect(statSync(f).size).toBe(3);
    writeFileSync(host, 'version two\n');
    // the kernel still holds the old size (a mount watches its database, not the host: attributes
    // are kept up to 60 s); the open that finds the file changed must make it ask again
    await new Promise((r) => setTimeout(r, 1500));
    const fd = openSync(f, 'r');
    try {
      expect(cat(f)).toBe('version two\n');
      expect(fstatSync(fd).size).toBe(12);
    } finally {
      closeSync(fd);
    }
    await unmount(m);
  });

  for (const mode of ['native', 'JavaScript'] as const) {
    it(`a second mount of the agent (${mode}) sees what the first removed and wrote`, async () => {
      const name = `two-${mode}`;
      mkdirSync(join(base, name));
      for (const n of ['gone', 'kept', 'changed']) writeFileSync(join(base, name, n), `${n}\n`);
      const env = mode === 'native' ? {} : { AGENTFS_NATIVE_READS: '0' };
      const a = await mountOverlay(name, env, '-a');
      const b = await mountOverlay(name, env, '-b');
      const [da, db] = [join(a.mnt, name), join(b.mnt, name)];
      // both have looked at every file, read it, and hold one open
      for (const d of [da, db]) {
        expect(readdirSync(d).sort()).toEqual(['changed', 'gone', 'kept']);
        for (const n of ['gone', 'kept', 'changed']) expect(cat(join(d, n))).toBe(`${n}\n`);
      }
      const fd = openSync(join(da, 'changed'), 'r');
      try {
        unlinkSync(join(db, 'gone'));
        writeFileSync(join(db, 'changed'), 'written by b\n');
        // b's changes reach a through the database (a polls it every 100 ms): looked at until then.
        // The unlink and the write are two commits, and a's poll may fall between them: wait for both.
        const seen = () => readdirSync(da).length === 2 && cat(join(da, 'changed')) === 'written by b\n';
        for (let i = 0; i < 100 && !seen(); i++) await new Promise((r) => setTimeout(r, 100));
        expect(readdirSync(da).sort()).toEqual(['changed', 'kept']);
        expect(() => statSync(join(da, 'gone'))).toThrow(/ENOENT/);
        expect(cat(join(da, 'changed'))).toBe('written by b\n');
        expect(statSync(join(da, 'changed')).size).toBe(13);
      } finally {
        closeSync(fd);
      }
      expect(readFileSync(join(base, name, 'gone'), 'utf8')).toBe('gone\n');
      await unmount(a);
      await unmount(b);
    });
  }

  it('commit and discard refuse while the agent is mounted (its overlay would show a broken tree), and work once it is not', async () => {
    mkdirSync(join(base, 'cm'));
    writeFileSync(join(base, 'cm/c'), 'orig\n');
    const m = await mountOverlay('commit');
    const db = join(tmp.dir, 'commit.db');
    writeFileSync(join(m.mnt, 'cm/c'), 'new\n');
    writeFileSync(join(m.mnt, 'cm/e'), 'added\n');
    const fd = openSync(join(m.mnt, 'cm/c'), 'r');
    try {
      for (const verb of ['commit', 'discard']) {
        const r = await runCli([verb, db]);
        expect(r.code, verb).not.toBe(0);
        expect(r.stderr.trim(), verb).toMatch(new RegExp(`^agentfs: .*mounted at .*${m.mnt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*$`));
      }
      expect(readFileSync(join(base, 'cm/c'), 'utf8')).toBe('orig\n');
      expect(existsSync(join(base, 'cm/e'))).toBe(false);
      expect((await runCli(['commit', '--dry-run', db])).code).toBe(0);
      // the mount still shows its tree, unchanged
      expect(readdirSync(join(m.mnt, 'cm')).sort()).toEqual(['c', 'e']);
      expect(cat(join(m.mnt, 'cm/c'))).toBe('new\n');
    } finally {
      closeSync(fd);
    }
    await unmount(m);
    const r = await runCli(['commit', db]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(base, 'cm/c'), 'utf8')).toBe('new\n');
    expect(readFileSync(join(base, 'cm/e'), 'utf8')).toBe('added\n');
  });

  for (const mode of ['native', 'JavaScript'] as const) {
    it(`a base directory swapped for a symlink on the host is not followed out of the base (${mode})`, async () => {
      // A user who owns the base swaps a directory the mount has looked up for a symlink to a
      // place only the server may read: with --uid mapping the file to that user, the kernel's
      // permission check then let them read it through the mount.
      const name = `swap-${mode}`;
      const outside = join(tmp.dir, `${name}-outside`);
      mkdirSync(join(base, name, 'd'), { recursive: true });
      mkdirSync(outside);
      writeFileSync(join(base, name, 'd/s'), 'decoy\n');
      writeFileSync(join(base, name, 'd/t'), 'decoy too\n');
      writeFileSync(join(outside, 's'), 'secret\n');
      writeFileSync(join(outside, 't'), 'secret too\n');
      const m = await mountOverlay(name, mode === 'native' ? {} : { AGENTFS_NATIVE_READS: '0' });
      const d = join(m.mnt, name, 'd');
      expect(readdirSync(d).sort()).toEqual(['s', 't']);
      expect(cat(join(d, 's'))).toBe('decoy\n');
      statSync(join(d, 't')); // looked up, never read
      renameSync(join(base, name, 'd'), join(base, name, 'd.old'));
      symlinkSync(outside, join(base, name, 'd'));
      dropCaches();
      for (const f of ['s', 't']) {
        let got: string;
        try {
          got = catOnMount(join(d, f), m.mnt);
        } catch (e) {
          got = (e as NodeJS.ErrnoException).code ?? String(e);
        }
        expect(got, f).not.toMatch(/secret/);
      }
      await unmount(m);
    });
  }

  it('a directory the host moves, with another put at its old name: a file under its new name is its own', async () => {
    // The addon answered the lookup of the moved directory's new name and told JavaScript later
    // (a quiet event): the file under it was still registered at the old path, so its open read
    // the file the host put there, and a write stored that content in the session.
    for (let round = 0; round < 2; round++) {
      const name = `moved-${round}`;
      mkdirSync(join(base, name, 'top', 'd'), { recursive: true });
      writeFileSync(join(base, name, 'top', 'd', 'x'), 'X1\n');
      const m = await mountOverlay(name);
      const top = join(m.mnt, name, 'top');
      expect(cat(join(top, 'd', 'x'))).toBe('X1\n');
      renameSync(join(base, name, 'top', 'd'), join(base, name, 'top', 'm'));
      mkdirSync(join(base, name, 'top', 'd'));
      writeFileSync(join(base, name, 'top', 'd', 'x'), 'EVIL\n');
      const moved = join(top, 'm', 'x');
      writeFileSync(moved, cat(moved).replace('1', '2'));
      expect(cat(moved)).toBe('X2\n');
      expect(readFileSync(join(base, name, 'top', 'm', 'x'), 'utf8')).toBe('X1\n');
      await unmount(m);
    }
  });

  for (const mode of ['native', 'javascript'] as const) {
    it(`a base directory swapped for a symlink out of the base: the attributes, names and listing beneath it are not the outside's (${mode} reads)`, async () => {
      // The kernel still holds the directory: a name it has not looked up yet, a listing, a
      // link's target were read through a path walk that followed the symlink on the way.
      const name = `beneath-${mode}`;
      const outside = join(tmp.dir, `${name}-outside`);
      mkdirSync(join(base, name, 'sub'), { recursive: true });
      writeFileSync(join(base, name, 'sub', 'g'), 'inside');
      mkdirSync(outside);
      writeFileSync(join(outside, 'g'), 'outside, and longer');
      writeFileSync(join(outside, 'extra'), 'secret');
      symlinkSync('/etc/passwd', join(outside, 'l'));
      const m = await mountOverlay(name, mode === 'native' ? {} : { AGENTFS_NATIVE_READS: '0' });
      const sub = join(m.mnt, name, 'sub');
      expect(readdirSync(sub)).toEqual(['g']);
      // g held by a descriptor across the swap, its attributes asked for again (statx
      // AT_STATX_FORCE_SYNC: the kernel's are not used): those of g inside, or none
      const py = [
        'import ctypes, os, struct, sys',
        'libc = ctypes.CDLL(None, use_errno=True)',
        'def size(fd):',
        '    buf = ctypes.create_string_buffer(256)',
        '    r = libc.syscall(332, fd, b"", 0x2000 | 0x1000, 0x7ff, buf)  # statx, FORCE_SYNC | AT_EMPTY_PATH',
        '    return os.strerror(ctypes.get_errno()) if r else str(struct.unpack_from("<Q", buf, 40)[0])',
        'fd = os.open(sys.argv[1], os.O_PATH)',
        'print(size(fd))',
        'os.rename(sys.argv[2], sys.argv[2] + "-old"); os.symlink(sys.argv[3], sys.argv[2])',
        'print(size(fd))',
      ].join('\n');
      const r = spawnSync('python3', ['-c', py, join(sub, 'g'), join(base, name, 'sub'), outside], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const [before, after] = r.stdout.trim().split('\n');
      expect(before).toBe('6');
      expect(after).not.toBe('19');
      // a name through the mount (the kernel, told `sub` is a symlink now, may follow it to the host)
      const dev = statSync(m.mnt).dev;
      const onMount = (p: string) => lstatSync(p, { throwIfNoEntry: false })?.dev === dev;
      expect(onMount(join(sub, 'extra'))).toBe(false);
      expect(onMount(join(sub, 'l'))).toBe(false);
      // the kernel, told the number is now a symlink's, may refuse the directory it held (EIO)
      let listed: string[] = [];
      try {
        if (onMount(sub)) listed = readdirSync(sub);
      } catch (e) {
        expect((e as NodeJS.ErrnoException).code).toBe('EIO');
      }
      expect(listed).not.toContain('extra');
      await unmount(m);
    });
  }

  it('past PATH_MAX too: a deep base directory swapped for a symlink is not followed out of the base', async () => {
    // 20 directories of 250 bytes, then d/s and d/t: the files' host paths are longer than one
    // call takes (opened in steps) and than the kernel names a descriptor by (checked by a walk)
    const name = 'deep-swap';
    const outside = join(tmp.dir, `${name}-outside`);
    const hop = 'x'.repeat(250);
    // tree(root, hops, text): root/hop.../d/{s,t}, made through descriptors (paths past PATH_MAX)
    const tree = (root: string, hops: number, text: string) => {
      const py = [
        'import os, sys',
        'os.makedirs(sys.argv[1], exist_ok=True)',
        'fd = os.open(sys.argv[1], os.O_RDONLY)',
        `for _ in range(${hops}):`,
        `    os.mkdir("${hop}", dir_fd=fd); n = os.open("${hop}", os.O_RDONLY, dir_fd=fd); os.close(fd); fd = n`,
        'os.mkdir("d", dir_fd=fd)',
        `for f, t in (("d/s", "${text}"), ("d/t", "${text} too")):`,
        '    w = os.open(f, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd); os.write(w, t.encode()); os.close(w)',
      ].join('\n');
      const r = spawnSync('python3', ['-c', py, root], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    };
    deepTrees.push(join(base, name), outside);
    tree(join(base, name), 20, 'decoy');
    // what the second directory down will point to: the rest of the path, with secrets at its end
    tree(outside, 18, 'secret');
    const m = await mountOverlay(name, { AGENTFS_NATIVE_READS: '0' });
    // reads through the mount by a descriptor walk (one name a call), each file's text or errno
    const read = (files: string) => {
      const walk = [
        'import os, sys',
        'fd = os.open(sys.argv[1], os.O_RDONLY)',
        // a directory on the way that no longer is one beneath the base: no such name
        `for d in ["${name}"] + ["${hop}"] * 20 + ["d"]:`,
        '    try: n = os.open(d, os.O_RDONLY, dir_fd=fd)',
        '    except OSError as e: print(e.strerror); sys.exit(0)',
        '    os.close(fd); fd = n',
        `for f in "${files}":`,
        '    try:',
        // a file off the mount: the kernel followed a symlink it was told of to the host
        '        r = os.open(f, os.O_RDONLY, dir_fd=fd)',
        `        print(os.read(r, 100).decode().strip() if os.fstat(r).st_dev == os.stat("${m.mnt}").st_dev else "off the mount"); os.close(r)`,
        '    except OSError as e: print(e.strerror)',
      ].join('\n');
      const r = spawnSync('python3', ['-c', walk, m.mnt], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout;
    };
    expect(read('s')).toBe('decoy\n');
    dropCaches();
    // the second directory down (inside the first step of the walk) swapped for a symlink on the host
    const [first, second] = [join(base, name, hop), join(base, name, hop, hop)];
    renameSync(second, join(first, 'moved'));
    symlinkSync(outside, second);
    dropCaches();
    // t, never opened before (s's descriptor is kept, and reads the decoy still)
    expect(read('t')).not.toMatch(/secret/);
    await unmount(m);
  });
});
