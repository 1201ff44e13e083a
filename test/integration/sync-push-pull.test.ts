import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { CLI, run, runCli } from '../support/cli.js';
import { agentWorkspace } from '../support/agent-workspace.js';
import { dumpSpecTables, startHranaServer, type HranaServer } from '../support/hrana-server.js';

const TOKEN = 'sync-test-token';

describe('agentfs sync push/pull', () => {
  const env = { TURSO_AUTH_TOKEN: TOKEN };
  const { tmp, db, cli, withAgent } = agentWorkspace('agentfs-sync-', env);
  let server: HranaServer;

  beforeAll(async () => {
    server = await startHranaServer({ db: join(tmp.dir, 'remote.db'), token: TOKEN });
  });
  afterAll(async () => {
    await server.stop();
    tmp.cleanup();
  });

  it('a first pull into a fresh database reproduces every spec table row by row', async () => {
    await cli('init', 'src', '--sync-remote-url', server.url);
    withAgent('src', (a) => {
      const p = a.paths;
      p.mkdir('/docs/deep/er', { recursive: true });
      p.writeFile('/docs/empty.txt', '');
      p.writeFile('/docs/one-chunk.bin', Buffer.alloc(4096, 1));
      p.writeFile('/docs/deep/multi.bin', Buffer.from(Array.from({ length: 3 * 4096 + 17 }, (_, i) => (i * 7) & 255)));
      p.writeFile('/docs/deep/er/note.md', '# notes\n');
      p.chmod('/docs/deep/er/note.md', 0o600);
      p.utimes('/docs/deep/er/note.md', { sec: 1_700_000_000, nsec: 123_456_789 }, { sec: 1_600_000_000, nsec: 987_654_321 });
      p.link('/docs/deep/er/note.md', '/docs/hardlink.md');
      p.symlink('deep/er/note.md', '/docs/link');
      a.kv.set('config', { model: 'x', temperature: 0.5, list: [1, 2, 3] });
      a.kv.set('unicode', 'héllo ✓');
      const ok = a.tools.start('search', { q: 'a' });
      a.tools.success(ok, { hits: 3 });
      const bad = a.tools.start('fetch', { url: 'u' });
      a.tools.error(bad, new Error('boom'));
      a.tools.start('still-running', {});
      // overlay rows, written directly: the sync layer moves them like any other spec rows
      a.store.db.prepare('INSERT INTO fs_whiteout (path, parent_path, created_at) VALUES (?, ?, ?)').run('/gone', '/', 1_700_000_001);
      a.store.db.prepare('INSERT INTO fs_origin (delta_ino, base_ino) VALUES (?, ?)').run(2, 424242);
    });
    const out = await cli('sync', 'src', 'push');
    expect(out).toMatch(/revision 1 \(full\)/);
    await cli('init', 'copy');
    expect(await cli('sync', 'copy', 'pull', '--remote', server.url)).toMatch(/revision 1 \(full\)/);
    const want = dumpSpecTables(db('src'));
    expect(want.fs_data.length).toBeGreaterThan(4);
    expect(dumpSpecTables(db('copy'))).toEqual(want);
    // the remote itself is a plain AgentFS database with the same rows
    expect(dumpSpecTables(join(tmp.dir, 'remote.db'))).toEqual(want);
    withAgent('copy', (a) => {
      expect(a.paths.readlink('/docs/link')).toBe('deep/er/note.md');
      expect(a.paths.stat('/docs/hardlink.md').nlink).toBe(2);
      expect(a.kv.get('config')).toEqual({ model: 'x', temperature: 0.5, list: [1, 2, 3] });
    });
  });

  it('pushes and pulls only what changed, and the result matches row by row', async () => {
    withAgent('src', (a) => {
      const p = a.paths;
      p.writeFile('/docs/deep/multi.bin', Buffer.alloc(100, 9)); // shrinks: chunks deleted
      p.rename('/docs/empty.txt', '/docs/renamed.txt');
      p.unlink('/docs/one-chunk.bin');
      p.writeFile('/new.txt', 'new file');
      a.kv.delete('unicode');
      a.kv.set('added', 42);
      a.tools.record({ name: 'later', parameters: {}, result: 'r', started_at: 5, completed_at: 6 });
    });
    const push = JSON.parse(await cli('sync', 'src', 'push', '--json'));
    expect(push.full).toBe(false);
    expect(push.revision).toBe(2);
    expect(push.deletes).toBeGreaterThan(0);
    const pull = JSON.parse(await cli('sync', 'copy', 'pull', '--json'));
    expect(pull.full).toBe(false);
    expect(pull.rows + pull.deletes).toBe(push.rows + push.deletes);
    expect(dumpSpecTables(db('copy'))).toEqual(dumpSpecTables(db('src')));
    await cli('init', 'fresh');
    await cli('sync', 'fresh', 'pull', '--remote', server.url);
    expect(dumpSpecTables(db('fresh'))).toEqual(dumpSpecTables(db('src')));
    expect(await cli('sync', 'copy', 'pull')).toMatch(/Already up to date/);
    expect(await cli('sync', 'src', 'push')).toMatch(/Everything up to date/);
  });

  it('two machines taking turns converge, including concurrent new files, entries and tool calls', async () => {
    for (let round = 0; round < 2; round++) {
      withAgent('src', (a) => {
        a.paths.writeFile(`/from-src-${round}.txt`, `src ${round}`);
        a.tools.record({ name: `src-${round}`, started_at: round, completed_at: round + 1 });
      });
      withAgent('copy', (a) => {
        a.paths.mkdir(`/copy-dir-${round}`);
        a.paths.writeFile(`/copy-dir-${round}/f.txt`, `copy ${round}`);
        a.kv.set(`copy-${round}`, round);
        a.tools.record({ name: `copy-${round}`, started_at: round, completed_at: round + 1 });
      });
      // both created inodes, entries and tool calls under the same new ids: they merge
      await cli('sync', 'src', 'push');
      await cli('sync', 'copy', 'pull');
      await cli('sync', 'copy', 'push');
      await cli('sync', 'src', 'pull');
      expect(dumpSpecTables(db('src'))).toEqual(dumpSpecTables(db('copy')));
    }
    withAgent('src', (a) => {
      expect(a.paths.readFile('/copy-dir-1/f.txt', 'utf8')).toBe('copy 1');
      expect(a.paths.readFile('/from-src-1.txt', 'utf8')).toBe('src 1');
      const names = a.tools.list().map((c) => c.name);
      for (let r = 0; r < 2; r++) expect(names).toEqual(expect.arrayContaining([`src-${r}`, `copy-${r}`]));
    });
  });

  it('a push after one file changed among many moves a few chunks plus metadata', async () => {
    await cli('init', 'many', '--sync-remote-url', `${server.url}`);
    withAgent('many', (a) => {
      for (let d = 0; d < 10; d++) {
        a.paths.mkdir(`/d${d}`);
        for (let f = 0; f < 40; f++) a.paths.writeFile(`/d${d}/f${f}.bin`, Buffer.alloc(8192, d * 40 + f));
      }
    });
    // its own remote database, so the first push is a full one
    const own = await startHranaServer({ db: join(tmp.dir, 'many-remote.db'), token: TOKEN });
    try {
      const full = JSON.parse(await cli('sync', 'many', 'push', '--json', '--remote', own.url));
      expect(full.full).toBe(true);
      withAgent('many', (a) => {
        const f = a.paths.open('/d3/f7.bin', 'r+');
        a.fs.write(f.ino, 4096, Buffer.alloc(100, 0xee));
        a.paths.close(f.ino);
      });
      const inc = JSON.parse(await cli('sync', 'many', 'push', '--json', '--remote', own.url));
      expect(inc.full).toBe(false);
      // the inode row and the one chunk written
      expect(inc.rows).toBeLessThanOrEqual(3);
      expect(inc.bytes).toBeLessThan(full.bytes / 20);
    } finally {
      await own.stop();
    }
  });

  it('accepts libsql:// URLs, the TURSO_DB_AUTH_TOKEN variable and --auth-token', async () => {
    const url = `libsql://127.0.0.1:${server.port}?tls=0`;
    await cli('init', 'viaurl');
    const r1 = await runCli(['sync', 'viaurl', 'pull', '--remote', url], { cwd: tmp.dir, env: { TURSO_AUTH_TOKEN: '', TURSO_DB_AUTH_TOKEN: TOKEN } });
    expect(r1.stderr).toBe('');
    expect(r1.code).toBe(0);
    const r2 = await runCli(['sync', 'viaurl', 'status', '--auth-token', TOKEN], { cwd: tmp.dir, env: { TURSO_AUTH_TOKEN: 'wrong' } });
    expect(r2.code).toBe(0);
    expect(r2.stdout).toMatch(/Remote revision:\s+\d+/);
    // (src itself read files since: atime-only changes stay local until the inode's next real change)
    expect(dumpSpecTables(db('viaurl'))).toEqual(dumpSpecTables(join(tmp.dir, 'remote.db')));
  });

  it('status shows revisions, what is pending on each side, and the last transfers', async () => {
    withAgent('src', (a) => a.paths.writeFile('/pending.txt', 'p'));
    withAgent('copy', (a) => a.kv.set('remote-side', true));
    await cli('sync', 'copy', 'push');
    const out = await cli('sync', 'src', 'status');
    expect(out).toMatch(/Pending locally:\s+.*data chunks.*inodes/);
    expect(out).toMatch(/Pending remotely:\s+1 kv entries/);
    expect(out).toMatch(/Last push:\s+\d{4}-.*revision \d+/);
    expect(out).toMatch(/Last pull:\s+\d{4}-/);
    const s = JSON.parse(await cli('sync', 'src', 'status', '--json'));
    expect(s.remoteRevision).toBeGreaterThan(s.baseRevision);
    await cli('sync', 'src', 'pull');
    await cli('sync', 'src', 'push');
    const after = JSON.parse(await cli('sync', 'src', 'status', '--json'));
    expect(after.localPending).toEqual({});
    expect(after.remotePending).toEqual({});
    expect(after.baseRevision).toBe(after.remoteRevision);
  });

  it.runIf(existsSync('/usr/bin/script'))('shows progress on a terminal and stays quiet when piped', async () => {
    withAgent('src', (a) => a.paths.writeFile('/tty.bin', Buffer.alloc(300_000, 3)));
    const cmd = `TURSO_AUTH_TOKEN=${TOKEN} ${process.execPath} ${CLI} sync src push`;
    const tty = await run('/usr/bin/script', ['-qec', cmd, '/dev/null'], { cwd: tmp.dir });
    expect(tty.code).toBe(0);
    expect(tty.stdout).toMatch(/push \[.*\] \d+\/\d+ rows \| [\d.]+ MiB \| [\d.]+ MiB\/s/);
    withAgent('src', (a) => a.paths.writeFile('/piped.bin', Buffer.alloc(300_000, 4)));
    const piped = await runCli(['sync', 'src', 'push'], { cwd: tmp.dir, env });
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe('');
    expect(piped.stdout).toMatch(/^Pushed \d+ rows/);
  });
});
