/**
 * A directory cycle in a damaged or pulled database (issue #10, item 6): the CLI's walks stop
 * with one ELOOP line (no hang, no stack trace), and `sync pull` refuses to bring one in.
 */
import Database from 'libsql';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/core/agent.js';
import { runCli, tempDir } from '../support/cli.js';
import { startHranaServer } from '../support/hrana-server.js';

const tmp = tempDir('agentfs-cycles-');
afterAll(() => tmp.cleanup());

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { cwd: tmp.dir, env, timeoutMs: 30_000 });

function withAgent<T>(db: string, fn: (a: Agent) => T): T {
  const a = Agent.open({ path: db });
  try {
    return fn(a);
  } finally {
    a.close();
  }
}

/** /a/b/loop points back at /a; /a/b/f holds data. */
function damage(db: string): void {
  const d = new Database(db);
  const ino = (parent: number, name: string) =>
    (d.prepare('SELECT ino FROM fs_dentry WHERE parent_ino = ? AND name = ?').get(parent, name) as { ino: number }).ino;
  const a = ino(1, 'a');
  d.prepare('INSERT INTO fs_dentry (name, parent_ino, ino) VALUES (?, ?, ?)').run('loop', ino(a, 'b'), a);
  d.close();
}

describe('a directory cycle', () => {
  it('fs tree, cp -r and rm -r stop with one ELOOP line and change nothing', async () => {
    const db = join(tmp.dir, 'cyc.db');
    expect((await cli(['init', db])).code).toBe(0);
    expect((await cli(['fs', 'write', db, '/a/b/f', 'x'])).code).toBe(0);
    damage(db);
    for (const args of [
      ['fs', 'tree', db],
      ['fs', 'tree', db, '/a', '--json'],
      ['fs', 'cp', db, '/a', '/copy', '-r'],
      ['fs', 'rm', db, '/a', '-r'],
    ]) {
      const r = await cli(args);
      expect(r.signal, args.join(' ')).toBeNull();
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(/^agentfs: ELOOP: directory cycle at \/a\/b\/loop/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    withAgent(db, (a) => {
      expect(a.paths.readdir('/')).toEqual(['a']);
      expect(a.paths.readFile('/a/b/f', 'utf8')).toBe('x');
    });
  });

  it('sync pull refuses a remote whose directories hold a cycle, and changes nothing', async () => {
    const remoteDb = join(tmp.dir, 'remote.db');
    const server = await startHranaServer({ db: remoteDb, token: 't' });
    const env = { TURSO_AUTH_TOKEN: 't' };
    try {
      const src = join(tmp.dir, 'src.db');
      const dst = join(tmp.dir, 'dst.db');
      for (const db of [src, dst]) expect((await cli(['init', db])).code).toBe(0);
      expect((await cli(['fs', 'write', src, '/a/b/f', 'x'])).code).toBe(0);
      expect((await cli(['fs', 'write', dst, '/mine', 'kept'])).code).toBe(0);
      const push = await cli(['sync', src, 'push', '--remote', server.url], env);
      expect(push.stderr).toBe('');
      damage(remoteDb);
      const pull = await cli(['sync', dst, 'pull', '--remote', server.url, '--theirs'], env);
      expect(pull.code).not.toBe(0);
      expect(pull.stderr).toMatch(/^agentfs: ELOOP: .*do not form a tree.*\/a\/b\/loop.*nothing was changed/);
      expect(pull.stderr.trim().split('\n')).toHaveLength(1);
      withAgent(dst, (a) => expect(a.paths.readdir('/')).toEqual(['mine']));
    } finally {
      await server.stop();
    }
  });
});
