import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli, tempDir } from '../support/cli.js';
import { forceUnmount } from '../support/fuse.js';
import { startNfs } from '../support/nfs-server.js';

// Every command that takes an agent reads its argument one way (sandbox/resolve.ts): an id in
// ./.agentfs, a path to a .db file, or the session id of `agentfs run`. Each command runs here
// with each form; a command that reads the argument its own way fails one of them.
let tmp: { dir: string; cleanup: () => void };
let work: string; // cwd of the commands: holds .agentfs/ov.db
let proj: string; // the base of the overlay agent and of the run session
let env: NodeJS.ProcessEnv;
const mounts: string[] = [];

const FORMS = ['id', 'path', 'session'] as const;
type Form = (typeof FORMS)[number];
const arg = (form: Form): string => (form === 'id' ? 'ov' : form === 'path' ? join(work, '.agentfs', 'ov.db') : 'sess1');

const cli = (args: string[], input?: string) => runCli(args, { cwd: work, env, input });
async function ok(args: string[], input?: string): Promise<string> {
  const r = await cli(args, input);
  expect(r.stderr.replace(/^agentfs: serving .*\n/, ''), args.join(' ')).toBe('');
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Starts a long-running command, waits until its output matches, then stops it with SIGTERM. */
function startUntil(args: string[], pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: work, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const seen = (d: Buffer) => {
      out += d.toString();
      if (pattern.test(out)) child.kill('SIGTERM');
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('close', () => {
      clearTimeout(timer);
      if (pattern.test(out)) resolve(out);
      else reject(new Error(`${args.join(' ')}: ${out}`));
    });
  });
}

beforeAll(async () => {
  tmp = tempDir('agentfs-args-');
  work = join(tmp.dir, 'work');
  proj = join(tmp.dir, 'proj');
  mkdirSync(work);
  mkdirSync(proj);
  writeFileSync(join(proj, 'base.txt'), 'base\n');
  env = { AGENTFS_HOME: join(tmp.dir, 'home') };
  await ok(['init', 'ov', '--base', proj]);
  await ok(['fs', 'write', 'ov', '/made.txt', 'made']);
  const r = await runCli(['run', '--session', 'sess1', '--', 'sh', '-c', 'echo made > made.txt'], { cwd: proj, env });
  if (r.code !== 0) throw new Error(`agentfs run failed (${r.code}): ${r.stderr}`);
});
afterAll(async () => {
  for (const m of mounts) await forceUnmount(m);
  tmp.cleanup();
});

describe.concurrent.each(FORMS)('the agent argument as %s', (form) => {
  it('fs, kv, record, timeline', async () => {
    expect(await ok(['fs', 'ls', arg(form), '/'])).toMatch(/f made\.txt/);
    expect(await ok(['fs', arg(form), 'cat', '/made.txt'])).toMatch(/made/);
    await ok(['kv', 'set', arg(form), 'k', '"v"']);
    expect(await ok(['kv', 'list', arg(form)])).toMatch(/k/);
    await ok(['record', arg(form), '--', 'true']);
    expect(await ok(['timeline', arg(form), '--format', 'json'])).toMatch(/"true"|true/);
  });

  it('diff, commit --dry-run, migrate --dry-run, sync', async () => {
    expect(await ok(['diff', arg(form)])).toMatch(/made\.txt/);
    expect(await ok(['commit', arg(form), '--dry-run'])).toMatch(/would be written/);
    expect(await ok(['migrate', arg(form), '--dry-run'])).toMatch(/up to date/);
    await ok(['sync', 'push', arg(form), '--remote', `file:${join(tmp.dir, `remote-${form}.db`)}`]);
  });

  it('serve mcp, serve nfs, ui', async () => {
    const r = await cli(['serve', 'mcp', arg(form)], '');
    expect(r.stderr).toMatch(/serving .*\.db over MCP/);
    const nfs = await startNfs(arg(form), work, [], env);
    expect(nfs.port).toBeGreaterThan(0);
    await nfs.stop();
    expect(await startUntil(['ui', arg(form), '--no-open'], /1 agent at http/)).toMatch(/1 agent/);
  });

  it('mount, exec', async () => {
    const mnt = join(tmp.dir, `mnt-${form}`);
    mkdirSync(mnt);
    mounts.push(mnt);
    expect(await ok(['mount', arg(form), mnt])).toMatch(/Mounted/);
    expect(readFileSync(join(mnt, 'made.txt'), 'utf8')).toMatch(/made/);
    const r = await runCli(['unmount', mnt], { cwd: work, env });
    expect(r.code, r.stderr).toBe(0);
    expect(await ok(['exec', arg(form), 'cat', 'made.txt'])).toMatch(/made/);
  });
});

describe('bad agent arguments', () => {
  it('an unknown id says so in one line for every command', async () => {
    const m = join(work, 'never-mounted');
    mkdirSync(m, { recursive: true });
    for (const args of [
      ['fs', 'ls', 'nope'], ['kv', 'list', 'nope'], ['diff', 'nope'], ['timeline', 'nope'], ['migrate', 'nope'],
      ['migrate', 'nope', '--dry-run'], ['mount', 'nope', m], ['mount', 'nope', m, '-f'], ['exec', 'nope', 'true'],
      ['record', 'nope', '--', 'true'], ['serve', 'mcp', 'nope'], ['sync', 'status', 'nope'],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(1);
      // the same words whatever the command (mount -f and migrate said "no such database FILE")
      expect(r.stderr, args.join(' ')).toMatch(/^agentfs: no such agent 'nope' \(no \S+\/\.agentfs\/nope\.db\)[^\n]*\n$/);
    }
  });
});
