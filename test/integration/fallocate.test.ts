import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runCli, tempDir } from '../support/cli.js';
import { forceUnmount, mountBg } from '../support/fuse.js';

/**
 * Issue 10 item 5: fallocate through the mount (posix_fallocate no longer falls back to writing
 * a byte per block), st_blocks counting the chunks stored, ENOSPC beyond the free space.
 */
let tmp: { dir: string; cleanup: () => void };
let m: string;
let pid: number;
const env = () => ({ AGENTFS_RUNTIME_DIR: join(tmp.dir, 'run') });
const db = () => join(tmp.dir, '.agentfs', 'fa.db');
const dbBytes = () => statSync(db()).size + (statSync(db() + '-wal', { throwIfNoEntry: false })?.size ?? 0);

/** python3 os.posix_fallocate(path, off, len): "ok" or the errno name. */
async function posixFallocate(path: string, off: number, len: number): Promise<string> {
  const py = `
import os, sys, errno
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
try:
    os.posix_fallocate(fd, int(sys.argv[2]), int(sys.argv[3]))
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
`;
  const r = await run('python3', ['-c', py, path, String(off), String(len)], { timeoutMs: 30_000 });
  if (r.signal) return `killed (${r.signal})`;
  return r.stdout.trim() || r.stderr.trim();
}

beforeAll(async () => {
  tmp = tempDir('agentfs-fallocate-');
  expect((await runCli(['init', 'fa'], { cwd: tmp.dir, env: env() })).code).toBe(0);
  m = join(tmp.dir, 'mnt');
  mkdirSync(m);
  pid = await mountBg('fa', m, [], tmp.dir);
}, 60_000);

afterAll(async () => {
  await forceUnmount(m, pid);
  tmp.cleanup();
});

describe('fallocate on a mount', () => {
  it('st_blocks counts stored chunks: a 10 GB sparse file uses none, du agrees', async () => {
    const f = join(m, 'sparse');
    const r = await run('truncate', ['-s', '10G', f]);
    expect(r.code).toBe(0);
    expect(statSync(f).size).toBe(10 * 2 ** 30);
    expect(statSync(f).blocks).toBe(0);
    writeFileSync(join(m, 'dense'), Buffer.alloc(10_000, 1));
    expect(statSync(join(m, 'dense')).blocks).toBe(20); // two 4 KiB chunks + a last one of 1808 bytes
    const du = await run('du', ['-k', f]);
    expect(du.stdout.split('\t')[0]).toBe('0');
  });

  it('posix_fallocate of 100 MiB extends the file without writing 100 MiB of chunks', async () => {
    const before = dbBytes();
    expect(await posixFallocate(join(m, 'pre'), 0, 100 << 20)).toBe('ok');
    expect(statSync(join(m, 'pre')).size).toBe(100 << 20);
    expect(dbBytes() - before).toBeLessThan(4 << 20);
    expect(readFileSync(join(m, 'pre')).subarray(0, 1 << 20).every((b) => b === 0)).toBe(true);
  });

  it('refuses more than statfs reports free with ENOSPC, quickly, leaving the file as it was', async () => {
    const before = dbBytes();
    expect(await posixFallocate(join(m, 'huge'), 0, 5 * 2 ** 40)).toBe('ENOSPC');
    expect(statSync(join(m, 'huge')).size).toBe(0);
    const r = await run('fallocate', ['-l', '5T', join(m, 'huge')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/No space left on device/);
    expect(statSync(join(m, 'huge')).size).toBe(0);
    expect(dbBytes() - before).toBeLessThan(1 << 20);
  });

  it('KEEP_SIZE, PUNCH_HOLE and ZERO_RANGE; the other modes say EOPNOTSUPP', async () => {
    const f = join(m, 'modes');
    writeFileSync(f, Buffer.alloc(3 * 4096, 'x'));
    expect((await run('fallocate', ['-n', '-l', '1M', f])).code).toBe(0);
    expect(statSync(f).size).toBe(3 * 4096);

    const p = await run('fallocate', ['-p', '-o', '2048', '-l', '6144', f]);
    expect(p.stderr).toBe('');
    const data = readFileSync(f);
    expect(data.length).toBe(3 * 4096);
    expect(data.subarray(0, 2048).every((b) => b === 0x78)).toBe(true);
    expect(data.subarray(2048, 8192).every((b) => b === 0)).toBe(true);
    expect(data.subarray(8192).every((b) => b === 0x78)).toBe(true);
    expect(statSync(f).blocks).toBe(16); // the middle chunk is gone

    const z = await run('fallocate', ['-z', '-o', '10000', '-l', '10000', f]);
    expect(z.stderr).toBe('');
    const after = readFileSync(f);
    expect(after.length).toBe(20_000);
    expect(after.subarray(8192, 10_000).every((b) => b === 0x78)).toBe(true);
    expect(after.subarray(10_000).every((b) => b === 0)).toBe(true);

    for (const mode of ['-c', '-i']) {
      const r = await run('fallocate', [mode, '-o', '0', '-l', '4096', f]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/not supported/i);
    }
    expect(readFileSync(f).equals(after)).toBe(true);
  });

  it('sizes and offsets beyond 2^53 bytes are "File too large", not "Invalid argument"', async () => {
    const f = join(m, 'big-offsets');
    const t = await run('truncate', ['-s', '4E', f]);
    expect(t.stderr).toMatch(/File too large/);
    const d = await run('dd', ['if=/dev/zero', `of=${f}`, 'bs=1', 'count=1', 'seek=2305843009213693952', 'conv=notrunc']);
    expect(d.stderr).toMatch(/File too large/);
    expect(statSync(f).size).toBe(0);
  });

  it('the CLI and the database agree with the mount', async () => {
    const r = await runCli(['fs', 'stat', 'fa', '/sparse'], { cwd: tmp.dir, env: env() });
    expect(r.stdout).toMatch(/Size: 10737418240\s+Blocks: 0\b/);
  });
});
