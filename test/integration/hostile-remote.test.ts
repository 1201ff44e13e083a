import { afterAll, describe, expect, it } from 'vitest';
import Database from 'libsql';
import { spawn } from 'node:child_process';
import { existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, runCli } from '../support/cli.js';
import { agentWorkspace } from '../support/agent-workspace.js';
import { dumpAllTables, dumpSpecTables, startHranaServer, startStallServer } from '../support/hrana-server.js';

const TOKEN = 'hostile-token';

describe('sync against remotes that stall or fail', () => {
  const env = { TURSO_AUTH_TOKEN: TOKEN, TURSO_DB_AUTH_TOKEN: '', AGENTFS_SYNC_TIMEOUT: '' };
  const { tmp, db, cli, withAgent } = agentWorkspace('agentfs-hostile-remote-', env);
  afterAll(() => tmp.cleanup());
  /** runs the CLI; a hang is killed after 40 s (and then fails the test by its exit code) */
  const sync = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
    runCli(['sync', ...args], { cwd: tmp.dir, env: { ...env, ...extraEnv }, timeoutMs: 40_000 });

  it('a remote that accepts and never answers, or answers half: push, pull and status stop with one line', async () => {
    await cli('init', 'h');
    withAgent('h', (a) => a.paths.writeFile('/x.txt', 'x'));
    const before = dumpAllTables(db('h'));
    for (const mode of ['accept', 'half'] as const) {
      const server = await startStallServer(mode);
      try {
        for (const [action, extra, timeoutArgs] of [
          ['push', {}, ['--timeout', '1']],
          ['pull', {}, ['--timeout', '0.5']],
          ['status', { AGENTFS_SYNC_TIMEOUT: '1' }, []],
        ] as const) {
          const r = await sync(['h', action, '--remote', server.url, ...timeoutArgs], extra);
          expect(r.signal, `${mode} ${action}: killed, it hung`).toBeNull();
          expect(r.code, `${mode} ${action}`).not.toBe(0);
          const lines = r.stderr.trim().split('\n');
          expect(lines, r.stderr).toHaveLength(1);
          expect(lines[0]).toMatch(new RegExp(`^agentfs: remote ${server.url.replace(/\./g, '\\.')} did not answer within (1|0\\.5) s`));
          expect(dumpAllTables(db('h'))).toBe(before);
        }
      } finally {
        await server.stop();
      }
    }
  });

  it('stats against a remote that never answers waits min(--timeout, 5 s), then prints the local part', async () => {
    await cli('init', 'hs');
    for (const mode of ['accept', 'half'] as const) {
      const server = await startStallServer(mode);
      try {
        for (const [args, extra, within] of [
          [['--timeout', '1'], {}, '1'],
          [[], { AGENTFS_SYNC_TIMEOUT: '0.5' }, '0.5'],
          [['--timeout', '60'], {}, '5'],
        ] as const) {
          const r = await sync(['hs', 'stats', '--remote', server.url, ...args], extra);
          expect(r.signal, `${mode}: killed, stats hung`).toBeNull();
          expect(r.code, r.stderr).toBe(0);
          const s = JSON.parse(r.stdout) as { remote: { known: boolean; reason?: string }; pending: { firstPush: boolean } };
          expect(s.pending.firstPush).toBe(true);
          expect(s.remote.known).toBe(false);
          expect(s.remote.reason).toMatch(new RegExp(`did not answer within ${within.replace('.', '\\.')} s`));
        }
      } finally {
        await server.stop();
      }
    }
  });

  it('a bad --timeout or AGENTFS_SYNC_TIMEOUT is a usage error', async () => {
    await cli('init', 'u');
    for (const [args, extra] of [
      [['--timeout', '0'], {}],
      [['--timeout', 'soon'], {}],
      [[], { AGENTFS_SYNC_TIMEOUT: '-3' }],
    ] as const) {
      for (const action of ['status', 'stats']) {
        const r = await sync(['u', action, '--remote', 'http://127.0.0.1:9', ...args], extra);
        expect(r.code, action).not.toBe(0);
        expect(r.stdout).toBe('');
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(/^agentfs: (--timeout|AGENTFS_SYNC_TIMEOUT): .*seconds/);
      }
    }
  });

  /** ~6 MiB in 30 files: several staging requests. */
  const fill = (id: string, tag: number) =>
    withAgent(id, (a) => {
      for (let i = 0; i < 30; i++) a.paths.writeFile(`/big-${i}.bin`, Buffer.alloc(200 * 1024, (i + tag) & 255));
    });

  it('a server that stalls mid-push: the push times out, the remote stays as it was, a re-run finishes', async () => {
    const remote = join(tmp.dir, 'stall-mid.db');
    const first = await startHranaServer({ db: remote, token: TOKEN });
    await cli('init', 'm');
    withAgent('m', (a) => a.kv.set('before', 1));
    await cli('sync', 'm', 'push', '--remote', first.url);
    await first.stop();
    const before = dumpSpecTables(remote);
    fill('m', 1);
    // inspect x2, staging set-up, then the first staging request stalls
    const stalling = await startHranaServer({ db: remote, token: TOKEN, stallAfter: 4 });
    try {
      const r = await sync(['m', 'push', '--remote', stalling.url, '--timeout', '1']);
      expect(r.signal).toBeNull();
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/^agentfs: remote http:\/\/127\.0\.0\.1:\d+ did not answer within 1 s/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      await stalling.stop();
    }
    expect(dumpSpecTables(remote)).toEqual(before);
    const good = await startHranaServer({ db: remote, token: TOKEN });
    try {
      expect(await cli('sync', 'm', 'push', '--remote', good.url)).toMatch(/revision 2/);
      expect(dumpSpecTables(remote)).toEqual(dumpSpecTables(db('m')));
    } finally {
      await good.stop();
    }
  });

  it('a pull from a server that stalls part-way changes nothing locally; a re-run brings everything', async () => {
    const remote = join(tmp.dir, 'stall-pull.db');
    const first = await startHranaServer({ db: remote, token: TOKEN });
    await cli('init', 'p1');
    fill('p1', 3);
    await cli('sync', 'p1', 'push', '--remote', first.url);
    await first.stop();
    await cli('init', 'p2');
    // a failed pull may leave our own tables created (empty), never a row changed
    const before = dumpAllTables(db('p2'), true);
    for (const stallAfter of [2, 4]) {
      const stalling = await startHranaServer({ db: remote, token: TOKEN, stallAfter });
      try {
        const r = await sync(['p2', 'pull', '--remote', stalling.url, '--timeout', '1']);
        expect(r.signal).toBeNull();
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/^agentfs: remote http:\/\/127\.0\.0\.1:\d+ did not answer within 1 s/);
      } finally {
        await stalling.stop();
      }
      expect(dumpAllTables(db('p2'), true)).toBe(before);
    }
    const good = await startHranaServer({ db: remote, token: TOKEN });
    try {
      expect(await cli('sync', 'p2', 'pull', '--remote', good.url)).toMatch(/Pulled/);
    } finally {
      await good.stop();
    }
    expect(dumpSpecTables(db('p2')).fs_data).toEqual(dumpSpecTables(db('p1')).fs_data);
  });

  it('the final commit applied but never answered: the push finds out it landed and succeeds', async () => {
    const remote = join(tmp.dir, 'stall-commit.db');
    const first = await startHranaServer({ db: remote, token: TOKEN });
    await cli('init', 'c');
    withAgent('c', (a) => a.kv.set('v', 1));
    await cli('sync', 'c', 'push', '--remote', first.url);
    await first.stop();
    withAgent('c', (a) => a.kv.set('v', 2));
    // an incremental push makes 4 requests (inspect x2, staging set-up, apply): the 4th is never answered
    const server = await startHranaServer({ db: remote, token: TOKEN, stallReplyAt: 4 });
    try {
      const r = await sync(['c', 'push', '--remote', server.url, '--timeout', '1']);
      expect(r.signal).toBeNull();
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/revision 2/);
      const s = JSON.parse(await cli('sync', 'c', 'status', '--remote', server.url, '--json'));
      expect(s).toMatchObject({ baseRevision: 2, remoteRevision: 2, localPending: {}, interruptedPush: false });
    } finally {
      await server.stop();
    }
    expect(dumpSpecTables(remote)).toEqual(dumpSpecTables(db('c')));
  });

  it('a request lost once on the way is retried (reads and staging are idempotent)', async () => {
    const remote = join(tmp.dir, 'drop-once.db');
    await cli('init', 'd');
    withAgent('d', (a) => a.paths.writeFile('/f.txt', 'hello'));
    for (const dropAt of [1, 3]) {
      const server = await startHranaServer({ db: remote, token: TOKEN, dropAt });
      try {
        withAgent('d', (a) => a.kv.set('n', dropAt));
        const r = await sync(['d', 'push', '--remote', server.url]);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
      } finally {
        await server.stop();
      }
    }
    expect(dumpSpecTables(remote)).toEqual(dumpSpecTables(db('d')));
    const puller = await startHranaServer({ db: remote, token: TOKEN, dropAt: 2 });
    try {
      await cli('init', 'd2');
      const r = await sync(['d2', 'pull', '--remote', puller.url]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    } finally {
      await puller.stop();
    }
    expect(dumpSpecTables(db('d2')).fs_data).toEqual(dumpSpecTables(db('d')).fs_data);
  });
});

describe('sync never prints a secret', () => {
  const { tmp, db, cli, withAgent } = agentWorkspace('agentfs-hostile-secret-', { TURSO_AUTH_TOKEN: '', TURSO_DB_AUTH_TOKEN: '', AGENTFS_SYNC_TIMEOUT: '' });
  afterAll(() => tmp.cleanup());
  const sync = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli(['sync', ...args], { cwd: tmp.dir, env: { TURSO_AUTH_TOKEN: '', TURSO_DB_AUTH_TOKEN: '', AGENTFS_SYNC_TIMEOUT: '', ...env }, timeoutMs: 40_000 });

  it('a token with control or non-header characters is refused up front, and not shown', async () => {
    await cli('init', 't');
    withAgent('t', (a) => a.paths.writeFile('/x', 'x'));
    const before = dumpAllTables(db('t'));
    const server = await startHranaServer({ db: join(tmp.dir, 'r.db'), token: 'good' });
    try {
      const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
        [['--auth-token', 'abcSECRET\r\nX-Evil: 1'], {}, /--auth-token/],
        [['--auth-token', 'abcSECRET\t'], {}, /--auth-token/],
        [[], { TURSO_AUTH_TOKEN: 'abcSECRET\n' }, /TURSO_AUTH_TOKEN/],
        [[], { TURSO_DB_AUTH_TOKEN: 'abcSECRET\u001bx' }, /TURSO_DB_AUTH_TOKEN/],
        [['--auth-token', 'abcSECRET\u20ac'], {}, /--auth-token/],
      ];
      for (const [args, env, source] of cases) {
        for (const action of ['push', 'pull', 'status']) {
          const r = await sync(['t', action, '--remote', server.url, ...args], env);
          expect(r.code).not.toBe(0);
          const lines = r.stderr.trim().split('\n');
          expect(lines, r.stderr).toHaveLength(1);
          expect(lines[0]).toMatch(/^agentfs: the auth token .*(control character|cannot be sent)/);
          expect(lines[0]).toMatch(source);
          expect(r.stderr + r.stdout).not.toMatch(/SECRET|Evil/);
          expect(dumpAllTables(db('t'))).toBe(before);
        }
      }
      // stats still prints the local part, the refusal being the reason the remote part is unknown
      for (const [args, env, source] of cases) {
        const r = await sync(['t', 'stats', '--remote', server.url, ...args], env);
        expect(r.code, r.stderr).toBe(0);
        const s = JSON.parse(r.stdout) as { remote: { known: boolean; reason: string } };
        expect(s.remote.known).toBe(false);
        expect(s.remote.reason).toMatch(/^the auth token .*(control character|cannot be sent)/);
        expect(s.remote.reason).toMatch(source);
        expect(r.stderr + r.stdout).not.toMatch(/SECRET|Evil/);
        expect(dumpAllTables(db('t'))).toBe(before);
      }
      // the same token smuggled into the URL
      const r = await sync(['t', 'status', '--remote', `${server.url}/?authToken=abcSECRET%0D%0AX-Evil:%201`]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/^agentfs: the auth token .*control character/);
      expect(r.stderr + r.stdout).not.toMatch(/SECRET|Evil/);
    } finally {
      await server.stop();
    }
  });

  it('tokens in URLs are hidden in every message and output, and a URL with a password is refused', async () => {
    await cli('init', 'q');
    const server = await startHranaServer({ db: join(tmp.dir, 'q.db'), token: 'good' });
    try {
      const outputs: string[] = [];
      const grab = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
        const r = await sync(args, env);
        outputs.push(r.stdout + r.stderr);
        return r;
      };
      // wrong token in the URL: 401, URL shown redacted
      let r = await grab(['q', 'push', '--remote', `${server.url}/?authToken=WRONGSECRET`]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/authToken=\*\*\*/);
      r = await grab(['q', 'stats', '--remote', `${server.url}/?authToken=WRONGSECRET`]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ remoteUrl: `${server.url}/?authToken=***`, remote: { known: false, reason: expect.stringMatching(/refused the auth token/) } });
      r = await grab(['q', 'stats', '--remote', `${server.url}/?authToken=good`, '--auth-token', 'ARGSECRET']);
      r = await grab(['q', 'stats', '--remote', 'ftp://example.com/db?authToken=FTPSECRET']);
      expect(JSON.parse(r.stdout).remote.reason).toMatch(/^invalid remote URL ftp:\/\/example\.com\/db\?authToken=\*\*\*/);
      r = await grab(['q', 'push', '--remote', 'ftp://example.com/db?authToken=FTPSECRET']);
      expect(r.stderr).toMatch(/^agentfs: invalid remote URL ftp:\/\/example\.com\/db\?authToken=\*\*\*/);
      r = await grab(['q', 'push', '--remote', `http://me:PWSECRET@127.0.0.1:${server.port}/`]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/^agentfs: .*user name or password/);
      // a good token in the URL works; it is not remembered in the agent, and status hides it
      r = await grab(['q', 'push', '--remote', `${server.url}/?authToken=good`]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      r = await grab(['q', 'status', '--json', '--remote', `${server.url}/?authToken=good`]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).remoteUrl).toBe(`${server.url}/?authToken=***`);
      r = await grab(['q', 'status', '--remote', `${server.url}/?authToken=good`]);
      expect(r.stdout).toMatch(/authToken=\*\*\*/);
      r = await grab(['q', 'stats', '--remote', `${server.url}/?authToken=good`]);
      expect(JSON.parse(r.stdout)).toMatchObject({ remoteUrl: `${server.url}/?authToken=***`, remote: { known: true }, pushes: 1 });
      // with the token from the environment instead, the remembered URL carries no token
      r = await grab(['q', 'status'], { TURSO_AUTH_TOKEN: 'good' });
      expect(r.code).toBe(0);
      expect(dumpAllTables(db('q'))).not.toMatch(/authToken=good/);
      // init refuses to store a URL with a token in the database, and does not echo the token
      const refused = await runCli(['init', 'q2', '--sync-remote-url', `${server.url}/?authToken=good`], { cwd: tmp.dir });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^agentfs: --sync-remote-url: .*authToken/);
      outputs.push(refused.stdout, refused.stderr);
      for (const o of outputs) expect(o).not.toMatch(/SECRET|authToken=good/);
    } finally {
      await server.stop();
    }
  });
});

describe('file: remotes', () => {
  const env = { TURSO_AUTH_TOKEN: '', TURSO_DB_AUTH_TOKEN: '', AGENTFS_SYNC_TIMEOUT: '' };
  const { tmp, db, cli, withAgent } = agentWorkspace('agentfs-file-remote-', env);
  afterAll(() => tmp.cleanup());
  const sync = (args: string[]) => runCli(['sync', ...args], { cwd: tmp.dir, env, timeoutMs: 60_000 });

  it('push, pull and status through a local database file behave as with a server; the URL is remembered absolute', async () => {
    await cli('init', 'f1');
    withAgent('f1', (a) => {
      a.paths.writeFile('/a.txt', 'alpha');
      a.kv.set('k', { v: 1 });
    });
    // relative to the current directory, remembered as an absolute URL
    expect(await cli('sync', 'f1', 'push', '--remote', 'file:remote.db')).toMatch(/revision 1 \(full\)/);
    const remote = join(tmp.dir, 'remote.db');
    expect(dumpSpecTables(remote)).toEqual(dumpSpecTables(db('f1')));
    const st = JSON.parse(await cli('sync', 'f1', 'status', '--json'));
    expect(st).toMatchObject({ remoteUrl: `file://${remote}`, remoteRevision: 1, baseRevision: 1 });
    await cli('init', 'f2');
    expect(await cli('sync', 'f2', 'pull', '--remote', `file://${remote}`)).toMatch(/Pulled/);
    expect(dumpSpecTables(db('f2'))).toEqual(dumpSpecTables(db('f1')));
    withAgent('f2', (a) => a.paths.writeFile('/b.txt', 'beta'));
    await cli('sync', 'f2', 'push');
    await cli('sync', 'f1', 'pull');
    expect(dumpSpecTables(db('f1'))).toEqual(dumpSpecTables(db('f2')));
  });

  it('refuses the agent\'s own database, a missing file for pull and status, and URLs it cannot honour', async () => {
    await cli('init', 'self');
    withAgent('self', (a) => a.paths.writeFile('/x', 'x'));
    symlinkSync(db('self'), join(tmp.dir, 'self-link.db'));
    const before = dumpAllTables(db('self'));
    const missing = join(tmp.dir, 'missing.db');
    const cases: [string[], RegExp][] = [
      [['push', '--remote', `file://${db('self')}`], /is this agent's own database/],
      [['pull', '--remote', `file:${join(tmp.dir, 'self-link.db')}`], /is this agent's own database/],
      [['pull', '--remote', `file://${missing}`], /missing\.db does not exist/],
      [['status', '--remote', `file://${missing}`], /missing\.db does not exist/],
      [['push', '--remote', `file://${join(tmp.dir, 'no-dir', 'r.db')}`], /no-dir does not exist/],
      [['push', '--remote', `file://${tmp.dir}`], /is not a file/],
      [['push', '--remote', 'file::memory:'], /in-memory/],
      [['push', '--remote', 'file://otherhost/tmp/r.db'], /host/],
      [['push', '--remote', 'ws://127.0.0.1:8080'], /WebSocket/],
      [['push', '--remote', 'wss://example.com'], /WebSocket/],
    ];
    for (const [args, want] of cases) {
      const r = await sync(['self', ...args]);
      expect(r.code, args.join(' ')).not.toBe(0);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^agentfs: /);
      expect(lines[0]).toMatch(want);
      expect(dumpAllTables(db('self'))).toBe(before);
    }
    expect(existsSync(missing)).toBe(false);
    // init checks the URL it is asked to remember, before creating anything
    for (const [url, want] of [
      ['ftp://example.com/db', /scheme ftp: is not supported/],
      ['wss://example.com', /WebSocket/],
      ['not a url', /not a URL/],
      ['http://me:pw@example.com', /user name or password/],
      ['file::memory:', /in-memory/],
    ] as const) {
      const r = await runCli(['init', 'bad-url', '--sync-remote-url', url], { cwd: tmp.dir, env });
      expect(r.code, url).not.toBe(0);
      expect(r.stderr).toMatch(/^agentfs: --sync-remote-url: /);
      expect(r.stderr).toMatch(want);
      expect(r.stderr).not.toContain('pw@');
      expect(existsSync(db('bad-url'))).toBe(false);
    }
  });

  it('a push into a file killed part-way leaves the file at the old or the new revision; a re-run finishes', async () => {
    const remote = join(tmp.dir, 'killed.db');
    await cli('init', 'k');
    withAgent('k', (a) => a.kv.set('first', 1));
    await cli('sync', 'k', 'push', '--remote', `file://${remote}`);
    const old = dumpSpecTables(remote);
    for (let round = 0; round < 3; round++) {
      withAgent('k', (a) => {
        for (let i = 0; i < 40; i++) a.paths.writeFile(`/r${round}-${i}.bin`, Buffer.alloc(256 * 1024, round * 40 + i));
      });
      const child = spawn(process.execPath, [CLI, 'sync', 'k', 'push'], { cwd: tmp.dir, env: { ...process.env, ...env }, stdio: 'ignore' });
      const exited = new Promise((r) => child.once('exit', r));
      // kill it at a different point each round: as soon as it starts, at the first staged rows, later
      await new Promise((r) => setTimeout(r, [50, 250, 600][round]));
      child.kill('SIGKILL');
      await exited;
      const now = dumpSpecTables(remote);
      const isOld = JSON.stringify(now) === JSON.stringify(old);
      const isNew = JSON.stringify(now) === JSON.stringify(dumpSpecTables(db('k')));
      expect(isOld || isNew, `round ${round}: the remote is neither the old nor the new revision`).toBe(true);
      await cli('sync', 'k', 'push');
      expect(dumpSpecTables(remote)).toEqual(dumpSpecTables(db('k')));
      expect(integrity(remote)).toBe('ok');
      Object.assign(old, dumpSpecTables(remote));
    }
  });
});

describe('file: remotes left with a hot journal or staged rows', () => {
  const { tmp, db, cli, withAgent } = agentWorkspace('agentfs-hot-journal-');
  afterAll(() => tmp.cleanup());

  it('binary chunks a killed push left in the staging tables are no foreign text: the next push goes on', async () => {
    const remote = join(tmp.dir, 'staged.db');
    await cli('init', 'st');
    withAgent('st', (a) => a.paths.writeFile('/a.bin', Buffer.from([0xff, 0xfe, 0x00, 0x80])));
    await cli('sync', 'st', 'push', '--remote', `file://${remote}`);
    // what a push killed while staging leaves: its chunks, bytes that are no UTF-8, in untyped columns
    const d = new Database(remote);
    d.prepare('INSERT INTO agentfs_sync_pushes (push_id, started_at) VALUES (?, ?)').run('killed', Math.floor(Date.now() / 1000));
    d.prepare('INSERT INTO agentfs_sync_stage_fs_data (push_id, ino, chunk_index, data) VALUES (?, ?, 0, ?)').run('killed', 2, Buffer.from([0xff, 0xc0, 0x80]));
    d.close();
    withAgent('st', (a) => a.paths.writeFile('/b.bin', Buffer.from([0xc3, 0x28])));
    await cli('sync', 'st', 'push');
    await cli('sync', 'st', 'status');
    expect(dumpSpecTables(remote)).toEqual(dumpSpecTables(db('st')));
    // text that is not UTF-8 is still refused
    const t = new Database(remote);
    t.prepare("UPDATE kv_store SET value = CAST(x'ff22' AS TEXT)").run();
    t.prepare("INSERT INTO kv_store (key, value) VALUES ('bad', CAST(x'22ff22' AS TEXT))").run();
    t.close();
    const r = await runCli(['sync', 'st', 'status'], { cwd: tmp.dir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/kv_store\.value of row \d+ is not valid UTF-8/);
  });

  it('a writer killed half-way through a transaction on the file: status, pull and push roll it back and go on', async () => {
    const remote = join(tmp.dir, 'hot.db');
    await cli('init', 'hj');
    withAgent('hj', (a) => a.kv.set('first', 1));
    await cli('sync', 'hj', 'push', '--remote', `file://${remote}`);
    const before = dumpSpecTables(remote);
    // pages changed in the file itself (a cache of 2 pages spills), their old contents in the
    // journal, the lock gone with the process: a hot journal, as a push killed mid-commit leaves
    const script = `
      const Database = require('libsql');
      const d = new Database(process.argv[1]);
      d.exec('PRAGMA cache_size = 2');
      d.exec('BEGIN IMMEDIATE');
      d.exec("UPDATE kv_store SET value = '999'");
      const ins = d.prepare('INSERT INTO fs_data (ino, chunk_index, data) VALUES (?, 0, zeroblob(4000))');
      for (let i = 0; i < 500; i++) ins.run(100000 + i);
      process.stdout.write('held\\n');
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['-e', script, remote], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((r) => child.once('exit', r));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => String(d).includes('held') && resolve());
      child.once('exit', (code) => reject(new Error(`writer exited early (${code})`)));
    });
    child.kill('SIGKILL');
    await exited;
    expect(existsSync(`${remote}-journal`)).toBe(true);
    await cli('sync', 'hj', 'status');
    await cli('sync', 'hj', 'pull');
    expect(dumpSpecTables(remote)).toEqual(before); // back at its last commit
    withAgent('hj', (a) => a.kv.set('second', 2));
    await cli('sync', 'hj', 'push');
    expect(integrity(remote)).toBe('ok');
    const kv = new Database(remote, { readonly: true });
    try {
      expect(kv.prepare('SELECT key, value FROM kv_store ORDER BY key').all()).toEqual([
        { key: 'first', value: '1' },
        { key: 'second', value: '2' },
      ]);
    } finally {
      kv.close();
    }
  });
});

function integrity(file: string): string {
  const d = new Database(file, { readonly: true });
  try {
    return String((d.prepare('PRAGMA integrity_check').get() as Record<string, unknown>).integrity_check);
  } finally {
    d.close();
  }
}
