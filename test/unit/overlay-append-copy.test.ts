// A base file's first append (`echo >> f` in `run`) goes into its copy as the copy is made
// (core/overlay/copy-up.ts copyUpAppending, core/fs/ops/copy-in.ts `then`): the result must be
// what a copy-up followed by an append gives, rows, times, set-id bits and journal alike.
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../../src/core/agent.js';
import { JournalReader } from '../../src/core/journal/index.js';
import { Store } from '../../src/store/index.js';
import { ROOT_CALLER, type Caller } from '../../src/core/types.js';
import { tempDir } from '../support/cli.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function overlay(files: Record<string, string | Buffer>): { a: Agent; base: string; ino: (p: string) => number } {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const base = join(t.dir, 'base');
  mkdirSync(join(base, 'd'), { recursive: true });
  for (const [p, content] of Object.entries(files)) writeFileSync(join(base, p), content);
  const file = join(t.dir, 'ov.db');
  const s = Store.open({ path: file }, { create: true });
  s.setMeta('overlay.base', base);
  s.close();
  const a = Agent.open({ path: file });
  cleanups.push(() => a.close());
  const ino = (p: string): number => {
    let cur = a.fs.rootIno;
    for (const part of p.split('/').filter(Boolean)) cur = a.fs.lookup(cur, part).ino;
    return cur;
  };
  return { a, base, ino };
}

const USER: Caller = { uid: 1000, gid: 1000, pid: process.pid };

describe('an append that copies a base file up', () => {
  it('stores the base content and the data after it, returns where it went, and leaves the base alone', () => {
    const { a, base, ino } = overlay({ 'd/f.txt': 'base line\n' });
    const i = ino('/d/f.txt');
    a.fs.open(i, 0o2001);
    expect(a.fs.append(i, Buffer.from('added\n'), ROOT_CALLER)).toBe(10);
    expect(a.fs.append(i, Buffer.from('again\n'), ROOT_CALLER)).toBe(16);
    a.fs.release(i);
    expect(a.fs.read(i, 0, 100).toString()).toBe('base line\nadded\nagain\n');
    expect(a.fs.getattr(i).size).toBe(22);
    expect(readFileSync(join(base, 'd/f.txt'), 'utf8')).toBe('base line\n');
  });

  it('moves mtime and ctime to the write and keeps atime, owner and permission bits from the base', () => {
    const { a, base, ino } = overlay({ 'f.txt': 'x' });
    chmodSync(join(base, 'f.txt'), 0o640);
    utimesSync(join(base, 'f.txt'), new Date(1_000_000_000_000), new Date(1_100_000_000_000));
    const i = ino('/f.txt');
    const before = Date.now() / 1000 - 1;
    a.fs.append(i, Buffer.from('y'), ROOT_CALLER);
    const at = a.fs.getattr(i);
    expect(at.mode & 0o7777).toBe(0o640);
    expect(at.atime.sec).toBe(1_000_000_000);
    expect(at.mtime.sec).toBeGreaterThan(before);
    expect(at.ctime.sec).toBeGreaterThan(before);
    expect(at.uid).toBe(statSync(join(base, 'f.txt')).uid);
  });

  it('drops setuid (and group-executable setgid) for a writer without privilege, not for root', () => {
    const { a, base, ino } = overlay({ 'user.bin': 'u', 'root.bin': 'r' });
    chmodSync(join(base, 'user.bin'), 0o6755);
    chmodSync(join(base, 'root.bin'), 0o6755);
    a.fs.append(ino('/user.bin'), Buffer.from('!'), USER);
    a.fs.append(ino('/root.bin'), Buffer.from('!'), ROOT_CALLER);
    expect(a.fs.getattr(ino('/user.bin')).mode & 0o7777).toBe(0o755);
    expect(a.fs.getattr(ino('/root.bin')).mode & 0o7777).toBe(0o6755);
  });

  it('journals the bits a write dropped as the chmod after the write, as a copy-up then an append does', () => {
    const { a, base, ino } = overlay({ 'user.bin': 'u', 'root.bin': 'r' });
    chmodSync(join(base, 'user.bin'), 0o4755);
    chmodSync(join(base, 'root.bin'), 0o4755);
    const reader = new JournalReader(a.store);
    const before = reader.lastId();
    a.fs.append(ino('/user.bin'), Buffer.from('!'), USER);
    a.fs.append(ino('/root.bin'), Buffer.from('!'), ROOT_CALLER);
    a.journal?.flush();
    const rows = reader.list({ order: 'asc', afterId: before });
    expect(rows.map((e) => `${e.op} ${e.path}`)).toEqual(['write /user.bin', 'chmod /user.bin', 'write /root.bin']);
    expect(rows[1]!.mode! & 0o7777).toBe(0o755);
  });

  it('journals the append as a write at the old end, and the copy-up not at all', () => {
    const { a, ino } = overlay({ 'd/f.txt': '12345' });
    const reader = new JournalReader(a.store);
    const before = reader.lastId();
    const i = ino('/d/f.txt');
    a.fs.open(i, 0o2001);
    a.fs.append(i, Buffer.from('678'), ROOT_CALLER);
    a.fs.release(i);
    const rows = reader.list({ order: 'asc', afterId: before });
    expect(rows.map((e) => `${e.op} ${e.path}`)).toEqual(['write /d/f.txt']);
    expect(rows[0]).toMatchObject({ offset: 5, length: 3, size: 8 });
  });

  it('an empty append copies nothing up; files larger than one read take the general route with the same result', () => {
    const big = Buffer.alloc((1 << 20) + 5, 0x61);
    const { a, ino } = overlay({ 'e.txt': 'e', 'big.bin': big });
    const e = ino('/e.txt');
    const mtime = a.fs.getattr(e).mtime;
    expect(a.fs.append(e, Buffer.alloc(0), ROOT_CALLER)).toBe(1);
    expect(a.fs.getattr(e).mtime).toEqual(mtime);
    const b = ino('/big.bin');
    expect(a.fs.append(b, Buffer.from('tail'), ROOT_CALLER)).toBe(big.length);
    expect(a.fs.getattr(b).size).toBe(big.length + 4);
    expect(a.fs.read(b, big.length - 2, 10).toString()).toBe('aatail');
  });
});
