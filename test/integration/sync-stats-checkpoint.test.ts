import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'libsql';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { run, runCli } from '../support/cli.js';
import { agentWorkspace } from '../support/agent-workspace.js';
import { dumpSpecTables, startHranaServer, type HranaServer } from '../support/hrana-server.js';
import { forceUnmount, mountBg, sh } from '../support/fuse.js';

const TOKEN = 'stats-secret-token';
const require = createRequire(import.meta.url);

interface Stats {
  remoteUrl: string | null;
  lastPush: string | null;
  lastPull: string | null;
  revisions: { local: number | null; pushedAbove: number[]; remote: number | null };
  pending: { files: number; entries: number; whiteouts: number; kvKeys: number; toolCalls: number; rows: number; firstPush: boolean };
  remotePending: number | null;
  pushes: number;
  pulls: number;
  bytesSent: number;
  bytesReceived: number;
  requests: number;
  conflictsResolved: number;
  interruptedPush: boolean;
  remote: { known: boolean; reason?: string };
}

/** Rows of our own sync bookkeeping that push and pull read: must survive a checkpoint as they are. */
function syncBookkeeping(file: string): string {
  const d = new Database(file, { readonly: true });
  try {
    const changes = d.prepare('SELECT tbl, k1, k2, gen FROM agentfs_sync_changes ORDER BY tbl, k1, k2').all();
    const gen = d.prepare('SELECT gen FROM agentfs_sync_gen').all();
    const meta = d.prepare("SELECT key, value FROM agentfs_meta WHERE key LIKE 'sync.%' AND key NOT IN ('sync.last_push', 'sync.last_pull', 'sync.remote_url') ORDER BY key").all();
    return JSON.stringify({ changes, gen, meta });
  } finally {
    d.close();
  }
}

function integrity(file: string): string {
  const d = new Database(file, { readonly: true });
  try {
    return String(Object.values(d.prepare('PRAGMA integrity_check').get() as Record<string, unknown>)[0]);
  } finally {
    d.close();
  }
}

/** Holds a read snapshot of a database while another connection writes to it; ends on stdin's end. */
const PIN_SCRIPT = `
const Database = require(${JSON.stringify(require.resolve('libsql'))});
const file = process.argv[1];
const pin = new Database(file);
pin.exec('BEGIN');
pin.prepare('SELECT count(*) FROM fs_inode').get();
const writer = new Database(file);
writer.prepare("UPDATE kv_store SET value = '\\"v2\\"' WHERE key = 'plan'").run();
process.stdout.write('ready\\n');
process.stdin.resume();
process.stdin.on('end', () => { pin.exec('COMMIT'); process.exit(0); });
`;

const size = (f: string) => (existsSync(f) ? statSync(f).size : 0);

describe('agentfs sync stats', () => {
  const env = { TURSO_AUTH_TOKEN: TOKEN };
  const { tmp, cli, withAgent } = agentWorkspace('agentfs-sync-stats-', env);
  let server: HranaServer;
  const stats = async (id: string, ...extra: string[]): Promise<Stats> => JSON.parse(await cli('sync', id, 'stats', ...extra)) as Stats;

  beforeAll(async () => {
    server = await startHranaServer({ db: join(tmp.dir, 'remote.db'), token: TOKEN });
  });
  afterAll(async () => {
    await server.stop();
    tmp.cleanup();
  });

  it('reports revisions, pending changes, times, traffic and resolved conflicts; never the token', async () => {
    // the token comes from the environment (init refuses a URL carrying one): stats never shows it
    await cli('init', 'a', '--sync-remote-url', server.url);
    withAgent('a', (a) => {
      a.paths.writeFile('/one.txt', 'one');
      a.paths.mkdir('/dir');
      a.kv.set('plan', 'v1');
      a.tools.record({ name: 'search', parameters: {}, result: 'r', started_at: 1, completed_at: 2 });
    });
    const raw = await cli('sync', 'a', 'stats', '--json');
    expect(raw).not.toContain(TOKEN);
    const s0 = JSON.parse(raw) as Stats;
    expect(s0.remote).toEqual({ known: true });
    expect(s0.remoteUrl).toContain(server.url);
    expect(s0).toMatchObject({ lastPush: null, lastPull: null, pushes: 0, pulls: 0, bytesSent: 0, bytesReceived: 0, conflictsResolved: 0 });
    expect(s0.revisions).toEqual({ local: null, pushedAbove: [], remote: 0 });
    expect(s0.pending).toMatchObject({ firstPush: true, files: 3, kvKeys: 1, toolCalls: 1 });

    await cli('sync', 'a', 'push');
    const s1 = await stats('a');
    expect(s1.revisions).toEqual({ local: 1, pushedAbove: [], remote: 1 });
    expect(s1.pending).toEqual({ files: 0, entries: 0, whiteouts: 0, kvKeys: 0, toolCalls: 0, rows: 0, firstPush: false });
    expect(s1.lastPush).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(s1.pushes).toBe(1);
    expect(s1.bytesSent).toBeGreaterThan(0);
    expect(s1.bytesReceived).toBeGreaterThan(0);
    expect(s1.remotePending).toBe(0);

    // another machine changes the same kv key; we change it too, plus a file and a tool call
    await cli('init', 'b');
    await cli('sync', 'b', 'pull', '--remote', server.url);
    withAgent('b', (b) => b.kv.set('plan', 'from b'));
    await cli('sync', 'b', 'push');
    withAgent('a', (a) => {
      a.kv.set('plan', 'from a');
      a.paths.writeFile('/one.txt', 'changed');
      a.tools.record({ name: 'fetch', parameters: {}, result: 'r', started_at: 3, completed_at: 4 });
    });
    const s2 = await stats('a');
    expect(s2.revisions).toEqual({ local: 1, pushedAbove: [], remote: 2 });
    expect(s2.pending).toMatchObject({ files: 1, kvKeys: 1, toolCalls: 1, firstPush: false });
    expect(s2.remotePending).toBeGreaterThan(0);

    expect(await cli('sync', 'a', 'pull', '--theirs')).toMatch(/Resolved 1 conflicts/);
    const s3 = await stats('a');
    expect(s3.conflictsResolved).toBe(1);
    expect(s3.pulls).toBe(1);
    expect(s3.lastPull).not.toBeNull();
    expect(s3.bytesReceived).toBeGreaterThan(s1.bytesReceived);
    expect(s3.revisions).toMatchObject({ local: 2, remote: 2 });
    expect(s3.pending).toMatchObject({ files: 1, kvKeys: 0, toolCalls: 1 });
    // stats is read-only: asking again changes nothing
    expect(await stats('a')).toEqual(s3);
  });

  it('without a reachable remote prints what it knows locally and says why the remote part is unknown', async () => {
    const local = await stats('a');
    const gone = await startHranaServer({ db: join(tmp.dir, 'gone.db') });
    await gone.stop();
    const r = await runCli(['sync', 'a', 'stats', '--remote', gone.url], { cwd: tmp.dir, env });
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as Stats;
    expect(s.remote.known).toBe(false);
    expect(s.remote.reason).toMatch(/cannot reach remote .*connection refused/);
    expect(s.revisions).toEqual({ ...local.revisions, remote: null });
    expect(s.remotePending).toBeNull();
    expect({ ...s, remote: null, remoteUrl: null, revisions: null, remotePending: null }).toEqual({ ...local, remote: null, remoteUrl: null, revisions: null, remotePending: null });

    // a remote that cannot even be asked
    const bad = JSON.parse(await cli('sync', 'a', 'stats', '--remote', 'ftp://example.com/db')) as Stats;
    expect(bad.remote).toEqual({ known: false, reason: expect.stringMatching(/invalid remote URL/) });
    expect(bad.pushes).toBe(local.pushes);

    // no remote configured at all
    await cli('init', 'lonely');
    const l = await stats('lonely');
    expect(l.remoteUrl).toBeNull();
    expect(l.remote).toEqual({ known: false, reason: expect.stringMatching(/no remote configured/) });
  });

  it('takes the action before or after the id, options anywhere', async () => {
    const want = await cli('sync', 'lonely', 'stats');
    expect(await cli('sync', 'stats', 'lonely')).toBe(want);
    expect(await cli('sync', '--json', 'lonely', 'stats')).toBe(want);
    expect(JSON.parse(await cli('sync', '--remote', server.url, 'a', 'stats')).remote).toEqual({ known: true });
  });

  it('does not hang on a remote that accepts connections and never answers', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const r = await runCli(['sync', 'a', 'stats', '--remote', `http://127.0.0.1:${port}`], { cwd: tmp.dir, env, timeoutMs: 60_000 });
      expect(r.signal, 'killed by the test timeout: stats hung').toBeNull();
      expect(r.code, r.stderr).toBe(0);
      const s = JSON.parse(r.stdout) as Stats;
      expect(s.remote.known).toBe(false);
      expect(s.remote.reason).toMatch(/did not answer/);
      expect(s.pushes).toBe(1);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});

describe('agentfs sync checkpoint', () => {
  const env = { TURSO_AUTH_TOKEN: TOKEN };
  const { tmp, db, cli, withAgent } = agentWorkspace('agentfs-sync-ckpt-', env);
  const servers: HranaServer[] = [];
  const start = async (file: string) => {
    const s = await startHranaServer({ db: file, token: TOKEN });
    servers.push(s);
    return s;
  };
  afterAll(async () => {
    for (const s of servers) await s.stop();
    tmp.cleanup();
  });

  const pinned = async (id: string) => {
    // in a child process of its own, so nothing this test process does to the file's
    // descriptors can drop its locks; stdin's end releases the snapshot
    const child = spawn(process.execPath, ['-e', PIN_SCRIPT, db(id)], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (c) => reject(new Error(`pin exited ${c}`)));
    });
    const exited = new Promise((r) => child.once('exit', r));
    return {
      release: () => child.stdin.end(),
      close: async () => {
        child.stdin.end();
        await exited;
      },
    };
  };

  it('shrinks the database and its WAL, and push and pull afterwards do exactly what they would have done', async () => {
    const remote1 = join(tmp.dir, 'remote1.db');
    let s1 = await start(remote1);
    await cli('init', 'a');
    withAgent('a', (a) => {
      a.paths.writeFile('/big.bin', Buffer.alloc(2 << 20, 7));
      a.paths.writeFile('/conflict.txt', 'v1');
      a.kv.set('plan', 'v1');
    });
    await cli('sync', 'a', 'push', '--remote', s1.url);
    await cli('init', 'b');
    await cli('sync', 'b', 'pull', '--remote', s1.url);
    // many tracked changes, then a push that clears them: the change log's pages are freed,
    // as are the big file's chunks
    withAgent('a', (a) => {
      for (let d = 0; d < 4; d++) a.paths.mkdir(`/many-${d}`);
      for (let i = 0; i < 400; i++) a.paths.writeFile(`/many-${i % 4}/${i}.txt`, `file ${i}`);
    });
    withAgent('a', (a) => a.paths.unlink('/big.bin'));
    await cli('sync', 'a', 'push', '--remote', s1.url);
    await cli('sync', 'b', 'pull', '--remote', s1.url);
    // both sides change /conflict.txt; a also has changes of its own; b pushes first
    withAgent('b', (b) => {
      b.paths.writeFile('/conflict.txt', 'from b');
      b.paths.writeFile('/b-only.txt', 'b');
    });
    await cli('sync', 'b', 'push', '--remote', s1.url);
    withAgent('a', (a) => {
      a.paths.writeFile('/conflict.txt', 'from a');
      a.paths.writeFile('/a-only.txt', 'a');
      a.kv.set('a-key', 1);
    });
    await s1.stop();

    // Two identical worlds: agent a / a2 and remote1 / remote2. Only a2 is checkpointed.
    // (Copied by a child process: closing a descriptor of the file here would drop the locks of
    // this process's own SQLite connections to it.)
    const remote2 = join(tmp.dir, 'remote2.db');
    for (const sfx of ['', '-wal']) {
      for (const [from, to] of [[remote1, remote2], [db('a'), db('a2')]]) {
        if (existsSync(from + sfx)) expect((await run('cp', [from + sfx, to + sfx])).code).toBe(0);
      }
    }
    // In each, a reader holds an older snapshot while another connection writes, as a live
    // mount would: the new WAL frames cannot be checkpointed while it reads (closing the CLI's
    // own connection leaves them).
    const pinA = await pinned('a');
    const pinA2 = await pinned('a2');
    s1 = await start(remote1);
    const s2 = await start(remote2);
    const statsOf = async (id: string, url: string) => ({ ...JSON.parse(await cli('sync', id, 'stats', '--remote', url)), remoteUrl: null });
    const statsBefore = await statsOf('a', s1.url);
    expect(size(db('a') + '-wal')).toBeGreaterThan(0);

    // (read from a2, not a: this process opened a before, and a fresh read of a here was seen to
    // miss the other process's last write now and then; a2 was never opened by this process)
    const bookkeeping = syncBookkeeping(db('a2'));
    expect(bookkeeping).toContain('"k1":"plan"');
    const before = { db: size(db('a2')), wal: size(db('a2') + '-wal') };
    expect(before.wal).toBeGreaterThan(0);
    // the checkpoint waits for a2's reader, which finishes meanwhile
    setTimeout(() => pinA2.release(), 500);
    const ck = JSON.parse(await cli('sync', 'a2', 'checkpoint', '--json'));
    await pinA2.close();
    expect(ck.walTruncated).toBe(true);
    expect(ck.notes).toEqual([]);
    expect(ck.pagesFreed).toBeGreaterThan(0);
    expect(ck.transfersFolded).toBeGreaterThan(0);
    expect(ck.before.walBytes).toBeGreaterThan(0);
    expect(size(db('a2') + '-wal')).toBe(0);
    expect(size(db('a2'))).toBeLessThan(before.db);
    expect(ck.after).toEqual({ databaseBytes: size(db('a2')), walBytes: 0 });
    await pinA.close();
    // what push and pull read is untouched; statistics read the same
    expect(syncBookkeeping(db('a2'))).toBe(bookkeeping);
    expect(await statsOf('a2', s2.url)).toEqual(statsBefore);
    expect(integrity(db('a2'))).toBe('ok');

    const both = async (args: string[]) => {
      const r1 = await runCli(['sync', 'a', ...args, '--remote', s1.url], { cwd: tmp.dir, env });
      const r2 = await runCli(['sync', 'a2', ...args, '--remote', s2.url], { cwd: tmp.dir, env });
      return [r1, r2] as const;
    };
    // conflict-aware as before: both refuse, naming the same conflict
    for (const action of ['push', 'pull']) {
      const [r1, r2] = await both([action]);
      expect(r1.code).not.toBe(0);
      expect(r1.stderr).toMatch(/conflict: .*\/conflict\.txt/);
      expect(r2.code).toBe(r1.code);
      expect(r2.stderr.replace(s2.url, 'URL')).toBe(r1.stderr.replace(s1.url, 'URL'));
    }
    const same = (r: string) => {
      const j = JSON.parse(r) as Record<string, unknown>;
      delete j.bytes;
      delete j.seconds;
      delete j.requests;
      return j;
    };
    // incremental as before, with the same outcome
    const [p1, p2] = await both(['pull', '--theirs', '--json']);
    expect(p1.code, p1.stderr).toBe(0);
    expect(same(p1.stdout)).toMatchObject({ full: false, conflictsResolved: 1 });
    expect(same(p2.stdout)).toEqual(same(p1.stdout));
    const [q1, q2] = await both(['push', '--json']);
    expect(q1.code, q1.stderr).toBe(0);
    expect(same(q1.stdout)).toMatchObject({ full: false, upToDate: false });
    expect(same(q1.stdout).rows).toBeLessThan(20);
    expect(same(q2.stdout)).toEqual(same(q1.stdout));
    expect(dumpSpecTables(db('a2'))).toEqual(dumpSpecTables(db('a')));
    expect(dumpSpecTables(remote2)).toEqual(dumpSpecTables(remote1));
    withAgent('a2', (a) => {
      expect(a.paths.readFile('/conflict.txt', 'utf8')).toBe('from b');
      expect(a.paths.readFile('/a-only.txt', 'utf8')).toBe('a');
      expect(a.paths.readFile('/b-only.txt', 'utf8')).toBe('b');
    });
    const [u1, u2] = await both(['push']);
    expect(u1.stdout).toMatch(/Everything up to date/);
    expect(u2.stdout.replace(s2.url, 'URL')).toBe(u1.stdout.replace(s1.url, 'URL'));
    // statistics go on from where they were
    const after = JSON.parse(await cli('sync', 'a2', 'stats', '--remote', s2.url));
    expect(after.pushes).toBe(statsBefore.pushes + 1);
    expect(after.pulls).toBe(statsBefore.pulls + 1);
    expect(after.conflictsResolved).toBe(statsBefore.conflictsResolved + 1);
  });

  it('is safe while the agent is mounted: the mount keeps working and nothing is lost', async () => {
    const s = await start(join(tmp.dir, 'remote-m.db'));
    await cli('init', 'm', '--sync-remote-url', s.url);
    withAgent('m', (a) => {
      for (let i = 0; i < 200; i++) a.paths.writeFile(`/f${i}.txt`, `file ${i}`);
    });
    await cli('sync', 'm', 'push');
    withAgent('m', (a) => {
      for (let i = 0; i < 200; i += 2) a.paths.unlink(`/f${i}.txt`);
    });
    const mnt = join(tmp.dir, 'mnt');
    mkdirSync(mnt);
    const pid = await mountBg(db('m'), mnt);
    try {
      const w = await sh('echo through-mount > live.txt && cat f1.txt', mnt);
      expect(w.stdout).toBe('file 1');
      const r = await runCli(['sync', 'm', 'checkpoint', '--json'], { cwd: tmp.dir, env });
      expect(r.code, r.stderr).toBe(0);
      const ck = JSON.parse(r.stdout);
      expect(ck.walTruncated).toBe(true);
      expect(ck.pagesFreed).toBeGreaterThan(0);
      const after = await sh('cat live.txt && echo more > later.txt && ls | wc -l', mnt);
      expect(after.code, after.stderr).toBe(0);
      expect(after.stdout).toBe('through-mount\n102\n');
    } finally {
      await forceUnmount(mnt, pid);
    }
    expect(integrity(db('m'))).toBe('ok');
    withAgent('m', (a) => {
      expect(a.paths.readFile('/live.txt', 'utf8')).toBe('through-mount\n');
      expect(a.paths.readFile('/later.txt', 'utf8')).toBe('more\n');
    });
    const push = JSON.parse(await cli('sync', 'm', 'push', '--json'));
    expect(push).toMatchObject({ full: false, upToDate: false });
    expect(dumpSpecTables(join(tmp.dir, 'remote-m.db')).fs_dentry).toEqual(dumpSpecTables(db('m')).fs_dentry);
  });

  it('says why, in one line, when another connection keeps the WAL busy past the timeout; the rest is done', async () => {
    await cli('init', 'busy');
    withAgent('busy', (a) => {
      a.kv.set('plan', 'v1');
      a.paths.writeFile('/big.bin', Buffer.alloc(1 << 20, 1));
      a.paths.unlink('/big.bin');
    });
    const pin = await pinned('busy');
    try {
      const r = await runCli(['sync', 'busy', 'checkpoint', '--busy-timeout', '200', '--json'], { cwd: tmp.dir, env });
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^agentfs: WAL not truncated: .*busy timeout/);
      const ck = JSON.parse(r.stdout);
      expect(ck.walTruncated).toBe(false);
      expect(size(db('busy') + '-wal')).toBeGreaterThan(0);
    } finally {
      await pin.close();
    }
    const ck = JSON.parse(await cli('sync', 'busy', 'checkpoint', '--json'));
    expect(ck.walTruncated).toBe(true);
    expect(size(db('busy') + '-wal')).toBe(0);
    expect(integrity(db('busy'))).toBe('ok');
    // the other connection's write is kept (read by a process of its own, see above)
    expect((await cli('kv', 'get', 'busy', 'plan')).trim()).toBe('v2');
  });

  it('bad input: one line, non-zero exit', async () => {
    await cli('init', 'bad');
    for (const [args, want] of [
      [['sync', 'bad', 'checkpoint', '--busy-timeout', 'soon'], /invalid --busy-timeout 'soon'/],
      [['sync', 'nope', 'checkpoint'], /no such agent 'nope'/],
      [['sync', 'bad', 'stats', '--theirs'], /--theirs applies to pull only/],
      [['sync', 'bad'], /missing sync action/],
    ] as const) {
      const r = await runCli([...args], { cwd: tmp.dir, env });
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^agentfs: /);
      expect(r.stderr).toMatch(want);
    }
  });

  it('refuses to compact a damaged database, in one line, and leaves it as it was', async () => {
    await cli('init', 'scribbled');
    await cli('sync', 'scribbled', 'checkpoint'); // the sync bookkeeping exists (a first writing sync command adds its tables)
    const file = join(tmp.dir, '.agentfs', 'scribbled.db');
    const fd = openSync(file, 'r+');
    // scribble over pages 4-8 (the schema on page 1 stays: it opens, and a checkpoint alone would not notice)
    for (let p = 3; p < 8; p++) writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, p * 4096);
    closeSync(fd);
    const before = readFileSync(file);
    const r = await runCli(['sync', 'scribbled', 'checkpoint'], { cwd: tmp.dir, env });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^agentfs: .*(damaged|malformed)/);
    expect(readFileSync(file).equals(before)).toBe(true);
  });
});
