import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../support/cli.js';
import { forceUnmount, sh } from '../support/fuse.js';
import { Agent } from '../../src/core/agent.js';
import { JournalReader } from '../../src/core/journal/index.js';

/**
 * The mount's write path (issue 16), counted with AGENTFS_FUSE_TRACE: an open with O_TRUNC
 * truncates in the same request (atomic_o_trunc), no setattr round trip, and the result is what
 * the separate setattr gave: empty file, journaled truncate, the CLI sees it.
 */
let tmp: { dir: string; cleanup: () => void };
let mnt: string;
let pid: number | undefined;

beforeAll(() => {
  tmp = tempDir('agentfs-fuse-write-path-');
  mnt = join(tmp.dir, 'mnt');
  mkdirSync(mnt);
});

afterAll(async () => {
  await forceUnmount(mnt, pid);
  tmp.cleanup();
});

describe('O_TRUNC through the mount', () => {
  it('truncates with the open: no setattr request, same result', async () => {
    const db = join(tmp.dir, 'w.db');
    const trace = join(tmp.dir, 'trace.txt');
    const env = { AGENTFS_RUNTIME_DIR: join(tmp.dir, 'run'), AGENTFS_FUSE_TRACE: trace };
    expect((await runCli(['init', db], { env })).code).toBe(0);
    const m = await runCli(['mount', db, mnt], { env });
    expect(m.stderr).toBe('');
    pid = Number(/\(pid (\d+)\)/.exec(m.stdout)?.[1]);
    const r = await sh(
      "printf 'hello world' > f && : > f && stat -c %s f && printf 'a longer first text' > g && printf abc > g && cat g && " +
        // O_RDWR | O_TRUNC of a file another descriptor still reads: it sees the truncation
        `python3 -c "import os; a = os.open('g', os.O_RDONLY); b = os.open('g', os.O_RDWR | os.O_TRUNC); print(); print(os.fstat(a).st_size, len(os.read(a, 10)))"`,
      mnt,
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('0\nabc\n0 0\n');
    expect((await runCli(['unmount', mnt], { env })).code).toBe(0);
    pid = undefined;
    // every truncation came with its open
    const requests = readFileSync(trace, 'utf8');
    expect(requests).toMatch(/^fuse OPEN: \d+ requests/m);
    expect(requests).not.toMatch(/^fuse SETATTR/m);
    const a = Agent.open({ path: db });
    try {
      expect(a.paths.readFile('/f').length).toBe(0);
      expect(a.paths.readFile('/g').length).toBe(0);
      const ops = new JournalReader(a.store).list({ order: 'asc' }).map((e) => `${e.op} ${e.path}`);
      expect(ops.filter((o) => o.startsWith('truncate'))).toEqual(['truncate /f', 'truncate /g', 'truncate /g']);
    } finally {
      a.close();
    }
  });
});
