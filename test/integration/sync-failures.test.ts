import { afterAll, describe, expect, it } from 'vitest';
import Database from 'libsql';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { CLI, runCli } from '../support/cli.js';
import { agentWorkspace } from '../support/agent-workspace.js';
import { dumpAllTables, dumpSpecTables, startHranaServer } from '../support/hrana-server.js';

const TOKEN = 'fail-token';

describe('agentfs sync failures', () => {
  const env = { TURSO_AUTH_TOKEN: TOKEN };
  const { tmp, db, cli, withAgent } = agentWorkspace('agentfs-sync-fail-', env);
  const stagedRows = (file: string): number => {
    const d = new Database(file, { readonly: true });
    try {
      const t = d.prepare("SELECT 1 FROM sqlite_master WHERE name = 'agentfs_sync_stage_fs_data'").get();
      return t ? Number((d.prepare('SELECT count(*) AS n FROM agentfs_sync_stage_fs_data').get() as { n: number }).n) : 0;
    } finally {
      d.close();
    }
  };
  /** ~12 MiB in 60 files: several staging requests. */
  const fill = (id: string, tag: number) =>
    withAgent(id, (a) => {
      for (let i = 0; i < 60; i++) a.paths.writeFile(`/big-${i}.bin`, Buffer.alloc(200 * 1024, (i + tag) & 255));
    });

  afterAll(() => tmp.cleanup());

  it('a push killed mid-way leaves the remote as it was; re-running resumes and finishes', async () => {
    const remote = join(tmp.dir, 'killed.db');
    const server = await startHranaServer({ db: remote, token: TOKEN, delayMs: 150 });
    try {
      await cli('init', 'k', '--sync-remote-url', server.url);
      withAgent('k', (a) => a.paths.writeFile('/first.txt', 'first'));
      await cli('sync', 'k', 'push');
      const before = dumpSpecTables(remote);
      fill('k', 1);
      const child = spawn(process.execPath, [CLI, 'sync', 'k', 'push'], { cwd: tmp.dir, env: { ...process.env, ...env }, stdio: 'ignore' });
      const exited = new Promise((r) => child.once('exit', r));
      // kill it once some rows are staged on the remote, well before the end
      for (let i = 0; i < 400 && stagedRows(remote) === 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect(stagedRows(remote)).toBeGreaterThan(0);
      child.kill('SIGKILL');
      await exited;
      expect(dumpSpecTables(remote)).toEqual(before);
      const st = await cli('sync', 'k', 'status');
      expect(st).toMatch(/Interrupted push:\s+yes/);
      const out = await cli('sync', 'k', 'push');
      expect(out).toMatch(/\(resumed\)/);
      expect(stagedRows(remote)).toBe(0);
      expect(dumpSpecTables(remote)).toEqual(dumpSpecTables(db('k')));
    } finally {
      await server.stop();
    }
  });

  it('a push that loses the network part-way changes nothing remotely and completes on a re-run', async () => {
    const remote = join(tmp.dir, 'dropped.db');
    const first = await startHranaServer({ db: remote, token: TOKEN });
    await cli('init', 'n');
    withAgent('n', (a) => a.kv.set('before', 1));
    await cli('sync', 'n', 'push', '--remote', first.url);
    await first.stop();
    const before = dumpSpecTables(remote);
    fill('n', 2);
    // the server drops every request after the 5th, as a lost network would
    const flaky = await startHranaServer({ db: remote, token: TOKEN, dropAfter: 5 });
    try {
      const r = await runCli(['sync', 'n', 'push', '--remote', flaky.url], { cwd: tmp.dir, env });
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^agentfs: cannot reach remote .*connection lost|^agentfs: .*remote/);
    } finally {
      await flaky.stop();
    }
    expect(dumpSpecTables(remote)).toEqual(before);
    const good = await startHranaServer({ db: remote, token: TOKEN });
    try {
      expect(await cli('sync', 'n', 'push', '--remote', good.url)).toMatch(/revision 2/);
      expect(dumpSpecTables(remote)).toEqual(dumpSpecTables(db('n')));
    } finally {
      await good.stop();
    }
  });

  it('a push whose final answer is lost after the remote committed is recognised and finished by a re-run', async () => {
    const remote = join(tmp.dir, 'lost-reply.db');
    const first = await startHranaServer({ db: remote, token: TOKEN });
    await cli('init', 'l');
    withAgent('l', (a) => a.kv.set('v', 1));
    await cli('sync', 'l', 'push', '--remote', first.url);
    await first.stop();
    withAgent('l', (a) => a.kv.set('v', 2));
    // an incremental push makes 4 requests (inspect x2, staging set-up, apply): lose the 4th answer
    const lossy = await startHranaServer({ db: remote, token: TOKEN, loseReplyAfter: 3 });
    try {
      const r = await runCli(['sync', 'l', 'push', '--remote', lossy.url], { cwd: tmp.dir, env });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/^agentfs: cannot reach remote .*connection lost/);
    } finally {
      await lossy.stop();
    }
    expect(dumpSpecTables(remote).kv_store.join()).toContain('t:2');
    const good = await startHranaServer({ db: remote, token: TOKEN });
    try {
      expect(await cli('sync', 'l', 'push', '--remote', good.url)).toMatch(/Everything up to date \(remote revision 2\)/);
      const s = JSON.parse(await cli('sync', 'l', 'status', '--remote', good.url, '--json'));
      expect(s).toMatchObject({ baseRevision: 2, remoteRevision: 2, localPending: {}, interruptedPush: false });
    } finally {
      await good.stop();
    }
  });

  it('auth failures, unreachable and foreign remotes: one line, non-zero exit, nothing changed locally', async () => {
    await cli('init', 'e');
    withAgent('e', (a) => a.paths.writeFile('/x', 'x'));
    const foreignFile = join(tmp.dir, 'foreign.db');
    const f = new Database(foreignFile);
    f.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1, 'x')");
    f.close();
    const gone = await startHranaServer({ db: join(tmp.dir, 'gone.db') });
    await gone.stop();
    const server = await startHranaServer({ db: join(tmp.dir, 'auth.db'), token: TOKEN });
    const foreign = await startHranaServer({ db: foreignFile, token: TOKEN }).catch(async (e) => {
      await server.stop();
      throw e;
    });
    try {
      const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
        [['push', '--remote', server.url], { TURSO_AUTH_TOKEN: 'wrong' }, /refused the auth token \(HTTP 401\)/],
        [['pull', '--remote', server.url], { TURSO_AUTH_TOKEN: '' }, /refused the auth token \(HTTP 401\)/],
        [['push', '--remote', gone.url], env, /cannot reach remote .*connection refused/],
        [['status', '--remote', gone.url], env, /cannot reach remote/],
        [['push', '--remote', foreign.url], env, /is not an AgentFS database .*users/],
        [['pull', '--remote', foreign.url], env, /is not an AgentFS database/],
        [['pull', '--remote', server.url], env, /holds no AgentFS database yet/],
        [['push', '--remote', 'ftp://example.com/db'], env, /invalid remote URL/],
        [['push'], env, /no remote to sync with/],
        [['frobnicate', '--remote', server.url], env, /unknown sync action/],
      ];
      for (const [args, e, want] of cases) {
        const before = dumpAllTables(db('e'));
        const r = await runCli(['sync', 'e', ...args], { cwd: tmp.dir, env: { TURSO_DB_AUTH_TOKEN: '', ...e } });
        expect(r.code, args.join(' ')).not.toBe(0);
        const lines = r.stderr.trim().split('\n');
        expect(lines, r.stderr).toHaveLength(1);
        expect(lines[0]).toMatch(/^agentfs: /);
        expect(lines[0]).toMatch(want);
        expect(dumpAllTables(db('e'))).toBe(before);
      }
      // the foreign database was not touched either
      const check = new Database(foreignFile, { readonly: true });
      const tables = check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
      check.close();
      expect(tables.map((t) => t.name)).toEqual(['users']);
    } finally {
      await server.stop();
      await foreign.stop();
    }
  });
  it('a file remote another process holds locked: the push waits up to --timeout, then says so in one line', async () => {
    await cli('init', 'lk');
    withAgent('lk', (a) => a.paths.writeFile('/a.txt', 'a'));
    const remote = join(tmp.dir, 'locked-remote.db');
    await cli('sync', 'lk', 'push', '--remote', `file:${remote}`);
    withAgent('lk', (a) => a.paths.writeFile('/b.txt', 'b'));
    const hold = (seconds: number) => {
      const p = spawn('python3', ['-c', `import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(${seconds}); c.execute('ROLLBACK')`, remote], { stdio: ['ignore', 'pipe', 'inherit'] });
      return { locked: new Promise<void>((r) => p.stdout!.once('data', () => r())), done: new Promise((r) => p.once('exit', r)) };
    };
    let h = hold(3);
    await h.locked;
    const raw = (...args: string[]) => runCli(args, { cwd: tmp.dir, env: { ...process.env, ...env } });
    const short = await raw('sync', 'lk', 'push', '--timeout', '0.5');
    expect(short.stderr).toBe(`agentfs: remote file://${remote} stayed locked by another process (a push or pull in progress?) for the whole --timeout; nothing was changed\n`);
    expect(short.code).toBe(1);
    await h.done;
    h = hold(1);
    await h.locked;
    const waited = await raw('sync', 'lk', 'push', '--timeout', '10');
    expect(waited.stderr).toBe('');
    expect(waited.code).toBe(0);
    await h.done;
  });
});
