import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync, linkSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/store/index.js';
import { InodeFs } from '../../src/core/fs/index.js';
import { OverlayFs, DELTA_INO_BASE } from '../../src/core/overlay/index.js';
import { ROOT_CALLER, RENAME_EXCHANGE, RENAME_NOREPLACE, S_IFLNK, S_IFMT, S_IFREG } from '../../src/core/types.js';
import { tempDir } from '../support/cli.js';
import { snapshotTree } from '../support/tree-snapshot.js';

let tmp: { dir: string; cleanup: () => void };
let base: string;
let dbPath: string;
let store: Store;
let ov: OverlayFs;

function open(): void {
  store = Store.open({ path: dbPath }, { create: true });
  ov = new OverlayFs(store, base, { delta: new InodeFs(store) });
}
function reopen(): void {
  ov.close();
  store.close();
  open();
}
function ino(path: string): number {
  let cur = ov.rootIno;
  for (const part of path.split('/').filter(Boolean)) cur = ov.lookup(cur, part).ino;
  return cur;
}
function parentAndName(path: string): [number, string] {
  const i = path.lastIndexOf('/');
  return [ino(path.slice(0, i) || '/'), path.slice(i + 1)];
}
function readAll(path: string): string {
  const i = ino(path);
  return ov.read(i, 0, ov.getattr(i).size).toString();
}
function ls(path: string): string[] {
  return ov.readdir(ino(path)).map((e) => e.name).sort();
}
function exists(path: string): boolean {
  try {
    ino(path);
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return false;
    throw e;
  }
}
function writeFile(path: string, text: string): void {
  const [p, name] = parentAndName(path);
  let i: number;
  try {
    i = ov.lookup(p, name).ino;
    ov.setattr(i, { size: 0 });
  } catch {
    i = ov.create(p, name, 0o644, ROOT_CALLER).ino;
  }
  ov.write(i, 0, Buffer.from(text));
}

/**
 * Makes the overlay walk the base's hard links (linkHeir): z and z2 are one file, written through
 * z2 (the copy lands under z, looked up last), then z is removed and z2 keeps the write.
 * `settle`: the base's files are older than the walk by more than a clock tick first.
 */
function walkBaseLinks(settle: boolean): void {
  writeFileSync(join(base, 'z'), 'zulu\n');
  linkSync(join(base, 'z'), join(base, 'z2'));
  const z = ino('/z2');
  expect(ino('/z')).toBe(z);
  ov.write(z, 0, Buffer.from('Z'));
  if (settle) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  ov.unlink(ov.rootIno, 'z'); // the walk is made here
  expect(readAll('/z2')).toBe('Zulu\n');
}

beforeEach(() => {
  tmp = tempDir('agentfs-overlay-');
  base = join(tmp.dir, 'base');
  mkdirSync(join(base, 'dir/sub'), { recursive: true });
  writeFileSync(join(base, 'a.txt'), 'alpha\n');
  writeFileSync(join(base, 'dir/b.txt'), 'bravo\n');
  writeFileSync(join(base, 'dir/sub/c.txt'), 'charlie\n');
  writeFileSync(join(base, 'exec.sh'), '#!/bin/sh\n');
  chmodSync(join(base, 'exec.sh'), 0o755);
  symlinkSync('a.txt', join(base, 'link'));
  symlinkSync('/etc/passwd', join(base, 'out'));
  dbPath = join(tmp.dir, 'delta.db');
  open();
});

afterEach(() => {
  ov.close();
  store.close();
  tmp.cleanup();
});

describe('overlay: reading the base', () => {
  it('shows base files, attributes and inode numbers as they are', () => {
    expect(ls('/')).toEqual(['a.txt', 'dir', 'exec.sh', 'link', 'out']);
    expect(readAll('/dir/sub/c.txt')).toBe('charlie\n');
    const a = ov.getattr(ino('/a.txt'));
    const st = lstatSync(join(base, 'a.txt'));
    expect(a.ino).toBe(st.ino);
    expect(a.mode).toBe(st.mode);
    expect(a.mtime.sec).toBe(Math.floor(st.mtimeMs / 1000));
  });

  it('shows base symlinks as symlinks and never follows them', () => {
    const out = ov.getattr(ino('/out'));
    expect(out.mode & S_IFMT).toBe(S_IFLNK);
    expect(ov.readlink(out.ino)).toBe('/etc/passwd');
    expect(() => ov.read(out.ino, 0, 100)).toThrow();
  });

  it('root shows the base root attributes', () => {
    const st = statSync(base);
    expect(ov.getattr(1).mode).toBe(st.mode);
    expect(ov.getattr(1).uid).toBe(st.uid);
  });
});

describe('overlay: copy-up', () => {
  it('copies up on write, keeps the base inode number, leaves the base alone', () => {
    const before = lstatSync(join(base, 'a.txt'));
    const i = ino('/a.txt');
    ov.write(i, 0, Buffer.from('ALPHA'));
    expect(readAll('/a.txt')).toBe('ALPHA\n');
    expect(ov.getattr(i).ino).toBe(before.ino);
    expect(ino('/a.txt')).toBe(before.ino);
    expect(readFileSync(join(base, 'a.txt'), 'utf8')).toBe('alpha\n');
    const origin = store.stmt('SELECT base_ino FROM fs_origin WHERE base_ino = ?').get(before.ino);
    expect(origin).toBeDefined();
  });

  it('copies up on truncate without copying the data first', () => {
    const i = ino('/dir/b.txt');
    expect(ov.setattr(i, { size: 2 }).size).toBe(2);
    expect(readAll('/dir/b.txt')).toBe('br');
    expect(readFileSync(join(base, 'dir/b.txt'), 'utf8')).toBe('bravo\n');
  });

  it('copies up on chmod, chown and utimens, keeping the other attributes', () => {
    const st = lstatSync(join(base, 'exec.sh'));
    const i = ino('/exec.sh');
    ov.setattr(i, { mode: 0o700 });
    let a = ov.getattr(i);
    expect(a.mode & 0o7777).toBe(0o700);
    expect(a.mtime.sec).toBe(Math.floor(st.mtimeMs / 1000));
    ov.setattr(i, { uid: 1234, gid: 4321 });
    ov.setattr(i, { mtime: { sec: 1000, nsec: 5 } });
    a = ov.getattr(i);
    expect([a.uid, a.gid, a.mtime.sec, a.mtime.nsec]).toEqual([1234, 4321, 1000, 5]);
    expect(lstatSync(join(base, 'exec.sh')).mode & 0o7777).toBe(0o755);
    expect(readAll('/exec.sh')).toBe('#!/bin/sh\n');
  });

  it('copies up the parent chain of a deep write', () => {
    writeFile('/dir/sub/c.txt', 'changed');
    expect(readAll('/dir/sub/c.txt')).toBe('changed');
    expect(ls('/dir/sub')).toEqual(['c.txt']);
    expect(ls('/dir')).toEqual(['b.txt', 'sub']);
    expect(readFileSync(join(base, 'dir/sub/c.txt'), 'utf8')).toBe('charlie\n');
  });

  it('link of a base file copies it up and both names share the inode', () => {
    const i = ino('/a.txt');
    const attr = ov.link(i, ino('/dir'), 'a-link');
    expect(attr.ino).toBe(i);
    expect(attr.nlink).toBe(2);
    ov.write(i, 0, Buffer.from('X'));
    expect(readAll('/dir/a-link')).toBe('Xlpha\n');
    expect(readdirSync(join(base, 'dir')).sort()).toEqual(['b.txt', 'sub']);
  });

  it('removing the name a hard-linked copy sits under keeps it for the other names', () => {
    // the copy lands under the name looked up last (a FUSE WRITE names an inode): written
    // through dir/a-hard, it sat under a.txt, and rm a.txt took the write back from dir/a-hard
    linkSync(join(base, 'a.txt'), join(base, 'dir/a-hard'));
    const i = ino('/dir/a-hard');
    expect(ino('/a.txt')).toBe(i); // looked up last: the copy goes there
    ov.write(i, 0, Buffer.from('ALPHA'));
    ov.unlink(ov.rootIno, 'a.txt');
    expect(exists('/a.txt')).toBe(false);
    expect(readAll('/dir/a-hard')).toBe('ALPHA\n');
    reopen();
    expect(exists('/a.txt')).toBe(false);
    expect(readAll('/dir/a-hard')).toBe('ALPHA\n');
    expect(readFileSync(join(base, 'a.txt'), 'utf8')).toBe('alpha\n');
    // no other name in the base shows it: removing the last one drops the copy
    ov.unlink(ino('/dir'), 'a-hard');
    expect(ls('/dir')).toEqual(['b.txt', 'sub']);
    reopen();
    expect(ls('/dir')).toEqual(['b.txt', 'sub']);
    expect(exists('/a.txt')).toBe(false);
  });

  it('the copy moves to a remaining name inside a directory renamed in the session', () => {
    // the other name's base path (/dir/a-hard) is no overlay path once /dir moved to /moved
    linkSync(join(base, 'a.txt'), join(base, 'dir/a-hard'));
    ov.rename(ov.rootIno, 'dir', ov.rootIno, 'moved');
    const i = ino('/moved/a-hard');
    expect(ino('/a.txt')).toBe(i); // the copy goes under a.txt
    ov.write(i, 0, Buffer.from('ALPHA'));
    ov.unlink(ov.rootIno, 'a.txt');
    expect(readAll('/moved/a-hard')).toBe('ALPHA\n');
    reopen();
    expect(exists('/a.txt')).toBe(false);
    expect(readAll('/moved/a-hard')).toBe('ALPHA\n');
  });

  it('a rename over the name a hard-linked copy sits under moves the copy to a remaining name', () => {
    // mv t a.txt replaced the copy: dir/a-hard then named a freed inode (ENOENT), and once
    // resumed showed the host's file without the write made through it
    linkSync(join(base, 'a.txt'), join(base, 'dir/a-hard'));
    const i = ino('/dir/a-hard');
    expect(ino('/a.txt')).toBe(i);
    ov.write(i, 0, Buffer.from('ALPHA'));
    writeFile('/t', 'other\n');
    ov.rename(ov.rootIno, 't', ov.rootIno, 'a.txt');
    expect(readAll('/a.txt')).toBe('other\n');
    expect(readAll('/dir/a-hard')).toBe('ALPHA\n');
    reopen();
    expect(readAll('/a.txt')).toBe('other\n');
    expect(readAll('/dir/a-hard')).toBe('ALPHA\n');
    expect(exists('/t')).toBe(false);
  });

  it('the moved copy keeps moving after the host removed the name it was made under', () => {
    // the copy-up record named a.txt, the name the session removed: once the host removed it
    // too, removing the next name the copy sat under took the write back from the last one
    linkSync(join(base, 'a.txt'), join(base, 'dir/h1'));
    linkSync(join(base, 'a.txt'), join(base, 'dir/sub/h2'));
    const i = ino('/dir/h1');
    ino('/dir/sub/h2');
    expect(ino('/a.txt')).toBe(i);
    ov.write(i, 0, Buffer.from('ALPHA'));
    ov.unlink(ov.rootIno, 'a.txt');
    rmSync(join(base, 'a.txt'));
    reopen();
    ov.unlink(ino('/dir'), 'h1');
    ov.unlink(ino('/dir'), 'b.txt');
    expect(readAll('/dir/sub/h2')).toBe('ALPHA\n');
    reopen();
    expect(readAll('/dir/sub/h2')).toBe('ALPHA\n');
    expect(ls('/dir')).toEqual(['sub']);
  });

  it('a hard link the host made after the base walk still keeps the copy', () => {
    // the walk of the base's names is kept for the overlay's life: a name linked on the host
    // after it was not known, and removing the others took the write back from that name
    linkSync(join(base, 'a.txt'), join(base, 'dir/a-hard'));
    walkBaseLinks(false);
    linkSync(join(base, 'a.txt'), join(base, 'later'));
    const i = ino('/later');
    expect(ino('/a.txt')).toBe(i);
    ov.write(i, 0, Buffer.from('ALPHA'));
    ov.unlink(ino('/dir'), 'a-hard');
    ov.unlink(ov.rootIno, 'a.txt');
    expect(readAll('/later')).toBe('ALPHA\n');
    reopen();
    expect(readAll('/later')).toBe('ALPHA\n');
    expect(exists('/a.txt')).toBe(false);
  });

  it('a hard link whose directory the host renamed after the base walk still keeps the copy', () => {
    // a directory renamed on the host leaves its files' ctimes alone: the walk kept the old
    // name, found it gone, and the write was taken back from the name at the new place
    linkSync(join(base, 'a.txt'), join(base, 'dir/sub/a-hard'));
    walkBaseLinks(true);
    renameSync(join(base, 'dir/sub'), join(base, 'dir/sub2'));
    const i = ino('/dir/sub2/a-hard');
    expect(ino('/a.txt')).toBe(i);
    ov.write(i, 0, Buffer.from('ALPHA'));
    ov.unlink(ov.rootIno, 'a.txt');
    expect(readAll('/dir/sub2/a-hard')).toBe('ALPHA\n');
    reopen();
    expect(readAll('/dir/sub2/a-hard')).toBe('ALPHA\n');
  });

  it('base hard links show one copy-up whichever name a later process looks up first', () => {
    linkSync(join(base, 'a.txt'), join(base, 'dir/a-hard'));
    writeFile('/a.txt', 'changed\n');
    expect(readAll('/dir/a-hard')).toBe('changed\n'); // this process: one node for both names
    // a fresh process (the CLI, a new mount) that meets the other name first sees the same file
    reopen();
    expect(readAll('/dir/a-hard')).toBe('changed\n');
    expect(ino('/dir/a-hard')).toBe(ino('/a.txt'));
    expect(ov.getattr(ino('/dir/a-hard')).size).toBe('changed\n'.length);
    // and a change through it is a change of the one file
    reopen();
    writeFile('/dir/a-hard', 'again\n');
    reopen();
    expect(readAll('/a.txt')).toBe('again\n');
    expect(readFileSync(join(base, 'a.txt'), 'utf8')).toBe('alpha\n');
    // renaming that other name moves it (one more link of the copy), not EXDEV
    reopen();
    ov.rename(ino('/dir'), 'a-hard', ino('/'), 'moved');
    expect(exists('/dir/a-hard')).toBe(false);
    expect(readAll('/moved')).toBe('again\n');
    expect(ino('/moved')).toBe(ino('/a.txt'));
    reopen();
    expect(exists('/dir/a-hard')).toBe(false);
    expect(readAll('/moved')).toBe('again\n');
    expect(readdirSync(join(base, 'dir')).sort()).toEqual(['a-hard', 'b.txt', 'sub']);
  });
});

describe('overlay: listings of hard links', () => {
  it('a listing of another name of an edited base file shows the copy, in a later process too', () => {
    linkSync(join(base, 'a.txt'), join(base, 'dir/a-hard'));
    writeFile('/a.txt', 'changed and longer\n');
    // a fresh process (a new run of the session, a remount) lists the other name first
    reopen();
    const listed = ov.readdirPlus(ino('/dir')).find((e) => e.name === 'a-hard');
    expect(listed?.attr.size).toBe('changed and longer\n'.length);
    expect(listed?.ino).toBe(ino('/a.txt'));
    expect(readAll('/dir/a-hard')).toBe('changed and longer\n');
    expect(ov.getattr(listed!.ino).size).toBe('changed and longer\n'.length);
    expect(readFileSync(join(base, 'dir/a-hard'), 'utf8')).toBe('alpha\n');
  });
});

describe('overlay: new files', () => {
  it('creates files with delta inode numbers that cannot collide with base ones', () => {
    const a = ov.create(ino('/dir'), 'new.txt', 0o600, ROOT_CALLER);
    expect(a.ino).toBeGreaterThan(DELTA_INO_BASE);
    ov.write(a.ino, 0, Buffer.from('hi'));
    expect(ls('/dir')).toEqual(['b.txt', 'new.txt', 'sub']);
    expect(ov.getattr(a.ino).mode & 0o7777).toBe(0o600);
    expect(() => ov.create(ino('/dir'), 'b.txt', 0o644, ROOT_CALLER)).toThrow(/EEXIST/);
    expect(() => ov.mkdir(ino('/'), 'dir', 0o755, ROOT_CALLER)).toThrow(/EEXIST/);
  });
});

describe('overlay: deletion and whiteouts', () => {
  it('unlink of a base file writes a whiteout; re-creating clears it', () => {
    ov.unlink(ino('/'), 'a.txt');
    expect(exists('/a.txt')).toBe(false);
    expect(ls('/')).not.toContain('a.txt');
    expect((store.stmt("SELECT parent_path FROM fs_whiteout WHERE path = '/a.txt'").get() as { parent_path: string }).parent_path).toBe('/');
    expect(readFileSync(join(base, 'a.txt'), 'utf8')).toBe('alpha\n');
    writeFile('/a.txt', 'new');
    expect(readAll('/a.txt')).toBe('new');
    expect((store.stmt("SELECT COUNT(*) AS n FROM fs_whiteout WHERE path = '/a.txt'").get() as { n: number }).n).toBe(0);
    ov.unlink(ino('/'), 'a.txt');
    expect(exists('/a.txt')).toBe(false);
  });

  it('unlink of a copied-up file hides the base file too', () => {
    writeFile('/dir/b.txt', 'x');
    ov.unlink(ino('/dir'), 'b.txt');
    expect(exists('/dir/b.txt')).toBe(false);
  });

  it('rmdir needs an empty merged directory; rm -r of a base tree works', () => {
    expect(() => ov.rmdir(ino('/'), 'dir')).toThrow(/ENOTEMPTY/);
    ov.unlink(ino('/dir/sub'), 'c.txt');
    ov.rmdir(ino('/dir'), 'sub');
    ov.unlink(ino('/dir'), 'b.txt');
    ov.rmdir(ino('/'), 'dir');
    expect(exists('/dir')).toBe(false);
    // whiteouts below a removed directory are folded into the directory's own
    expect((store.stmt('SELECT path FROM fs_whiteout ORDER BY path').all() as { path: string }[]).map((r) => r.path)).toEqual(['/dir']);
  });

  it('a directory re-created over a deleted base directory is opaque', () => {
    ov.unlink(ino('/dir/sub'), 'c.txt');
    ov.rmdir(ino('/dir'), 'sub');
    ov.mkdir(ino('/dir'), 'sub', 0o755, ROOT_CALLER);
    expect(ls('/dir/sub')).toEqual([]);
    reopen();
    expect(ls('/dir/sub')).toEqual([]);
    expect(ls('/dir')).toEqual(['b.txt', 'sub']);
  });

  it('whiteouts survive a remount', () => {
    ov.unlink(ino('/'), 'a.txt');
    ov.unlink(ino('/dir'), 'b.txt');
    reopen();
    expect(ls('/')).toEqual(['dir', 'exec.sh', 'link', 'out']);
    expect(ls('/dir')).toEqual(['sub']);
  });
});

describe('overlay: rename', () => {
  it('rename of a base file copies it up and keeps its inode number', () => {
    const i = ino('/a.txt');
    ov.rename(ino('/'), 'a.txt', ino('/dir'), 'moved.txt');
    expect(exists('/a.txt')).toBe(false);
    expect(ino('/dir/moved.txt')).toBe(i);
    expect(readAll('/dir/moved.txt')).toBe('alpha\n');
    reopen();
    expect(exists('/a.txt')).toBe(false);
    expect(ino('/dir/moved.txt')).toBe(i);
  });

  it('rename of a base directory moves its whole subtree, also after remount', () => {
    const dirIno = ino('/dir');
    ov.rename(ino('/'), 'dir', ino('/'), 'renamed');
    expect(exists('/dir')).toBe(false);
    expect(ino('/renamed')).toBe(dirIno);
    expect(ls('/renamed')).toEqual(['b.txt', 'sub']);
    expect(readAll('/renamed/sub/c.txt')).toBe('charlie\n');
    // changes below the moved directory land in the delta
    ov.unlink(ino('/renamed'), 'b.txt');
    writeFile('/renamed/sub/c.txt', 'edited');
    reopen();
    expect(exists('/dir')).toBe(false);
    expect(ls('/renamed')).toEqual(['sub']);
    expect(readAll('/renamed/sub/c.txt')).toBe('edited');
    // and moved again, whiteouts travel along
    ov.rename(ino('/'), 'renamed', ino('/'), 'again');
    reopen();
    expect(ls('/')).toEqual(['a.txt', 'again', 'exec.sh', 'link', 'out']);
    expect(ls('/again')).toEqual(['sub']);
    expect(readAll('/again/sub/c.txt')).toBe('edited');
    expect(readdirSync(join(base, 'dir')).sort()).toEqual(['b.txt', 'sub']);
  });

  it('a directory created where a base directory was renamed away is empty', () => {
    ov.rename(ino('/'), 'dir', ino('/'), 'renamed');
    ov.mkdir(ino('/'), 'dir', 0o755, ROOT_CALLER);
    expect(ls('/dir')).toEqual([]);
    expect(ls('/renamed')).toEqual(['b.txt', 'sub']);
  });

  it('rename onto an existing base file replaces it; NOREPLACE refuses; EXCHANGE swaps', () => {
    ov.rename(ino('/'), 'a.txt', ino('/'), 'exec.sh');
    expect(readAll('/exec.sh')).toBe('alpha\n');
    expect(exists('/a.txt')).toBe(false);
    expect(() => ov.rename(ino('/dir'), 'b.txt', ino('/'), 'exec.sh', RENAME_NOREPLACE)).toThrow(/EEXIST/);
    ov.rename(ino('/dir'), 'b.txt', ino('/'), 'exec.sh', RENAME_EXCHANGE);
    expect(readAll('/exec.sh')).toBe('bravo\n');
    expect(readAll('/dir/b.txt')).toBe('alpha\n');
  });

  it('refuses to move a directory into itself or over a non-empty directory', () => {
    expect(() => ov.rename(ino('/'), 'dir', ino('/dir/sub'), 'x')).toThrow(/EINVAL/);
    ov.mkdir(ino('/'), 'full', 0o755, ROOT_CALLER);
    ov.create(ino('/full'), 'f', 0o644, ROOT_CALLER);
    expect(() => ov.rename(ino('/'), 'dir', ino('/'), 'full')).toThrow(/ENOTEMPTY/);
  });
});

describe('overlay: readdir', () => {
  it('pages through a merged directory with cookies while entries are deleted', () => {
    for (let i = 0; i < 50; i++) writeFileSync(join(base, 'dir', `f${String(i).padStart(2, '0')}`), String(i));
    for (let i = 0; i < 5; i++) writeFile(`/dir/new${i}`, 'n');
    const d = ino('/dir');
    const seen: string[] = [];
    let off = 0;
    for (;;) {
      const page = ov.readdir(d, off, 7);
      if (!page.length) break;
      for (const e of page) {
        seen.push(e.name);
        if (e.name.startsWith('f')) ov.unlink(d, e.name);
      }
      off = page[page.length - 1]!.offset;
    }
    expect(seen.length).toBe(50 + 5 + 2);
    expect(new Set(seen).size).toBe(seen.length);
    expect(ls('/dir').filter((n) => n.startsWith('f'))).toEqual([]);
  });

  it('readdirPlus gives the same inode numbers as lookup', () => {
    writeFile('/dir/b.txt', 'x');
    for (const e of ov.readdirPlus(ino('/dir'))) expect(e.attr.ino).toBe(ino(`/dir/${e.name}`));
  });
});

describe('overlay: the base is never written', () => {
  it('leaves the base byte-identical after edits, deletes, renames, chmods and creates', () => {
    const before = snapshotTree(base);
    writeFile('/a.txt', 'changed');
    ov.setattr(ino('/exec.sh'), { mode: 0o600, mtime: { sec: 5, nsec: 0 } });
    ov.rename(ino('/'), 'dir', ino('/'), 'moved');
    ov.unlink(ino('/moved/sub'), 'c.txt');
    ov.unlink(ino('/'), 'link');
    ov.mkdir(ino('/'), 'newdir', 0o700, ROOT_CALLER);
    writeFile('/newdir/x', 'x');
    ov.symlink(ino('/'), 'sym', '/tmp', ROOT_CALLER);
    expect(snapshotTree(base)).toEqual(before);
  });
});

describe('overlay: hidden base paths', () => {
  it('never shows hidden base paths', () => {
    mkdirSync(join(base, '.agentfs'));
    writeFileSync(join(base, '.agentfs/s.db'), 'secret');
    ov.close();
    store.close();
    store = Store.open({ path: dbPath });
    ov = new OverlayFs(store, base, { delta: new InodeFs(store), hide: ['/.agentfs'] });
    expect(ls('/')).not.toContain('.agentfs');
    expect(exists('/.agentfs')).toBe(false);
    ov.mkdir(1, '.agentfs', 0o755, ROOT_CALLER);
    expect(ls('/.agentfs')).toEqual([]);
  });
});

describe('overlay: hard links in the base', () => {
  it('shows the shared inode number', () => {
    linkSync(join(base, 'a.txt'), join(base, 'dir/a-hard'));
    expect(ino('/dir/a-hard')).toBe(ino('/a.txt'));
    expect(ov.getattr(ino('/a.txt')).mode & S_IFMT).toBe(S_IFREG);
  });
});
