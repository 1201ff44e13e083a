/**
 * Tree walks over damaged or deep trees (issue #10, item 6): a directory cycle (a dentry
 * pointing back at an ancestor, which integrity_check accepts) stops every walk with ELOOP
 * instead of looping forever or overflowing the stack, and deep trees do not need deep stacks.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/core/agent.js';
import { computeChanges } from '../../src/core/changes/index.js';
import { findDirectoryCycle } from '../../src/core/fs/index.js';
import { InodeFs, PathFs } from '../../src/core/fs/index.js';
import { OverlayFs } from '../../src/core/overlay/index.js';
import { Store } from '../../src/store/index.js';
import { tempDir } from '../support/cli.js';

let tmp: { dir: string; cleanup: () => void };
let agent: Agent;

beforeEach(() => {
  tmp = tempDir('agentfs-walks-');
  agent = Agent.open({ path: join(tmp.dir, 'a.db') }, { create: true });
});
afterEach(() => {
  agent.close();
  tmp.cleanup();
});

/** /a/b/loop -> /a: a dentry pointing back at an ancestor, written as damage would write it. */
function makeCycle(a: Agent): void {
  a.paths.mkdir('/a/b', { recursive: true });
  a.paths.writeFile('/a/b/f', 'x');
  const ino = (p: string) => a.paths.lstat(p).ino;
  a.store.db.prepare('INSERT INTO fs_dentry (name, parent_ino, ino) VALUES (?, ?, ?)').run('loop', ino('/a/b'), ino('/a'));
  expect(a.store.db.prepare('PRAGMA integrity_check').get()).toMatchObject({ integrity_check: 'ok' });
}

describe('directory cycles', () => {
  it('walk, cp -r and rm -r stop with ELOOP and change nothing', () => {
    makeCycle(agent);
    const p = agent.paths;
    expect(() => [...p.walk('/')]).toThrow(/ELOOP.*\/a\/b\/loop/);
    expect(() => p.cp('/a', '/copy', { recursive: true })).toThrow(/ELOOP/);
    expect(p.exists('/copy')).toBe(false);
    expect(() => p.rm('/a', { recursive: true })).toThrow(/ELOOP/);
    expect(p.readFile('/a/b/f', 'utf8')).toBe('x');
    expect(p.readdir('/a/b')).toEqual(['f', 'loop']);
  });

  it('findDirectoryCycle names the entry that closes a cycle, and nothing in a sound tree', () => {
    agent.paths.mkdir('/x/y/z', { recursive: true });
    agent.paths.writeFile('/x/y/f', 'f');
    agent.paths.link('/x/y/f', '/x/y/z/hard');
    expect(findDirectoryCycle(agent.store)).toBeUndefined();
    // a detached loop: /p's entry moved under its own child /p/q (one entry per directory)
    agent.paths.mkdir('/p/q', { recursive: true });
    const ino = (path: string) => agent.paths.lstat(path).ino;
    agent.store.db.prepare('UPDATE fs_dentry SET parent_ino = ? WHERE ino = ?').run(ino('/p/q'), ino('/p'));
    expect(findDirectoryCycle(agent.store)).toMatch(/its own ancestor/);
    agent.store.db.prepare('UPDATE fs_dentry SET parent_ino = 1 WHERE name = ?').run('p');
    expect(findDirectoryCycle(agent.store)).toBeUndefined();
    makeCycle(agent);
    expect(findDirectoryCycle(agent.store)).toMatch(/two entries: \/a and \/a\/b\/loop/);
  });

  it('an overlay diff stops with ELOOP on a cycle in its delta', () => {
    const base = join(tmp.dir, 'base');
    mkdirSync(base);
    writeFileSync(join(base, 'keep'), 'k');
    const store = Store.open({ path: join(tmp.dir, 'ov.db') }, { create: true });
    const ov = new OverlayFs(store, base, { delta: new InodeFs(store) });
    try {
      const root = ov.rootIno;
      const a = ov.mkdir(root, 'a', 0o755, { uid: 0, gid: 0 });
      const b = ov.mkdir(a.ino, 'b', 0o755, { uid: 0, gid: 0 });
      void b;
      const d = (name: string, parent: number) =>
        (store.db.prepare('SELECT ino FROM fs_dentry WHERE name = ? AND parent_ino = ?').get(name, parent) as { ino: number }).ino;
      const da = d('a', 1);
      store.db.prepare('INSERT INTO fs_dentry (name, parent_ino, ino) VALUES (?, ?, ?)').run('loop', d('b', da), da);
      ov.close();
      const ov2 = new OverlayFs(store, base, { delta: new InodeFs(store) });
      try {
        expect(() => computeChanges(ov2.changes)).toThrow(/ELOOP/);
      } finally {
        ov2.close();
      }
    } finally {
      store.close();
    }
  });
});

describe('deep trees', () => {
  it('walk and rm -r handle 20,000 levels without a deep stack', () => {
    // the core alone: the journal's per-operation path costs O(depth) and is not what this is about
    const store = Store.open({ path: join(tmp.dir, 'deep.db') }, { create: true });
    try {
      const fs = new InodeFs(store);
      const paths = new PathFs(fs);
      const depth = 20_000;
      paths.batch(() => {
        let cur = fs.rootIno;
        for (let i = 0; i < depth; i++) cur = fs.mkdir(cur, 'd', 0o755, { uid: 0, gid: 0 }).ino;
        fs.create(cur, 'leaf', 0o644, { uid: 0, gid: 0 });
      });
      let n = 0;
      let deepest = 0;
      for (const e of paths.walk('/')) {
        n++;
        deepest = Math.max(deepest, e.depth);
      }
      expect(n).toBe(depth + 1);
      expect(deepest).toBe(depth + 1);
      paths.rm('/d', { recursive: true });
      expect(paths.readdir('/')).toEqual([]);
    } finally {
      store.close();
    }
  });

  it('an overlay diff walks as deep as overlay paths go (1,900 levels)', () => {
    const base = join(tmp.dir, 'deep-base');
    mkdirSync(base);
    const store = Store.open({ path: join(tmp.dir, 'deep-ov.db') }, { create: true });
    const ov = new OverlayFs(store, base, { delta: new InodeFs(store) });
    try {
      store.transaction(() => {
        let cur = ov.rootIno;
        for (let i = 0; i < 1900; i++) cur = ov.mkdir(cur, 'd', 0o755, { uid: 0, gid: 0 }).ino;
      });
      const changes = computeChanges(ov.changes);
      expect(changes).toHaveLength(1900);
      expect(changes.every((c) => c.status === 'A')).toBe(true);
    } finally {
      ov.close();
      store.close();
    }
  });
});

describe('deep trees without quadratic path resolution', () => {
  it('mkdir -p and cp -r of a tree 1000 levels deep look each level up a bounded number of times', () => {
    const depth = 1000;
    const deep = '/d'.repeat(depth);
    agent.paths.mkdir(deep, { recursive: true });
    // count the lookups through a PathFs over the same filesystem
    const fs = agent.fs;
    let lookups = 0;
    const counting = new Proxy(fs, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop === 'lookup' && typeof v === 'function') {
          return (...args: unknown[]) => {
            lookups++;
            return (v as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const paths = new PathFs(counting);
    paths.mkdir(`/other${deep}`, { recursive: true });
    expect(lookups).toBeLessThan(depth * 3);
    lookups = 0;
    paths.cp('/d', '/copy', { recursive: true });
    expect(paths.stat(`/copy${'/d'.repeat(depth - 1)}`).mode & 0o170000).toBe(0o040000);
    // walking and copying visit each level; re-resolving every prefix made it depth^3 (1.7e8)
    expect(lookups).toBeLessThan(depth * depth * 4);
  });
});
