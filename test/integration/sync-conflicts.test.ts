import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { runCli } from '../support/cli.js';
import { agentWorkspace } from '../support/agent-workspace.js';
import { dumpAllTables, dumpSpecTables, startHranaServer, type HranaServer } from '../support/hrana-server.js';

const TOKEN = 'conflict-token';

describe('agentfs sync conflicts', () => {
  const env = { TURSO_AUTH_TOKEN: TOKEN };
  const { tmp, db, cli, withAgent } = agentWorkspace('agentfs-sync-conflict-', env);
  let server: HranaServer;
  const remoteDb = () => join(tmp.dir, 'remote.db');
  const read = (id: string, path: string) => withAgent(id, (a) => a.paths.readFile(path, 'utf8'));

  beforeAll(async () => {
    server = await startHranaServer({ db: remoteDb(), token: TOKEN });
    await cli('init', 'a', '--sync-remote-url', server.url);
    withAgent('a', (a) => {
      a.paths.mkdir('/src');
      a.paths.writeFile('/src/main.ts', 'v1');
      a.paths.writeFile('/README', 'readme');
      a.kv.set('plan', 'v1');
    });
    await cli('sync', 'a', 'push');
    await cli('init', 'b', '--sync-remote-url', server.url);
    await cli('sync', 'b', 'pull');
  });
  afterAll(async () => {
    await server.stop();
    tmp.cleanup();
  });

  it('push stops and names the conflicting paths and kv keys, changing nothing on either side', async () => {
    withAgent('a', (a) => {
      a.paths.writeFile('/src/main.ts', 'from a');
      a.kv.set('plan', 'a');
    });
    withAgent('b', (b) => {
      b.paths.writeFile('/src/main.ts', 'from b!');
      b.kv.set('plan', 'b');
      b.paths.writeFile('/README', 'b readme');
    });
    await cli('sync', 'a', 'push');
    const remoteBefore = dumpAllTables(remoteDb());
    const localBefore = dumpAllTables(db('b'));
    const r = await runCli(['sync', 'b', 'push'], { cwd: tmp.dir, env });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^agentfs: conflict: .*\/src\/main\.ts/);
    expect(r.stderr).toContain('kv:plan');
    expect(r.stderr).not.toContain('/README');
    expect(dumpAllTables(remoteDb())).toBe(remoteBefore);
    expect(dumpAllTables(db('b'))).toBe(localBefore);
  });

  it('pull stops on the same conflicts, changing nothing', async () => {
    const localBefore = dumpAllTables(db('b'));
    const r = await runCli(['sync', 'b', 'pull'], { cwd: tmp.dir, env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^agentfs: conflict: .*\/src\/main\.ts.*kv:plan/);
    expect(r.stderr).toMatch(/--theirs/);
    expect(dumpAllTables(db('b'))).toBe(localBefore);
  });

  it('pull --theirs takes the remote version of what conflicts and keeps our other changes', async () => {
    const out = await cli('sync', 'b', 'pull', '--theirs');
    expect(out).toMatch(/Resolved 2 conflicts \(theirs won\)/);
    expect(read('b', '/src/main.ts')).toBe('from a');
    expect(withAgent('b', (b) => b.kv.get('plan'))).toBe('a');
    expect(read('b', '/README')).toBe('b readme');
    await cli('sync', 'b', 'push');
    await cli('sync', 'a', 'pull');
    expect(read('a', '/README')).toBe('b readme');
    expect(dumpSpecTables(db('a')).fs_data).toEqual(dumpSpecTables(db('b')).fs_data);
  });

  it('push --force makes ours win on the remote, whole file included', async () => {
    withAgent('a', (a) => a.paths.writeFile('/src/main.ts', 'a'.repeat(10000)));
    withAgent('b', (b) => b.paths.writeFile('/src/main.ts', 'short b'));
    await cli('sync', 'a', 'push');
    const r = await runCli(['sync', 'b', 'push'], { cwd: tmp.dir, env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/conflict: .*\/src\/main\.ts/);
    await cli('sync', 'b', 'push', '--force');
    await cli('init', 'c');
    await cli('sync', 'c', 'pull', '--remote', server.url);
    expect(read('c', '/src/main.ts')).toBe('short b');
    // no chunk of a's longer version survives beyond the file's end
    const chunks = dumpSpecTables(db('c')).fs_data;
    expect(dumpSpecTables(remoteDb()).fs_data).toEqual(chunks);
    // a, whose version lost, gets b's when it pulls with --theirs
    const pulled = await runCli(['sync', 'a', 'pull'], { cwd: tmp.dir, env });
    expect(pulled.code).toBe(0); // a had no unpushed change of its own
    expect(read('a', '/src/main.ts')).toBe('short b');
  });

  it('pull --force keeps ours, and the next push sends it', async () => {
    withAgent('a', (a) => a.kv.set('plan', 'ours-a'));
    withAgent('b', (b) => b.kv.set('plan', 'theirs-b'));
    await cli('sync', 'b', 'push');
    expect(await cli('sync', 'a', 'pull', '--force')).toMatch(/ours won/);
    expect(withAgent('a', (a) => a.kv.get('plan'))).toBe('ours-a');
    await cli('sync', 'a', 'push');
    await cli('sync', 'b', 'pull');
    expect(withAgent('b', (b) => b.kv.get('plan'))).toBe('ours-a');
  });

  it('a first push onto a remote holding another agent refuses without --force', async () => {
    await cli('init', 'stranger');
    withAgent('stranger', (s) => s.paths.writeFile('/other.txt', 'x'));
    const before = dumpAllTables(remoteDb());
    const r = await runCli(['sync', 'stranger', 'push', '--remote', server.url], { cwd: tmp.dir, env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/already holds an agent/);
    expect(dumpAllTables(remoteDb())).toBe(before);
    const p = await runCli(['sync', 'stranger', 'pull', '--remote', server.url], { cwd: tmp.dir, env });
    expect(p.code).not.toBe(0);
    expect(p.stderr).toMatch(/already has content/);
  });

  it('a push goes ahead over remote changes that do not conflict; the next pulls bring each side the other', async () => {
    await cli('sync', 'a', 'pull', '--theirs');
    await cli('sync', 'b', 'pull', '--theirs');
    withAgent('a', (a) => {
      a.paths.writeFile('/only-a.txt', 'a');
      a.paths.mkdir('/dir-a');
    });
    withAgent('b', (b) => {
      b.kv.set('only-b', true);
      b.paths.writeFile('/only-b.txt', 'b'); // both sides add entries to / : the directory merges
    });
    await cli('sync', 'b', 'push');
    const out = await cli('sync', 'a', 'push');
    expect(out).toMatch(/^Pushed/);
    expect(out).toMatch(/remote has changes from elsewhere/);
    const pulled = JSON.parse(await cli('sync', 'a', 'pull', '--json'));
    expect(pulled.full).toBe(false);
    await cli('sync', 'a', 'push'); // the merged root directory
    await cli('sync', 'b', 'pull');
    expect(withAgent('a', (a) => a.kv.get('only-b'))).toBe(true);
    expect(withAgent('b', (b) => b.paths.readdir('/').sort())).toEqual(withAgent('a', (a) => a.paths.readdir('/').sort()));
    const da = dumpSpecTables(db('a'));
    const dbb = dumpSpecTables(db('b'));
    for (const t of ['fs_dentry', 'fs_data', 'kv_store', 'fs_symlink', 'tool_calls']) expect(dbb[t], t).toEqual(da[t]);
    const root = (id: string) => withAgent(id, (x) => x.paths.stat('/'));
    expect(root('b').nlink).toBe(root('a').nlink);
    expect(root('a').nlink).toBe(2 + withAgent('a', (a) => a.paths.readdir('/').filter((n) => a.paths.stat(`/${n}`).mode & 0o040000).length));
  });
});
