import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { run, runCli, tempDir } from '../support/cli.js';
import { forceUnmount, mountBg } from '../support/fuse.js';

/**
 * The newest parts of the FUSE mount's native read path (ARCHITECTURE.md, "Native read path"),
 * under attack: requests on libfuse's worker threads, read-only opens answered in the addon
 * (counted in JavaScript through OPENED events) and directory attributes answered from what
 * JavaScript sent inside a group commit. Each case once failed.
 */
let tmp: { dir: string; cleanup: () => void };
const mounts: { mnt: string; pid?: number }[] = [];

beforeAll(() => {
  tmp = tempDir('agentfs-native-conc-');
});

afterAll(async () => {
  for (const m of mounts) await forceUnmount(m.mnt, m.pid);
  tmp.cleanup();
});

async function fresh(name: string, extra: string[] = []): Promise<{ db: string; mnt: string }> {
  const db = join(tmp.dir, `${name}.db`);
  const mnt = join(tmp.dir, name);
  mkdirSync(mnt);
  expect((await runCli(['init', db])).code).toBe(0);
  const entry: { mnt: string; pid?: number } = { mnt };
  mounts.push(entry);
  entry.pid = await mountBg(db, mnt, extra);
  return { db, mnt };
}

const sqlite = (db: string, sql: string) => run('sqlite3', [db, sql]);

/** What is left of unlinked files: none once their last descriptor closed. */
async function leftovers(db: string): Promise<string> {
  const q = () => sqlite(db, 'SELECT count(*) FROM fs_inode WHERE nlink = 0; SELECT count(*) FROM fs_data; SELECT count(*) FROM agentfs_fs_orphan;');
  let out = (await q()).stdout;
  for (let i = 0; i < 50 && out !== '0\n0\n0\n'; i++) {
    await new Promise((res) => setTimeout(res, 100));
    out = (await q()).stdout;
  }
  return out;
}

describe('read-only opens answered natively, racing unlinks through the mount', () => {
  it('an open that succeeded reads the whole file until it closes; then nothing is left', async () => {
    const { db, mnt } = await fresh('open-unlink');
    // The open's OPENED event was queued after the UNLINK (both in one batch, or the unlink's
    // transaction began while the open was in flight): the unlink freed the file and the open
    // descriptor then read ENOENT.
    const script = String.raw`
import os, sys, threading, time
m = sys.argv[1]
bad = opened = 0
data = b'x' * 100000
for i in range(200):
    p = f'{m}/f{i}'
    with open(p, 'wb') as f: f.write(data)
    time.sleep(0.02)  # past the group commit: the open is the native side's
    fd = [None]
    def opener():
        try: fd[0] = os.open(p, os.O_RDONLY)
        except FileNotFoundError: pass
    t = threading.Thread(target=opener); t.start()
    try: os.unlink(p)
    except FileNotFoundError: pass
    t.join()
    if fd[0] is None: continue
    opened += 1
    try:
        got = os.pread(fd[0], 200000, 0)
        if got != data: bad += 1; print('short read', i, len(got))
    except OSError as e:
        bad += 1; print('read failed', i, e.strerror)
    os.close(fd[0])
print('bad', bad, 'opened', 'some' if opened else 'none')
`;
    const r = await run('python3', ['-c', script, mnt], { timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('bad 0 opened some\n');
    expect(await leftovers(db)).toBe('0\n0\n0\n');
  });
});
