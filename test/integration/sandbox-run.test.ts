import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, runCli, run, tempDir, underSignalStream } from '../support/cli.js';
import { snapshotTree } from '../support/tree-snapshot.js';

let tmp: { dir: string; cleanup: () => void };
let proj: string;
let env: NodeJS.ProcessEnv;

function sessionOf(stderr: string): string {
  const m = /session (\S+): changes are kept in (\S+);/.exec(stderr);
  if (!m) throw new Error(`no session line in: ${stderr}`);
  return m[1]!;
}

/** A run started in the background, with its stderr collected. */
function startRun(args: string[], cwd = proj) {
  const child = spawn(process.execPath, [CLI, 'run', ...args], { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  const started = async (): Promise<string> => {
    for (let i = 0; i < 200 && !/changes are kept in/.test(stderr); i++) await new Promise((r) => setTimeout(r, 50));
    return sessionOf(stderr);
  };
  return { child, exited, started, out: () => stdout, err: () => stderr };
}

beforeAll(() => {
  tmp = tempDir('agentfs-run-');
  proj = join(tmp.dir, 'proj');
  mkdirSync(join(proj, 'src/lib'), { recursive: true });
  writeFileSync(join(proj, 'README.md'), '# proj\n');
  writeFileSync(join(proj, 'src/main.js'), 'console.log(1)\n');
  writeFileSync(join(proj, 'src/lib/util.js'), 'module.exports = 1\n');
  writeFileSync(join(proj, 'run.sh'), '#!/bin/sh\necho run\n');
  chmodSync(join(proj, 'run.sh'), 0o755);
  env = { AGENTFS_HOME: join(tmp.dir, 'home') };
});

afterAll(() => tmp.cleanup());

describe('agentfs run', () => {
  it('refuses a relative AGENTFS_HOME in one line, writing nothing in the base', async () => {
    const before = snapshotTree(proj);
    const r = await runCli(['run', '--session', 'relhome', 'true'], { cwd: proj, env: { ...env, AGENTFS_HOME: 'state' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("agentfs: AGENTFS_HOME must be an absolute path (it is 'state')\n");
    expect(snapshotTree(proj)).toEqual(before);
  });

  it('runs the command with the sandbox variables, says where the changes are, passes the exit status', async () => {
    const r = await runCli(['run', '--', 'sh', '-c', 'echo "$AGENTFS $AGENTFS_SANDBOX $AGENTFS_SESSION"; exit 7'], { cwd: proj, env });
    expect(r.code).toBe(7);
    const id = sessionOf(r.stderr);
    expect(r.stdout.trim()).toBe(`1 linux-namespace ${id}`);
    expect(r.stderr).toContain(`agentfs diff ${id}`);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('leaves the base byte-identical after edits, deletes, renames, chmods and creates; diff shows them', async () => {
    const before = snapshotTree(proj);
    const script = [
      'echo more >> README.md',
      'rm src/main.js',
      'mv src/lib src/library',
      'chmod 600 run.sh',
      'touch -d 2001-01-01 README.md',
      'mkdir -p new/deeper && echo hi > new/deeper/file.txt',
      'ln -s README.md readme-link',
      'ls src/library/util.js && cat README.md',
    ].join(' && ');
    const r = await runCli(['run', '--', 'sh', '-c', script], { cwd: proj, env });
    expect(r.stderr).not.toMatch(/No such file|denied|Read-only/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('# proj\nmore\n');
    expect(snapshotTree(proj)).toEqual(before);
    const id = sessionOf(r.stderr);
    const d = await runCli(['diff', id], { cwd: proj, env });
    expect(d.code).toBe(0);
    expect(d.stdout.trim().split('\n')).toEqual([
      'A dir     new',
      'A dir     new/deeper',
      'A file    new/deeper/file.txt',
      'M file    README.md',
      'A symlink readme-link',
      'M file    run.sh',
      'D dir     src/lib',
      'D file    src/lib/util.js',
      'D file    src/main.js',
      'A dir     src/library',
      'A file    src/library/util.js',
    ].sort((a, b) => (a.slice(10) < b.slice(10) ? -1 : 1)));
  });

  it('resumes a session: a second run sees the first one\u2019s changes', async () => {
    const a = await runCli(['run', '--session', 'resume-me', '--', 'sh', '-c', 'echo first > note.txt'], { cwd: proj, env });
    expect(a.code).toBe(0);
    const b = await runCli(['run', '--session', 'resume-me', '--', 'cat', 'note.txt'], { cwd: proj, env });
    expect(b.code).toBe(0);
    expect(b.stdout).toBe('first\n');
    expect(existsSync(join(proj, 'note.txt'))).toBe(false);
    const other = await runCli(['run', '--', 'cat', 'note.txt'], { cwd: proj, env });
    expect(other.code).not.toBe(0);
  });

  it('two commands in one session at once share one overlay', async () => {
    const one = startRun(['--session', 'shared', '--', 'sh', '-c', 'echo from-one > one.txt; while [ ! -f two.txt ]; do sleep 0.1; done; cat two.txt']);
    await one.started();
    const two = await runCli(
      ['run', '--session', 'shared', '--', 'sh', '-c', 'while [ ! -f one.txt ]; do sleep 0.1; done; cat one.txt; echo from-two > two.txt'],
      { cwd: proj, env },
    );
    expect(two.code).toBe(0);
    expect(two.stdout).toBe('from-one\n');
    const r = await one.exited;
    expect(r.code).toBe(0);
    expect(one.out()).toBe('from-two\n');
  });

  it('a command killed by a signal kills run the same way; SIGTERM and SIGINT are passed on', async () => {
    const self = await runCli(['run', '--', 'sh', '-c', 'kill -TERM $$'], { cwd: proj, env });
    expect(self.signal).toBe('SIGTERM');

    const term = startRun(['--', 'sleep', '30']);
    await term.started();
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    term.child.kill('SIGTERM');
    expect((await term.exited).signal).toBe('SIGTERM');
    expect(Date.now() - t0).toBeLessThan(5000);

    const int = startRun(['--', 'sh', '-c', "trap 'echo got-int; exit 3' INT; sleep 30 & wait"]);
    await int.started();
    await new Promise((r) => setTimeout(r, 300));
    int.child.kill('SIGINT');
    const ri = await int.exited;
    expect(ri.code).toBe(3);
    expect(int.out()).toBe('got-int\n');
  });

  it('under a stream of signals from its session line on, run never stops midway: no mount, server record or open call stays', async () => {
    // they killed run before its command started (at the session line) and while it cleaned up
    for (let round = 0; round < 3; round++) {
      const r = startRun(['--', 'sh', '-c', "trap '' INT TERM HUP; echo ready; sleep 0.3"]);
      const session = await r.started();
      const exit = await underSignalStream(r.child, r.exited);
      // the command ran and ignored them, or one came before it started and it did not run
      if (r.out().includes('ready')) expect(exit).toEqual({ code: 0, signal: null });
      else expect(['SIGINT', 'SIGTERM']).toContain(exit.signal);
      const home = join(tmp.dir, 'home');
      expect(existsSync(join(home, 'sessions', `${session}.server.json`))).toBe(false);
      expect(readdirSync(join(home, 'mnt')).filter((n) => n.startsWith(`${session}-`))).toEqual([]);
      const calls = await runCli(['timeline', join(home, 'sessions', `${session}.db`), '--calls', '--format', 'json'], { cwd: proj, env });
      // finished by run itself: not pending, nor an orphan read as failed
      for (const c of JSON.parse(calls.stdout) as { status: string; error: string | null }[]) {
        expect(c.status).not.toBe('pending');
        expect(c.error ?? '').not.toMatch(/ended without finishing/);
      }
    }
  });

  it('on a terminal: the command has the tty, and one Ctrl-C reaches it exactly once', async () => {
    const driver = `
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out, sent, t0 = b'', False, time.time()
while time.time() - t0 < 30:
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            d = os.read(fd, 4096)
        except OSError:
            break
        if not d:
            break
        out += d
    if not sent and b'/dev/pts/' in out:
        time.sleep(0.3)
        os.write(fd, b'\x03')
        sent = True
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors='replace') + 'EXIT %d' % os.waitstatus_to_exitcode(st))
`;
    const r = await run(
      'python3',
      ['-c', driver, process.execPath, CLI, 'run', '--', 'sh', '-c', 'trap "echo GOT-INT" INT; tty; sleep 5; echo after; exit 5'],
      { cwd: proj, env },
    );
    expect(r.stdout).toMatch(/\/dev\/pts\/\d+/);
    expect(r.stdout.match(/GOT-INT/g)).toHaveLength(1);
    expect(r.stdout).toContain('after');
    expect(r.stdout.trim().endsWith('EXIT 5')).toBe(true);
  });

  it('ps lists live runs and sessions with their changes', async () => {
    const live = startRun(['--session', 'ps-demo', '--', 'sh', '-c', 'echo x > ps.txt; sleep 30']);
    await live.started();
    const ps = await runCli(['ps'], { cwd: proj, env });
    expect(ps.code).toBe(0);
    const line = ps.stdout.split('\n').find((l) => l.startsWith('ps-demo'))!;
    expect(line).toContain(String(live.child.pid));
    expect(line).toContain('sh -c echo x > ps.txt; sleep 30');
    expect(line).toContain(proj);
    const json = JSON.parse((await runCli(['ps', '--json'], { cwd: proj, env })).stdout) as { session: string; pid?: number; changes?: number }[];
    expect(json.find((r) => r.session === 'ps-demo')!.pid).toBe(live.child.pid);
    live.child.kill('SIGTERM');
    await live.exited;
    const after = JSON.parse((await runCli(['ps', '--json'], { cwd: proj, env })).stdout) as { session: string; pid?: number; changes?: number }[];
    const row = after.find((r) => r.session === 'ps-demo')!;
    expect(row.pid).toBeUndefined();
    expect(row.changes).toBe(1);
  });

  it.skipIf(process.getuid?.() !== 0)("reads ahead 4 MiB as root in the sandbox's overlay, as on a mount", async () => {
    // the kernel's FUSE default is 128 KiB: a large file was read 128 KiB a request
    const r = await runCli(['run', '--', 'sh', '-c', 'cat /sys/class/bdi/$(mountpoint -d .)/read_ahead_kb'], { cwd: proj, env });
    expect(r.stderr).toContain('changes are kept in');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('4096\n');
  });

  it('refuses to nest', async () => {
    const r = await runCli(['run', '--', process.execPath, CLI, 'run', '--', 'true'], { cwd: proj, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('agentfs: already inside an agentfs sandbox');
  });

  it('refuses a session that belongs to another directory', async () => {
    const elsewhere = join(tmp.dir, 'elsewhere');
    mkdirSync(elsewhere);
    const r = await runCli(['run', '--session', 'resume-me', '--', 'true'], { cwd: elsewhere, env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^agentfs: session resume-me is an overlay of /);
  });
});

describe('agentfs run with real tools', () => {
  it('git: status, diff and commit inside the sandbox on a base that is a git repository', async () => {
    const repo = join(tmp.dir, 'repo');
    mkdirSync(repo);
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } });
    git('init', '-q', '-b', 'main');
    writeFileSync(join(repo, 'a.txt'), 'a\n');
    writeFileSync(join(repo, 'b.txt'), 'b\n');
    git('add', '-A');
    git('commit', '-q', '-m', 'init');
    const head = git('rev-parse', 'HEAD').trim();
    const before = snapshotTree(repo);
    const gitEnv = { ...env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };
    const script = 'echo changed >> a.txt && rm b.txt && echo c > c.txt && git status --porcelain && git diff --stat && git add -A && git commit -q -m inside && git log --oneline | wc -l';
    const r = await runCli(['run', '--session', 'gitty', '--', 'sh', '-c', script], { cwd: repo, env: gitEnv });
    expect(r.stderr).not.toMatch(/fatal|error/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(' M a.txt');
    expect(r.stdout).toContain(' D b.txt');
    expect(r.stdout).toContain('?? c.txt');
    expect(r.stdout.trim().endsWith('2')).toBe(true);
    expect(snapshotTree(repo)).toEqual(before);
    expect(git('rev-parse', 'HEAD').trim()).toBe(head);
    expect(git('status', '--porcelain')).toBe('');
    const again = await runCli(['run', '--session', 'gitty', '--', 'git', 'log', '--format=%s'], { cwd: repo, env: gitEnv });
    expect(again.stdout).toBe('inside\ninit\n');
  });

  it('node and npm work inside the sandbox', async () => {
    const app = join(tmp.dir, 'app');
    mkdirSync(app);
    const script = `node -e "require('fs').writeFileSync('out.txt', String(6*7))" && npm init -y >/dev/null && node -p "require('./package.json').name" && cat out.txt`;
    const r = await runCli(['run', '--', 'sh', '-c', script], { cwd: app, env: { ...env, npm_config_offline: 'true', npm_config_update_notifier: 'false' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('app\n42');
    expect(existsSync(join(app, 'package.json'))).toBe(false);
    expect(readFileSync.length).toBeGreaterThan(0);
  });
});

