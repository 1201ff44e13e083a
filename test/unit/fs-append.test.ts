import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/store/index.js';
import { InodeFs } from '../../src/core/fs/index.js';
import { OverlayFs } from '../../src/core/overlay/index.js';
import { ROOT_CALLER } from '../../src/core/types.js';
import { tempDir } from '../support/cli.js';

/** FileSystem.append: the end of file as the write transaction sees it, not as a caller cached it. */
let tmp: { dir: string; cleanup: () => void };
const stores: Store[] = [];
const open = (path: string) => {
  const s = Store.open({ path }, { create: true });
  stores.push(s);
  return s;
};

beforeEach(() => {
  tmp = tempDir('agentfs-append-');
});
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  tmp.cleanup();
});

describe('append', () => {
  it('two connections appending to one file interleave without overwriting', () => {
    const db = join(tmp.dir, 'a.db');
    const a = new InodeFs(open(db));
    const b = new InodeFs(open(db));
    const f = a.create(1, 'log', 0o644, ROOT_CALLER).ino;
    // b's idea of the size is stale as soon as a appends: append must not use it
    expect(b.getattr(f).size).toBe(0);
    for (let i = 0; i < 50; i++) {
      expect(a.append(f, Buffer.from(`a${i};`))).toBe(a.getattr(f).size - `a${i};`.length);
      b.append(f, Buffer.from(`b${i};`));
    }
    const text = a.read(f, 0, 1 << 20).toString();
    const parts = text.split(';').filter(Boolean);
    expect(parts.length).toBe(100);
    expect(new Set(parts).size).toBe(100);
    expect(b.getattr(f).size).toBe(text.length);
  });

  it('crosses chunk boundaries and returns where the data landed', () => {
    const fs = new InodeFs(open(join(tmp.dir, 'b.db')));
    const f = fs.create(1, 'big', 0o644, ROOT_CALLER).ino;
    fs.write(f, 0, Buffer.alloc(5000, 1));
    expect(fs.append(f, Buffer.alloc(10_000, 2))).toBe(5000);
    const all = fs.read(f, 0, 20_000);
    expect(all.length).toBe(15_000);
    expect(all.subarray(0, 5000).every((x) => x === 1)).toBe(true);
    expect(all.subarray(5000).every((x) => x === 2)).toBe(true);
  });

  it('on an overlay, copies the base file up and appends after its content', () => {
    const base = join(tmp.dir, 'base');
    mkdirSync(base);
    writeFileSync(join(base, 'f.txt'), 'base content\n');
    const s = open(join(tmp.dir, 'c.db'));
    const ov = new OverlayFs(s, base, { delta: new InodeFs(s) });
    try {
      const f = ov.lookup(ov.rootIno, 'f.txt').ino;
      expect(ov.append(f, Buffer.from('more\n'))).toBe(13);
      expect(ov.read(f, 0, 100).toString()).toBe('base content\nmore\n');
    } finally {
      ov.close();
    }
  });
});
