import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/store/index.js';
import { InodeFs } from '../../src/core/fs/index.js';
import { OverlayFs } from '../../src/core/overlay/index.js';
import { ROOT_CALLER } from '../../src/core/types.js';
import { isFsError } from '../../src/core/errors.js';
import { tempDir } from '../support/cli.js';

/** fallocate and st_blocks in the core: modes, ENOSPC, chunk shape, blocks seen by another connection. */
const KEEP = 0x01;
const PUNCH = 0x02;
const ZERO = 0x10;
const CS = 4096;

let tmp: { dir: string; cleanup: () => void };
const stores: Store[] = [];
const open = (name = 'a.db') => {
  const s = Store.open({ path: join(tmp.dir, name) }, { create: true });
  stores.push(s);
  return s;
};
const code = (fn: () => unknown) => {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (isFsError(e)) return e.code;
    throw e;
  }
};
/** every chunk exactly CS bytes except the file's last (SPEC v0.4), none past the end */
function checkShape(s: Store, ino: number, size: number): void {
  const rows = s.stmt('SELECT chunk_index AS i, length(data) AS n FROM fs_data WHERE ino = ? ORDER BY chunk_index').all(ino) as Array<{ i: number; n: number }>;
  const last = Math.floor((size - 1) / CS);
  for (const r of rows) {
    expect(r.i).toBeLessThanOrEqual(last);
    expect(r.n).toBe(r.i === last ? size - last * CS : CS);
  }
}

beforeEach(() => {
  tmp = tempDir('agentfs-fallocate-unit-');
});
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  tmp.cleanup();
});

describe('fallocate', () => {
  it('mode 0 extends over a hole; KEEP_SIZE keeps the size; nothing is stored', () => {
    const s = open();
    const fs = new InodeFs(s);
    const f = fs.create(1, 'f', 0o644, ROOT_CALLER).ino;
    fs.write(f, 0, Buffer.from('abc'));
    fs.fallocate(f, 0, 0, 10 * CS);
    expect(fs.getattr(f).size).toBe(10 * CS);
    expect(fs.getattr(f).blocks).toBe(8); // the first chunk, padded: no longer the last
    expect(fs.read(f, 0, 5).toString('latin1')).toBe('abc\0\0');
    checkShape(s, f, 10 * CS);
    fs.fallocate(f, KEEP, 0, 100 * CS);
    expect(fs.getattr(f).size).toBe(10 * CS);
  });

  it('punches holes and zeroes ranges across chunk edges and the last chunk', () => {
    const s = open();
    const fs = new InodeFs(s);
    const f = fs.create(1, 'f', 0o644, ROOT_CALLER).ino;
    const size = 3 * CS + 100;
    fs.write(f, 0, Buffer.alloc(size, 7));
    expect(fs.getattr(f).blocks).toBe(24 + 1);
    fs.fallocate(f, PUNCH | KEEP, CS + 10, 2 * CS); // partial chunk 1, whole chunk 2, partial chunk 3
    const d = fs.read(f, 0, size);
    expect(d.length).toBe(size);
    expect(d.subarray(0, CS + 10).every((b) => b === 7)).toBe(true);
    expect(d.subarray(CS + 10, 3 * CS + 10).every((b) => b === 0)).toBe(true);
    expect(d.subarray(3 * CS + 10).every((b) => b === 7)).toBe(true);
    expect(fs.getattr(f).blocks).toBe(8 + 8 + 1);
    checkShape(s, f, size);
    // punching up to and past EOF removes the last chunk; the size stays
    fs.fallocate(f, PUNCH | KEEP, 3 * CS, 10 * CS);
    expect(fs.getattr(f).size).toBe(size);
    expect(fs.getattr(f).blocks).toBe(16);
    // writing past it later still reads right
    fs.write(f, size + 5, Buffer.from('z'));
    expect(fs.read(f, size - 1, 10).toString('latin1')).toBe('\0\0\0\0\0\0z');
    checkShape(s, f, size + 6);
    // ZERO_RANGE without KEEP_SIZE grows the file
    fs.fallocate(f, ZERO, 0, 5 * CS);
    expect(fs.getattr(f).size).toBe(5 * CS);
    expect(fs.read(f, 0, 5 * CS).every((b) => b === 0)).toBe(true);
    checkShape(s, f, 5 * CS);
  });

  it('refuses bad arguments, unsupported modes and more than the free space', () => {
    const fs = new InodeFs(open());
    const f = fs.create(1, 'f', 0o644, ROOT_CALLER).ino;
    const d = fs.mkdir(1, 'd', 0o755, ROOT_CALLER).ino;
    expect(code(() => fs.fallocate(f, 0, -1, 10))).toBe('EINVAL');
    expect(code(() => fs.fallocate(f, 0, 0, 0))).toBe('EINVAL');
    expect(code(() => fs.fallocate(f, 0, Number.MAX_SAFE_INTEGER, 10))).toBe('EFBIG');
    expect(code(() => fs.fallocate(f, 0x08, 0, CS))).toBe('ENOTSUP'); // collapse
    expect(code(() => fs.fallocate(f, 0x20, 0, CS))).toBe('ENOTSUP'); // insert
    expect(code(() => fs.fallocate(f, PUNCH, 0, CS))).toBe('ENOTSUP'); // punch needs keep-size
    expect(code(() => fs.fallocate(d, 0, 0, CS))).toBe('EISDIR');
    const free = fs.statfs().bavail * fs.statfs().bsize;
    expect(code(() => fs.fallocate(f, 0, 0, free + 100 * CS))).toBe('ENOSPC');
    expect(code(() => fs.fallocate(f, KEEP, 0, free + 100 * CS))).toBe('ENOSPC');
    expect(fs.getattr(f).size).toBe(0);
    // beyond 2^53 bytes a JavaScript number cannot name every offset: "file too large"
    expect(code(() => fs.fallocate(f, 0, 2 ** 60, CS))).toBe('EFBIG');
    expect(code(() => fs.write(f, 2 ** 60, Buffer.from('x')))).toBe('EFBIG');
    expect(code(() => fs.setattr(f, { size: 2 ** 62 }))).toBe('EFBIG');
    expect(code(() => fs.write(f, 1.5, Buffer.from('x')))).toBe('EINVAL');
    expect(code(() => fs.setattr(f, { size: 2.5 }))).toBe('EINVAL');
    // punching never needs space
    expect(code(() => fs.fallocate(f, PUNCH | KEEP, 0, 2 ** 50))).toBe('ok');
  });

  it('st_blocks follows changes made by another connection', () => {
    const a = new InodeFs(open());
    const b = new InodeFs(open());
    const f = a.create(1, 'f', 0o644, ROOT_CALLER).ino;
    a.setattr(f, { size: 10 * 2 ** 30 });
    expect(a.getattr(f).blocks).toBe(0);
    b.write(f, 0, Buffer.alloc(2 * CS, 1));
    expect(a.getattr(f).blocks).toBe(16);
    b.fallocate(f, PUNCH | KEEP, 0, CS);
    expect(a.getattr(f).blocks).toBe(8);
    expect(a.readdirPlus(1).find((e) => e.name === 'f')!.attr.blocks).toBe(8);
  });

  it('on an overlay, copies the base file up first', () => {
    const base = join(tmp.dir, 'base');
    mkdirSync(base);
    writeFileSync(join(base, 'f'), Buffer.alloc(2 * CS, 9));
    const s = open('o.db');
    const ov = new OverlayFs(s, base, { delta: new InodeFs(s) });
    try {
      const f = ov.lookup(ov.rootIno, 'f').ino;
      ov.fallocate(f, PUNCH | KEEP, 0, CS);
      const d = ov.read(f, 0, 2 * CS);
      expect(d.subarray(0, CS).every((x) => x === 0)).toBe(true);
      expect(d.subarray(CS).every((x) => x === 9)).toBe(true);
      expect(ov.getattr(f).blocks).toBe(8);
    } finally {
      ov.close();
    }
  });
});
