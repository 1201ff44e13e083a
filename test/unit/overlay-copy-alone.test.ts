// Inside a transaction (a mount's group commit) the copy-up of a small base file, with the append
// that caused it (`echo >> f` in `run`) and the overlay's origin rows, is one statement
// (src/core/fs/ops/copy-in-alone.ts); outside one it takes the transaction route (copy-in.ts and
// Origins.record). Both must leave the same rows behind, and the one statement all or nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Agent } from '../../src/core/agent.js';
import { Store } from '../../src/store/index.js';
import { ROOT_CALLER, type Caller } from '../../src/core/types.js';
import { tempDir } from '../support/cli.js';
import { column } from '../support/one-statement.js';
import { countStatements } from '../support/statements.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

const USER: Caller = { uid: 1000, gid: 1000, pid: process.pid };

/** A base directory with `files`, and a new overlay database over it (not opened). */
function base(files: Record<string, string | Buffer>, modes: Record<string, number> = {}): { dir: string; db: string } {
  const t = tempDir('agentfs-copy-alone-');
  cleanups.push(t.cleanup);
  const dir = join(t.dir, 'base');
  mkdirSync(join(dir, 'd', 'e'), { recursive: true });
  for (const [p, content] of Object.entries(files)) writeFileSync(join(dir, p), content);
  for (const [p, mode] of Object.entries(modes)) chmodSync(join(dir, p), mode);
  const db = join(t.dir, 'ov.db');
  const s = Store.open({ path: db }, { create: true });
  s.setMeta('overlay.base', dir);
  s.close();
  return { dir, db };
}

function open(db: string): Agent {
  const a = Agent.open({ path: db });
  cleanups.push(() => a.close());
  return a;
}

function inoOf(a: Agent, p: string): number {
  let cur = a.fs.rootIno;
  for (const part of p.split('/').filter(Boolean)) cur = a.fs.lookup(cur, part).ino;
  return cur;
}

/** What both routes must agree on (times apart: they are taken when each ran). */
function rows(a: Agent): unknown {
  a.journal?.flush();
  const q = (sql: string) => a.store.db.prepare(sql).all();
  return {
    inodes: q('SELECT ino, mode, nlink, uid, gid, size, rdev, atime, atime_nsec FROM fs_inode ORDER BY ino'),
    dentries: q('SELECT id, parent_ino, name, ino FROM fs_dentry ORDER BY id'),
    data: q('SELECT ino, chunk_index, hex(data) AS d FROM fs_data ORDER BY ino, chunk_index'),
    sequence: q("SELECT name, seq FROM sqlite_sequence WHERE name IN ('fs_inode', 'fs_dentry') ORDER BY name"),
    origin: q('SELECT delta_ino, base_ino FROM fs_origin ORDER BY delta_ino'),
    copyup: q('SELECT delta_ino, base_path, base_ino, size, mtime_ns FROM agentfs_overlay_copyup ORDER BY delta_ino'),
    birth: q('SELECT delta_ino, base_birth_ns FROM agentfs_overlay_origin ORDER BY delta_ino'),
    journal: q(`SELECT id, op, path, ino, offset, length, bytes, writes, size, mode, uid, gid, pid FROM agentfs_journal ORDER BY id`),
  };
}

const FILES = {
  'empty.txt': '',
  'd/small.js': 'x'.repeat(2000),
  'd/chunk.bin': Buffer.alloc(4096, 1),
  'd/e/three.bin': Buffer.alloc(3 * 4096 + 17, 2),
  'd/e/big.bin': Buffer.alloc(100 * 1024, 3),
  'larger.bin': Buffer.alloc(200 * 1024, 4), // past COPY_IN_ALONE_BYTES: the transaction route
  'user.bin': 'u', // its set-id bits dropped by the append: the transaction route
  'kept.txt': 'truncated by the setattr that copies it up',
  'twice.txt': 'appended to twice',
};

/** Appends to base files (and a copy-up by truncation), each operation in a transaction of its own when `batched`. */
function scenario(a: Agent, batched: boolean): unknown[] {
  const out: unknown[] = [];
  const run = <T>(fn: () => T): T => {
    if (!batched) return fn();
    expect(a.store.beginBatch()).toBe(true);
    try {
      return fn();
    } finally {
      a.store.commitBatch();
    }
  };
  for (const p of ['empty.txt', 'd/small.js', 'd/chunk.bin', 'd/e/three.bin', 'd/e/big.bin', 'larger.bin']) {
    const i = inoOf(a, p);
    out.push(run(() => a.fs.append(i, Buffer.from(`// edited ${p}\n`), ROOT_CALLER)));
  }
  out.push(run(() => a.fs.append(inoOf(a, 'user.bin'), Buffer.from('!'), USER)));
  out.push(run(() => a.fs.setattr(inoOf(a, 'kept.txt'), { size: 9 }).size));
  const twice = inoOf(a, 'twice.txt');
  a.fs.open(twice, 0o2001);
  out.push(run(() => a.fs.append(twice, Buffer.from(' once'), ROOT_CALLER)));
  out.push(run(() => a.fs.append(twice, Buffer.from(' twice'), ROOT_CALLER)));
  a.fs.release(twice);
  out.push(run(() => a.fs.append(inoOf(a, 'empty.txt'), Buffer.from('after'), ROOT_CALLER)));
  for (const p of Object.keys(FILES)) out.push([p, a.fs.read(inoOf(a, p), 0, 1 << 20).toString('hex')]);
  return out;
}

describe('a copy-up made by one statement', () => {
  it('leaves the rows, journal and content the transaction route leaves', () => {
    const alone = base(FILES, { 'user.bin': 0o4755 });
    const routed = base(FILES, { 'user.bin': 0o4755 });
    // the same base inode numbers and birth times cannot be had twice: compare both against their own base
    const a = open(alone.db);
    const b = open(routed.db);
    const outA = scenario(a, true);
    const outB = scenario(b, false);
    expect(outA).toEqual(outB);
    const ra = rows(a) as Record<string, unknown[]>;
    const rb = rows(b) as Record<string, unknown[]>;
    const strip = (r: Record<string, unknown[]>) => ({
      ...r,
      origin: r.origin!.map((o) => ({ ...(o as object), base_ino: 0 })),
      copyup: r.copyup!.map((o) => ({ ...(o as object), base_ino: 0, mtime_ns: 0 })),
      birth: r.birth!.map((o) => (o as { delta_ino: number }).delta_ino),
      inodes: r.inodes!.map((o) => ({ ...(o as object), atime: 0, atime_nsec: 0 })),
    });
    expect(strip(ra)).toEqual(strip(rb));
    expect(ra.journal!.length).toBeGreaterThan(5);
    // the one-statement route was taken: its view is there
    expect(column(a, "SELECT name FROM sqlite_temp_master WHERE type = 'view' AND name LIKE 'agentfs_copied_%'").length).toBeGreaterThan(0);
  });

  it('keeps the base file\'s number and access time, and records what it was copied from', () => {
    const { dir, db } = base({ 'd/f.txt': 'base\n' });
    utimesSync(join(dir, 'd/f.txt'), new Date(1_000_000_000_000), new Date(1_100_000_000_000));
    const a = open(db);
    const i = inoOf(a, 'd/f.txt');
    const seen = a.fs.getattr(i);
    expect(seen.atime.sec).toBe(1_000_000_000);
    expect(a.store.beginBatch()).toBe(true);
    a.fs.append(i, Buffer.from('more\n'), ROOT_CALLER);
    a.store.commitBatch();
    const now = a.fs.getattr(i);
    expect(now.ino).toBe(seen.ino); // the base's number (fs_origin)
    expect(now.atime).toEqual(seen.atime);
    expect(now.mtime.sec).toBeGreaterThan(1_100_000_000); // the append's
    expect(now.size).toBe(10);
    const copy = a.store.db.prepare("SELECT base_path, size FROM agentfs_overlay_copyup WHERE base_path = '/d/f.txt'").get();
    expect(copy).toMatchObject({ base_path: '/d/f.txt', size: 5 });
    expect(column(a, "SELECT count(*) FROM agentfs_overlay_copyup WHERE base_path LIKE '/d%'")).toEqual([2]); // d and d/f.txt
  });

  it('is two statements: no savepoint, no lookup of the name first', () => {
    const { db } = base({ 'd/f.txt': 'base\n', 'd/g.txt': 'other\n' });
    const a = open(db);
    const f = inoOf(a, 'd/f.txt');
    const g = inoOf(a, 'd/g.txt');
    expect(a.store.beginBatch()).toBe(true);
    a.fs.append(f, Buffer.from('1'), ROOT_CALLER); // copies d up too, and makes the view
    const seen = countStatements(a.store, () => a.fs.append(g, Buffer.from('2'), ROOT_CALLER));
    a.store.commitBatch();
    // the insert, and the read of the journal row's id for the write burst
    expect(seen).toEqual(['run', 'get']);
    expect(a.fs.read(g, 0, 100).toString()).toBe('other\n2');
  });

  it('finds its views made by prepareWrites: the first copy-up changes no TEMP schema (which expired every statement)', () => {
    const { db } = base({ 'd/f.txt': 'base\n', 'd/e/g.txt': 'other\n' });
    const a = open(db);
    const f = inoOf(a, 'd/f.txt');
    const g = inoOf(a, 'd/e/g.txt');
    a.fs.prepareWrites?.();
    const version = () => (a.store.db.prepare('PRAGMA temp.schema_version').get() as { schema_version: number }).schema_version;
    const made = version();
    expect(a.store.beginBatch()).toBe(true);
    // copies d up (a directory: the view without the observer's row), then f with its append (with it)
    a.fs.append(f, Buffer.from('1'), ROOT_CALLER);
    a.fs.setattr(g, { mode: 0o600 }); // d/e and g copied up by themselves (no append)
    a.store.commitBatch();
    expect(version()).toBe(made);
    a.journal?.flush();
    expect(a.fs.read(f, 0, 100).toString()).toBe('base\n1');
    const copies = a.store.db.prepare('SELECT base_path FROM agentfs_overlay_copyup ORDER BY base_path').all() as { base_path: string }[];
    expect(copies.map((r) => r.base_path)).toEqual(expect.arrayContaining(['/d', '/d/e', '/d/e/g.txt', '/d/f.txt']));
  });

  it('appends to the copy another process made meanwhile rather than making a second', () => {
    const { db } = base({ 'd/f.txt': 'base\n' });
    const a = open(db);
    const i = inoOf(a, 'd/f.txt'); // seen in the base, not copied
    const other = open(db);
    const j = inoOf(other, 'd/f.txt');
    other.fs.append(j, Buffer.from('theirs\n'), ROOT_CALLER);
    expect(a.store.beginBatch()).toBe(true);
    a.fs.append(i, Buffer.from('ours\n'), ROOT_CALLER);
    a.store.commitBatch();
    expect(a.fs.read(i, 0, 100).toString()).toBe('base\ntheirs\nours\n');
    expect(column(a, "SELECT count(*) FROM fs_dentry WHERE name = 'f.txt'")).toEqual([1]);
  });

  it('writes nothing when one of its rows cannot be written, and the append fails', () => {
    const { db } = base({ 'd/f.txt': 'base\n', 'd/g.txt': 'g' });
    const a = open(db);
    const f = inoOf(a, 'd/f.txt');
    const g = inoOf(a, 'd/g.txt');
    expect(a.store.beginBatch()).toBe(true);
    a.fs.append(g, Buffer.from('!'), ROOT_CALLER); // d copied up, the view made
    // a row the statement writes last but the journal's: its table refuses any row now
    a.store.db.exec(`CREATE TRIGGER no_birth BEFORE INSERT ON agentfs_overlay_origin BEGIN SELECT RAISE(ABORT, 'refused'); END`);
    const before = { inodes: column(a, 'SELECT count(*) FROM fs_inode'), data: column(a, 'SELECT count(*) FROM fs_data'), journal: column(a, 'SELECT count(*) FROM agentfs_journal') };
    expect(() => a.fs.append(f, Buffer.from('lost'), ROOT_CALLER)).toThrow(/refused/);
    expect({ inodes: column(a, 'SELECT count(*) FROM fs_inode'), data: column(a, 'SELECT count(*) FROM fs_data'), journal: column(a, 'SELECT count(*) FROM agentfs_journal') }).toEqual(before);
    a.store.db.exec('DROP TRIGGER no_birth');
    a.fs.append(f, Buffer.from('kept'), ROOT_CALLER);
    a.store.commitBatch();
    expect(a.fs.read(f, 0, 100).toString()).toBe('base\nkept');
  });

  // found by the hostile pass: `echo x >> f` through a handle the host then swapped for a
  // directory made a directory copy, which `commit` wrote over the host's next file at that name
  it('refuses (ESTALE) to copy a file the host replaced by another kind, and leaves nothing behind', () => {
    for (const batched of [true, false]) {
      for (const kind of ['dir', 'symlink', 'fifo'] as const) {
        const { dir, db } = base({ 'd/f.txt': 'base\n', 'd/g.txt': 'g' });
        const a = open(db);
        const f = inoOf(a, 'd/f.txt'); // seen as a regular file
        const p = join(dir, 'd/f.txt');
        rmSync(p);
        if (kind === 'dir') mkdirSync(p);
        else if (kind === 'symlink') symlinkSync('/etc/hostname', p);
        else execFileSync('mkfifo', [p]);
        const rowsBefore = column(a, 'SELECT count(*) FROM fs_inode');
        if (batched) expect(a.store.beginBatch()).toBe(true);
        expect(() => a.fs.append(f, Buffer.from('x\n'), ROOT_CALLER)).toThrow(expect.objectContaining({ code: 'ESTALE' }));
        expect(() => a.fs.write(f, 0, Buffer.from('x\n'), ROOT_CALLER)).toThrow(expect.objectContaining({ code: 'ESTALE' }));
        expect(() => a.fs.setattr(f, { size: 0 })).toThrow(expect.objectContaining({ code: 'ESTALE' }));
        if (batched) a.store.commitBatch();
        // d may be copied up (it still is a directory); nothing named f.txt is
        expect(column(a, "SELECT count(*) FROM fs_dentry WHERE name = 'f.txt'")).toEqual([0]);
        expect((column(a, 'SELECT count(*) FROM fs_inode')[0] as number) - (rowsBefore[0] as number)).toBeLessThanOrEqual(1);
      }
    }
  });
});
