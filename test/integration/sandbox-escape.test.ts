import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../support/cli.js';
import { snapshotTree } from '../support/tree-snapshot.js';

/**
 * From inside `agentfs run`, nothing outside the working directory's overlay and the allowed
 * directories can be changed, and the session database cannot be reached. Every attempt below
 * prints OK only when it succeeds; the test expects none to (and one positive control to).
 */
let tmp: { dir: string; cleanup: () => void };
let proj: string;
let outside: string;
let allowed: string;
let env: NodeJS.ProcessEnv;
let before: { proj: Record<string, string>; outside: Record<string, string> };
let result: { code: number | null; stdout: string; stderr: string };
let database: string;

const attempts: Record<string, string> = {
  etc: 'echo x > /etc/agentfs-escape',
  parent: 'echo x > ../escape.txt',
  dotdot: 'echo x > ./sub/../../escape2.txt',
  outsideDir: 'echo x > "$OUTSIDE/escape.txt"',
  symlinkOut: 'echo x > link-out/escape.txt',
  symlinkFile: 'echo x >> file-link',
  home: 'echo x > "$HOME/agentfs-escape"',
  registry: 'ls "$AGENTFS_HOME_SEEN"',
  dbRead: 'cat "$DB" > /dev/null',
  dbWrite: 'echo x >> "$DB"',
  dbDir: 'ls "$(dirname "$DB")"',
  devShmHost: 'ls /dev/sda /dev/vda /dev/nvme0n1 2>/dev/null | grep -q .',
  sysctl: 'echo sandbox > /proc/sys/kernel/hostname',
  remount: 'mount -o remount,rw / 2>/dev/null',
  umountCwd: 'umount -l "$PWD" 2>/dev/null',
  nestedUserns: 'unshare -rm sh -c "umount -l $PWD" 2>/dev/null',
  hostProc: 'test -e "/proc/$HOST_PID"',
  chmodBase: 'chmod 777 "$OUTSIDE"',
};

beforeAll(async () => {
  tmp = tempDir('agentfs-escape-');
  proj = join(tmp.dir, 'proj');
  outside = join(tmp.dir, 'outside');
  allowed = join(tmp.dir, 'allowed');
  for (const d of [join(proj, 'sub'), outside, allowed]) mkdirSync(d, { recursive: true });
  writeFileSync(join(proj, 'file.txt'), 'base\n');
  writeFileSync(join(outside, 'target.txt'), 'outside\n');
  symlinkSync(outside, join(proj, 'link-out'));
  symlinkSync(join(outside, 'target.txt'), join(proj, 'file-link'));
  before = { proj: snapshotTree(proj), outside: snapshotTree(outside) };
  env = { AGENTFS_HOME: join(tmp.dir, 'home') };
  const script = [
    ...Object.entries(attempts).map(([name, cmd]) => `if ( ${cmd} ) 2>/dev/null; then echo "ESCAPED ${name}"; fi`),
    'echo ok > "$ALLOWED/control.txt" && echo CONTROL-ALLOWED',
    'echo ok > in-overlay.txt && echo CONTROL-CWD',
  ].join('\n');
  result = await runCli(['run', '--session', 'escape', '--no-default-allows', '--allow', allowed, '--', 'sh', '-c', script], {
    cwd: proj,
    env: {
      ...env,
      OUTSIDE: outside,
      ALLOWED: allowed,
      HOST_PID: String(process.pid),
      AGENTFS_HOME_SEEN: join(tmp.dir, 'home'),
      DB: join(tmp.dir, 'home', 'sessions', 'escape.db'),
    },
  });
  // the session id is random: check the database path the run reported
  database = /changes are kept in (\S+);/.exec(result.stderr)?.[1] ?? '';
});

afterAll(() => tmp.cleanup());

describe('sandbox escapes', () => {
  it('the controls work: cwd (overlay) and allowed directories are writable', () => {
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('CONTROL-ALLOWED');
    expect(result.stdout).toContain('CONTROL-CWD');
    expect(existsSync(join(allowed, 'control.txt'))).toBe(true);
  });

  for (const name of Object.keys(attempts)) {
    it(`blocks: ${name}`, () => {
      expect(result.stdout).not.toContain(`ESCAPED ${name}\n`);
    });
  }

  it('left the base and the outside directory byte-identical', () => {
    expect(snapshotTree(proj)).toEqual(before.proj);
    expect(snapshotTree(outside)).toEqual(before.outside);
    expect(existsSync(join(tmp.dir, 'escape.txt'))).toBe(false);
    expect(existsSync('/etc/agentfs-escape')).toBe(false);
  });

  it('the session database cannot be reached by its real path either', async () => {
    expect(database).toMatch(/\.db$/);
    const r = await runCli(['run', '--no-default-allows', '--', 'sh', '-c', `cat "${database}" >/dev/null && echo READ; echo x >> "${database}" && echo WROTE; ls "${join(tmp.dir, 'home')}" && echo LISTED; true`], {
      cwd: proj,
      env,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/READ|WROTE|LISTED/);
    expect(readdirSync(join(tmp.dir, 'home', 'sessions')).some((f) => f.endsWith('.db'))).toBe(true);
  });
});
