/**
 * An SDK agent (durability 'normal') checkpoints its WAL on the addon's thread
 * (src/platform/wal-checkpoints.ts), kicked by its single-statement commits every 16th time and
 * once more when they pause; under durability 'full' and near a full disk the commits checkpoint
 * themselves, as SQLite does by default.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { AgentFS } from '../../src/sdk/agentfs.js';
import { ROOT, run, tempDir } from '../support/cli.js';

const payload = Buffer.alloc(4096, 'a');

/** Resolves once check() is true, polling; false after ms. */
async function eventually(check: () => boolean, ms = 10_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/** Files in /d of a copy of the database file alone (its WAL left behind): what it holds itself. */
function filesInFileAlone(file: string, scratch: string): number {
  copyFileSync(file, scratch);
  const db = new Database(scratch, { readonly: true });
  try {
    const row = db
      .prepare("SELECT count(*) AS n FROM fs_dentry WHERE parent_ino = (SELECT ino FROM fs_dentry WHERE parent_ino = 1 AND name = 'd')")
      .get() as { n: number } | undefined;
    return row?.n ?? 0;
  } catch {
    return 0; // the directory itself not in the file yet
  } finally {
    db.close();
  }
}

/** Runs fn with AGENTFS_FUSE_TRACE set to a file; the lines about background checkpoints written meanwhile. */
async function traced(dir: string, fn: () => Promise<void>): Promise<string[]> {
  const file = join(dir, 'trace.txt');
  const before = process.env.AGENTFS_FUSE_TRACE;
  process.env.AGENTFS_FUSE_TRACE = file;
  try {
    await fn();
  } finally {
    if (before === undefined) delete process.env.AGENTFS_FUSE_TRACE;
    else process.env.AGENTFS_FUSE_TRACE = before;
  }
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('background checkpoints')) : [];
}

describe("an SDK agent's WAL checkpoints", () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir('agentfs-sdk-ckpt-')));
  afterEach(() => cleanup());

  it('are made by the thread while the agent writes, the WAL bounded', async () => {
    const file = join(dir, 'a.db');
    const lines = await traced(dir, async () => {
      const a = await AgentFS.open({ path: file });
      await a.fs.mkdir('/d');
      const start = statSync(file).size;
      let walPeak = 0;
      // ~12 WAL frames a file: 1,500 files are ~18,000 frames, past the commits' own backstop
      // (10,000) had the thread not taken them
      for (let i = 0; i < 1500; i++) {
        await a.fs.writeFile(`/d/f${i}`, payload);
        if (i % 50 === 0 && existsSync(`${file}-wal`)) walPeak = Math.max(walPeak, statSync(`${file}-wal`).size);
      }
      // the file holds the first files' pages while the agent is still open: checkpoints ran
      expect(statSync(file).size).toBeGreaterThan(start + (2 << 20));
      // started over: ~4,000 frames and a pass (~20 MiB) on a quiet machine; on a busy one the
      // thread's passes lag and the commits' own backstop (10,000 frames, ~40 MiB) bounds it
      // (the full suite beside it: 41 MB once). Never restarted, 18,000 frames would be ~72 MiB
      expect(walPeak).toBeLessThan(44 << 20);
      await a.close();
    });
    expect(lines).toHaveLength(1);
    expect(Number(/(\d+) runs/.exec(lines[0]!)?.[1])).toBeGreaterThan(0);
    const again = await AgentFS.open({ path: file });
    expect((await again.fs.readdir('/d')).length).toBe(1500);
    expect(await again.fs.readFile('/d/f1499')).toEqual(payload);
    await again.close();
  });

  it('leave the database file holding every write once the writes pause, the last few too', async () => {
    const file = join(dir, 'a.db');
    const copy = join(dir, 'copy.db');
    const a = await AgentFS.open({ path: file });
    try {
      await a.fs.mkdir('/d');
      // ~720 frames: under the 1,000 a pass waits for, and a WAL under the 4 MiB the idle
      // truncation leaves alone, so only the thread's pass once the writes pause takes them
      for (let i = 0; i < 60; i++) await a.fs.writeFile(`/d/f${i}`, payload);
      expect(await eventually(() => filesInFileAlone(file, copy) === 60)).toBe(true);
      // three more: fewer than the 16 commits a kick waits for, told to the thread when they pause
      for (let i = 60; i < 63; i++) await a.fs.writeFile(`/d/f${i}`, payload);
      expect(await eventually(() => filesInFileAlone(file, copy) === 63)).toBe(true);
    } finally {
      await a.close();
    }
  });

  it("are left to the commits under durability 'full'", async () => {
    const lines = await traced(dir, async () => {
      const a = await AgentFS.open({ path: join(dir, 'full.db'), durability: 'full' });
      for (let i = 0; i < 20; i++) await a.kv.set(`k${i}`, i);
      await a.close();
      const b = await AgentFS.open({ path: join(dir, 'normal.db') });
      for (let i = 0; i < 20; i++) await b.kv.set(`k${i}`, i);
      await b.close();
    });
    // one thread: the 'normal' agent's
    expect(lines).toHaveLength(1);
  });

  it('are left to the commits near a full disk', async (ctx) => {
    const small = join(dir, 'small');
    mkdirSync(small);
    // under the 256 MiB of free space the agent wants for a WAL its thread lets grow
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=96m', 'agentfs-test', small]).status !== 0) ctx.skip();
    try {
      // in a process of its own: a closed libsql connection keeps its files open until its process
      // exits, and the tmpfs could not be unmounted
      const trace = join(dir, 'trace.txt');
      const code = `
        const { AgentFS } = await import(${JSON.stringify(`${ROOT}/dist/index.js`)});
        const { existsSync, statSync } = await import('node:fs');
        const file = process.argv[1];
        const a = await AgentFS.open({ path: file });
        await a.fs.mkdir('/d');
        let walPeak = 0;
        for (let i = 0; i < 800; i++) {
          await a.fs.writeFile('/d/f' + i, Buffer.alloc(4096, 'a'));
          if (existsSync(file + '-wal')) walPeak = Math.max(walPeak, statSync(file + '-wal').size);
        }
        await a.close();
        process.stdout.write(String(walPeak));`;
      const r = await run(process.execPath, ['--input-type=module', '-e', code, join(small, 'a.db')], { env: { AGENTFS_FUSE_TRACE: trace } });
      expect(r.stderr).toBe('');
      const lines = readFileSync(trace, 'utf8').split('\n').filter((l) => l.startsWith('background checkpoints'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/: 0 runs/);
      // SQLite's own checkpoints at 1,000 frames (~4 MiB and a commit), not the thread's ~16 MiB
      expect(Number(r.stdout)).toBeGreaterThan(1 << 20);
      expect(Number(r.stdout)).toBeLessThan(6 << 20);
    } finally {
      spawnSync('umount', [small]);
    }
  });
});
