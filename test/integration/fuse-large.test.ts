import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../support/cli.js';
import { forceUnmount, mountBg, sh, trackPrivateRss } from '../support/fuse.js';

/** Memory stays flat: a 1 GiB file streams through the server without being buffered. */
let tmp: { dir: string; cleanup: () => void };
let m: string;
let pid: number;

beforeAll(async () => {
  tmp = tempDir('agentfs-fuse-large-');
  expect((await runCli(['init', 'big', '--no-journal'], { cwd: tmp.dir })).code).toBe(0);
  m = join(tmp.dir, 'mnt');
  mkdirSync(m);
  pid = await mountBg('big', m, [], tmp.dir);
});

afterAll(async () => {
  await forceUnmount(m, pid);
  tmp.cleanup();
});

describe('large files', () => {
  it('writes and reads back 1 GiB with the server under 200 MB of private memory', { timeout: 400_000 }, async () => {
    const rss = trackPrivateRss(pid);
    // a pattern that is not all zeros, so nothing can shortcut it
    const w = await sh(
      'yes "agentfs large file test line 0123456789" | head -c 1073741824 | dd of=big.bin bs=1M iflag=fullblock status=none && sync big.bin && stat -c %s big.bin',
      m,
      300_000,
    );
    expect(w.stderr).toBe('');
    expect(w.stdout).toBe('1073741824\n');
    const r = await sh(
      'a=$(head -c 1073741824 < big.bin | sha256sum | cut -c1-64); ' +
        'b=$(yes "agentfs large file test line 0123456789" | head -c 1073741824 | sha256sum | cut -c1-64); ' +
        '[ "$a" = "$b" ] && echo same',
      m,
      300_000,
    );
    expect(r.stdout).toBe('same\n');
    const peakMb = rss.stop() / 1024;
    console.log(`server peak private RSS during 1 GiB write+read: ${peakMb.toFixed(0)} MB`);
    expect(peakMb).toBeLessThan(200);
  });
});
