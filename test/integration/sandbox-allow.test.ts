/**
 * `agentfs run --allow` refuses what would defeat the sandbox (/) or cannot be meant (a path that
 * does not exist), before anything is created or mounted; a missing default allow is harmless.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../support/cli.js';

describe('agentfs run --allow', () => {
  const tmp = tempDir('agentfs-run-allow-');
  afterAll(() => tmp.cleanup());
  const proj = join(tmp.dir, 'proj');
  const home = join(tmp.dir, 'home');
  mkdirSync(proj, { recursive: true });
  symlinkSync('/', join(tmp.dir, 'root-link'));
  const sessions = () => (existsSync(join(home, 'sessions')) ? readdirSync(join(home, 'sessions')) : []);

  it('refuses /, anything resolving to it, a missing path and an empty one, with one line and nothing created', async () => {
    const cases: [string, RegExp][] = [
      ['/', /--allow \/: .*whole system writable/],
      ['/usr/..', /--allow \/usr\/\.\.: .*whole system writable/],
      [join(tmp.dir, 'root-link'), /root-link: .*whole system writable/],
      ['/nonexistent-agentfs-dir', /--allow \/nonexistent-agentfs-dir: no such file or directory/],
      ['', /--allow: empty path/],
    ];
    for (const [allow, want] of cases) {
      const r = await runCli(['run', '--allow', allow, '--', 'sh', '-c', 'echo RAN'], { cwd: proj, env: { AGENTFS_HOME: home } });
      expect(r.code, allow).not.toBe(0);
      expect(r.stdout).not.toContain('RAN');
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^agentfs: /);
      expect(lines[0]).toMatch(want);
      expect(sessions()).toEqual([]);
    }
  });
});
