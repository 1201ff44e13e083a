import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { runCli } from '../support/cli.js';
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

  it('a bad --timeout or AGENTFS_SYNC_TIMEOUT is a usage error', async () => {
    await cli('init', 'u');
    for (const [args, extra] of [
      [['--timeout', '0'], {}],
      [['--timeout', 'soon'], {}],
      [[], { AGENTFS_SYNC_TIMEOUT: '-3' }],
    ] as const) {
      const r = await sync(['u', 'status', '--remote', 'http://127.0.0.1:9', ...args], extra);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^agentfs: (--timeout|AGENTFS_SYNC_TIMEOUT): .*seconds/);
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
