// Host directories listed by the addon (native/host_files.cc HostFiles::readdir) in `agentfs run`,
// attacked with what hosts hold: each case once gave a wrong listing, with the addon and without.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, run, runCli, tempDir } from '../support/cli.js';
import { forceUnmount, mountBg } from '../support/fuse.js';

let tmp: { dir: string; cleanup: () => void };
const mounts: { mnt: string; pid: number }[] = [];

beforeAll(() => {
  tmp = tempDir('agentfs-hostlist-hostile-');
});
afterAll(async () => {
  for (const m of mounts) await forceUnmount(m.mnt, m.pid);
  tmp.cleanup();
});

function runIn(proj: string, script: string, env: NodeJS.ProcessEnv = {}): { out: string; err: string; code: number | null } {
  const r = spawnSync(process.execPath, [CLI, 'run', '--', 'sh', '-c', script], {
    cwd: proj,
    env: { ...process.env, AGENTFS_HOME: join(tmp.dir, 'home'), ...env },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return { out: r.stdout, err: r.stderr, code: r.status };
}

describe('agentfs run: host listings under attack', () => {
  for (const native of ['1', '0']) {
    it(`a file system mounted inside the base (its root is inode 1, FUSE's root id) is listed as the host lists it (AGENTFS_NATIVE_READS=${native})`, async () => {
      const proj = join(tmp.dir, `mounted-${native}`);
      mkdirSync(join(proj, 'real', 'd'), { recursive: true });
      writeFileSync(join(proj, 'real', 'x'), 'X\n');
      writeFileSync(join(proj, 'real', 'd', 'y'), 'Y\n');
      // another file system's root inside the project: an agentfs mount (any FUSE mount, tmpfs...)
      const db = join(tmp.dir, `inner-${native}.db`);
      expect((await runCli(['init', db])).code).toBe(0);
      expect((await runCli(['fs', db, 'write', '/inner.txt', 'inner'])).code).toBe(0);
      const mnt = join(proj, 'mnt');
      mkdirSync(mnt);
      const m = { mnt, pid: await mountBg(db, mnt) };
      mounts.push(m);
      try {
        const host = spawnSync('sh', ['-c', 'find . | LC_ALL=C sort; cat mnt/inner.txt real/x'], { cwd: proj, encoding: 'utf8' }).stdout;
        expect(host).toContain('./mnt/inner.txt');
        const r = runIn(proj, 'ls -a; find . | LC_ALL=C sort; cat mnt/inner.txt real/x', { AGENTFS_NATIVE_READS: native });
        expect(r.err).not.toMatch(/Input\/output error|No such file/);
        expect(r.out).toBe('.\n..\nmnt\nreal\n' + host);
      } finally {
        await forceUnmount(m.mnt, m.pid);
      }
    });
  }

  it('a file written beside a native listing of its directory reads back as written (the listing raced the copy-up)', async () => {
    const proj = join(tmp.dir, 'race');
    const dirs = 80;
    for (let d = 0; d < dirs; d++) {
      mkdirSync(join(proj, 'base', `d${d}`), { recursive: true });
      for (let f = 0; f < 600; f++) writeFileSync(join(proj, 'base', `d${d}`, `f${f}`), 'old\n');
    }
    const db = join(proj, 'race.db');
    expect((await runCli(['init', db, '--base', join(proj, 'base')])).code).toBe(0);
    const mnt = join(proj, 'mnt');
    mkdirSync(mnt);
    const m = { mnt, pid: await mountBg(db, mnt) };
    mounts.push(m);
    try {
      // each directory listed (by the addon: no whiteouts) while one of its files is rewritten;
      // a listing that registered its entries after the copy-up served the host file over the copy
      // (the write a few milliseconds after the listing starts, a different delay each time)
      const r = await run(
        'bash',
        [
          '-c',
          `for d in $(seq 0 ${dirs - 1}); do ls -l d$d >/dev/null & p=$!; sleep 0.00$((d % 5)); echo new > d$d/f599; wait $p; done; ` +
            `for d in $(seq 0 ${dirs - 1}); do printf '%s ' "$(cat d$d/f599)"; done`,
        ],
        { cwd: mnt, timeoutMs: 120_000 },
      );
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('new '.repeat(dirs));
    } finally {
      await forceUnmount(m.mnt, m.pid);
    }
  });
});
