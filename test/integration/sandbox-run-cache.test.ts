// The kernel caches `run` keeps (page cache per file, listings) against changes they could hide:
// the host rewriting a base file the sandbox has read, the sandbox rewriting one it has read.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, runCli, tempDir } from '../support/cli.js';

let tmp: { dir: string; cleanup: () => void };
let proj: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  tmp = tempDir('agentfs-runcache-');
  proj = join(tmp.dir, 'proj');
  mkdirSync(join(proj, 'd'), { recursive: true });
  env = { ...process.env, AGENTFS_HOME: join(tmp.dir, 'home') };
});

afterAll(() => tmp.cleanup());

/** Runs `script` in a sandbox over proj; `meanwhile` runs on the host once `ready` appears. */
async function runWhile(
  script: string,
  meanwhile: () => void | Promise<void>,
  runArgs: string[] = [],
  moreEnv: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; out: string; err: string }> {
  const ready = join(tmp.dir, 'ready');
  const go = join(tmp.dir, 'go');
  const wait = `touch ${ready}; while [ ! -e ${go} ]; do sleep 0.05; done`;
  const child = spawn(process.execPath, [CLI, 'run', ...runArgs, '--', 'sh', '-c', script.replace('WAIT', wait)], { cwd: proj, env: { ...env, ...moreEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const { existsSync, rmSync } = await import('node:fs');
  for (let i = 0; i < 400 && !existsSync(ready) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
  await meanwhile();
  writeFileSync(go, '');
  const code = await exited;
  rmSync(ready, { force: true });
  rmSync(go, { force: true });
  return { code, out, err };
}

describe('agentfs run: cached pages and listings', () => {
  it('a base file read twice in the sandbox, then rewritten on the host at the same size, reads as the new one', async () => {
    writeFileSync(join(proj, 'd', 'e.txt'), 'old1\n');
    const r = await runWhile('cat d/e.txt; cat d/e.txt; WAIT; cat d/e.txt; ls d', () => writeFileSync(join(proj, 'd', 'e.txt'), 'new2\n'));
    expect(r.code).toBe(0);
    expect(r.out).toBe('old1\nold1\nnew2\ne.txt\n');
  });

  it('the same, opened right after a write (answered in JavaScript while the write is uncommitted)', async () => {
    mkdirSync(join(proj, 'j'));
    writeFileSync(join(proj, 'j', 'j.txt'), 'old1\n');
    const r = await runWhile('cat j/j.txt; cat j/j.txt; WAIT; echo w > w.txt; cat j/j.txt; echo w >> w.txt; cat j/j.txt', () =>
      writeFileSync(join(proj, 'j', 'j.txt'), 'new2\n'),
    );
    expect(r.code).toBe(0);
    expect(r.out).toBe('old1\nold1\nnew2\nnew2\n');
  });

  it('a base file read, rewritten on the host, then appended to in the sandbox (O_APPEND: a direct_io handle, its open unchecked), reads as the host wrote it plus the appends', async () => {
    // three pages: the appends' writes cover only the last one, the host rewrote the first
    mkdirSync(join(proj, 'ga'));
    writeFileSync(join(proj, 'ga', 'g.txt'), 'a'.repeat(10000) + '\n');
    const r = await runWhile(
      'cat ga/g.txt >/dev/null; head -c 2 ga/g.txt; WAIT; echo more >> ga/g.txt; head -c 2 ga/g.txt; tail -c 7 ga/g.txt; echo again >> ga/g.txt; head -c 2 ga/g.txt; tail -c 8 ga/g.txt; wc -c < ga/g.txt',
      () => writeFileSync(join(proj, 'ga', 'g.txt'), 'b'.repeat(10000) + '\n'),
    );
    expect(r.code).toBe(0);
    expect(r.out).toBe('aabbb\nmore\nbbe\nagain\n10012\n');
  });

  it('a base file read, then rewritten in the sandbox, reads as the sandbox wrote it, before and after a host edit beside it', async () => {
    writeFileSync(join(proj, 'd', 'f.txt'), 'base\n');
    const r = await runWhile('cat d/f.txt; printf "mine\\n" > d/f.txt; cat d/f.txt; WAIT; cat d/f.txt', () =>
      writeFileSync(join(proj, 'd', 'f.txt'), 'host\n'),
    );
    expect(r.code).toBe(0);
    expect(r.out).toBe('base\nmine\nmine\n');
  });

  it('the CLI writing the running session shows inside at once; a file open inside stays readable when the CLI removes it', async () => {
    mkdirSync(join(proj, 'live', 'host'), { recursive: true });
    writeFileSync(join(proj, 'live', 'seen.txt'), 'base\n');
    writeFileSync(join(proj, 'live', 'gone.txt'), 'base\n');
    writeFileSync(join(proj, 'live', 'host', 'held.txt'), 'base\n');
    // names looked up before they exist (the kernel keeps "no such name" for 5 s), one in a
    // directory only the host has (answered by the addon); a base file held open for writing
    const script =
      'cat live/seen.txt live/gone.txt >/dev/null; ls live >/dev/null; cat live/new.txt live/host/late.txt 2>/dev/null; ' +
      'echo mine > live/made.txt; exec 3<live/made.txt; exec 4>>live/host/held.txt; WAIT; ' +
      'cat live/new.txt live/host/late.txt live/seen.txt; cat <&3; echo more >&4 || echo refused; ls live live/host';
    const cli = async (...args: string[]) => expect((await runCli(args, { cwd: proj, env })).code).toBe(0);
    const r = await runWhile(
      script,
      async () => {
        await cli('fs', 'write', 'live-cli', '/live/new.txt', 'from the cli');
        await cli('fs', 'write', 'live-cli', '/live/seen.txt', 'changed');
        await cli('fs', 'rm', 'live-cli', '/live/gone.txt');
        await cli('fs', 'rm', 'live-cli', '/live/made.txt');
        await cli('fs', 'write', 'live-cli', '/live/host/late.txt', 'late');
        await cli('fs', 'rm', 'live-cli', '/live/host/held.txt');
        // the mount polls the database every 0.1 s
        await new Promise((r) => setTimeout(r, 400));
      },
      ['--session', 'live-cli'],
    );
    expect(r.code).toBe(0);
    // a write through a handle opened before the CLI removed the name must not bring it back:
    // refused (ESTALE from the server, as when the command removes it itself; the kernel reports
    // a direct_io write's as EIO)
    expect(r.err).toMatch(/Stale file handle|I\/O error/);
    expect(r.out).toBe('from the clilatechanged' + 'mine\n' + 'refused\n' + 'live:\nhost\nnew.txt\nseen.txt\n\nlive/host:\nlate.txt\n');
    const diff = await runCli(['diff', 'live-cli'], { cwd: proj, env });
    expect(diff.stdout).toContain('D file    live/host/held.txt');
  });

  it('AGENTFS_RUN_HOST_CACHE_S shortens how long the host\'s edits take to show', async () => {
    mkdirSync(join(proj, 's'));
    writeFileSync(join(proj, 's', 'grows'), 'x');
    // the attributes the kernel got before the host's edit are kept for this long (30 s by default)
    const r = await runWhile('stat -c %s s/grows; WAIT; sleep 1.3; stat -c %s s/grows', () => writeFileSync(join(proj, 's', 'grows'), 'longer\n'), [], {
      AGENTFS_RUN_HOST_CACHE_S: '1',
    });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe('1\n7\n');
  });

  it('refuses an AGENTFS_RUN_HOST_CACHE_S that is no number of seconds, before it makes a session', async () => {
    const home = join(tmp.dir, 'bad-cache-home');
    for (const bad of ['abc', '0', '-1', '1e3', '90000', ' 5']) {
      const r = await runCli(['run', '--', 'true'], { cwd: proj, env: { ...env, AGENTFS_HOME: home, AGENTFS_RUN_HOST_CACHE_S: bad } });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toBe(`agentfs: AGENTFS_RUN_HOST_CACHE_S must be a number of seconds above 0 and at most 86400, not '${bad}'\n`);
    }
    expect(existsSync(join(home, 'sessions')) ? readdirSync(join(home, 'sessions')) : []).toEqual([]);
  });

  it('a listing kept across a copy-up still shows what the sandbox creates there, and a base directory shows what the host adds', async () => {
    mkdirSync(join(proj, 'h'));
    writeFileSync(join(proj, 'h', 'a'), 'a');
    writeFileSync(join(proj, 'd', 'k.txt'), 'k\n');
    const r = await runWhile('ls d; ls h; echo x >> d/k.txt; ls d; touch d/made; ls d; WAIT; ls h', () => writeFileSync(join(proj, 'h', 'b'), 'b'));
    expect(r.code).toBe(0);
    const before = 'e.txt\nf.txt\nk.txt\n';
    expect(r.out).toBe(`${before}a\n${before}e.txt\nf.txt\nk.txt\nmade\na\nb\n`);
  });
});
