import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../support/cli.js';
import { forceUnmount, isMounted, mountBg, mountLog, sh } from '../support/fuse.js';

/**
 * Large WRITEs reach JavaScript in the request's own memory, which is given back after each one
 * and filled by a later request (native/request_bytes.h). Reused too early, one writer's bytes
 * would land in another's file; never reused, every request would fault in fresh memory.
 */
let tmp: { dir: string; cleanup: () => void };
let m: string;
let pid: number;
const runtime = () => join(tmp.dir, 'run');
const env = () => ({ AGENTFS_RUNTIME_DIR: runtime(), AGENTFS_FUSE_STATS: '1' });

beforeAll(async () => {
  tmp = tempDir('agentfs-fuse-write-bytes-');
  expect((await runCli(['init', 'w', '--no-journal'], { cwd: tmp.dir, env: env() })).code).toBe(0);
  m = join(tmp.dir, 'mnt');
  mkdirSync(m);
  pid = await mountBg('w', m, [], tmp.dir, env());
});

afterAll(async () => {
  await forceUnmount(m, pid);
  tmp.cleanup();
});

describe('the bytes of large writes', () => {
  it('three writers at once, 1 MiB writes of their own pattern each: every file holds its own bytes, and the memory is reused', async () => {
    // each block differs from the last (its number in it), so a block written twice or a stale
    // buffer shows in the digest
    const writer = (name: string, ch: string) =>
      `python3 -c "
import os
fd = os.open('${name}', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
for i in range(24):
    os.write(fd, (('${ch}%07d' % i) * 131072).encode())
os.fsync(fd)
os.close(fd)
"`;
    const w = await sh(`${writer('a.bin', 'a')} & ${writer('b.bin', 'b')} & ${writer('c.bin', 'c')} & wait`, m, 120_000);
    expect(w.stderr).toBe('');
    const expected = (ch: string) =>
      `python3 -c "
import hashlib
h = hashlib.sha256()
for i in range(24):
    h.update((('${ch}%07d' % i) * 131072).encode())
print(h.hexdigest())
"`;
    for (const ch of ['a', 'b', 'c']) {
      // read back through the mount with its page cache dropped, and from the database by the CLI
      const viaMount = await sh(`echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; sha256sum < ${ch}.bin | cut -c1-64`, m);
      const want = await sh(expected(ch));
      expect(viaMount.stdout, `${ch}.bin through the mount`).toBe(want.stdout);
      const viaCli = await sh(`node ${JSON.stringify(join(process.cwd(), 'bin', 'agentfs.js'))} fs cat w /${ch}.bin | sha256sum | cut -c1-64`, tmp.dir);
      expect(viaCli.stdout, `${ch}.bin from the database`).toBe(want.stdout);
    }
    expect((await runCli(['unmount', m], { cwd: tmp.dir, env: env() })).code).toBe(0);
    expect(isMounted(m)).toBe(false);
    const line = /fuse large writes: (\d+) in their own memory, (\d+) of them in memory an earlier one gave back/.exec(mountLog(runtime(), m));
    expect(line, mountLog(runtime(), m)).not.toBeNull();
    const [shared, reused] = [Number(line![1]), Number(line![2])];
    // 72 MiB in writes of up to 1 MiB (the kernel may split one)
    expect(shared).toBeGreaterThanOrEqual(72);
    // all but the first few (one a writer at a time in flight) in memory given back
    expect(reused).toBeGreaterThan(shared - 10);
  });
});
