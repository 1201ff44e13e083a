// Hostile checks of writeFile's one-statement create (ops/create-alone.ts): each compares what the
// route writes or says with what the transaction route (createWhole turned off) writes or says.
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, writeFileSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { TmpfsMounts } from '../support/tmpfs.js';
import { spawnSync } from 'node:child_process';
import { withTheirSdk } from '../support/agentfs-sdk-child.js';
import { ROOT, runCli } from '../support/cli.js';
import { countStatements } from '../support/statements.js';
import { agentWorkspace } from '../support/agent-workspace.js';
import { dumpSpecTables, startHranaServer } from '../support/hrana-server.js';
import { forceUnmount, mountBg, sh, waitFor } from '../support/fuse.js';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../../src/core/agent.js';
import { tempDir } from '../support/cli.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function fresh(opts: Parameters<typeof Agent.open>[1] = {}): { a: Agent; file: string; dir: string } {
  const t = tempDir();
  const file = join(t.dir, 'a.db');
  const a = Agent.open({ path: file }, { create: true, ...opts });
  cleanups.push(t.cleanup, () => a.close());
  return { a, file, dir: t.dir };
}

/** The one-statement route off for this agent: writeFile takes the transaction route. */
function routeOff(a: Agent): Agent {
  (a as unknown as { inode: { createWhole?: unknown } }).inode.createWhole = undefined;
  return a;
}

/** An agent with /d made and /d/warm written (the one-statement route then knows /d), that route off when `off`. */
function warmed(off: boolean, opts: Parameters<typeof Agent.open>[1] = {}): { a: Agent; file: string; dir: string } {
  const made = fresh(opts);
  if (off) routeOff(made.a);
  made.a.paths.mkdir('/d');
  made.a.paths.writeFile('/d/warm', 'x');
  return made;
}

const q = (a: Agent, sql: string, ...args: unknown[]) => a.store.db.prepare(sql).all(...args) as Record<string, unknown>[];

function outcome(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    return `${(e as { code?: string }).code ?? ''} ${(e as Error).message}`;
  }
}

describe('writeFile as one statement, against the transaction route', () => {
  it('bad names and paths get the same errors (too long, lone surrogate, dots, slashes, empty, NUL, relative)', () => {
    const names = ['x'.repeat(255), 'x'.repeat(256), 'é'.repeat(128), 'a\uD800b', '.', '..', 'f/', 'f//', '', 'a\0b', '\uDC00'];
    const paths = names.map((n) => `/d/${n}`).concat(['/d//g', '//d/h', 'd/rel', '/d/./i', '/d/../j', '/d/x/', '/']);
    const res: Record<string, string[]> = {};
    for (const off of [false, true]) {
      const { a } = warmed(off);
      for (const p of paths) (res[p] ??= []).push(outcome(() => a.paths.writeFile(p, 'c')));
      (res.tree ??= []).push(JSON.stringify(q(a, 'SELECT CAST(name AS BLOB) AS n, parent_ino AS p FROM fs_dentry ORDER BY id').map((r) => [String(r.n), r.p])));
    }
    for (const [p, [on, off]] of Object.entries(res)) expect(on, p).toBe(off);
  });

  it('0 bytes, a chunk, a chunk + 1 and more, with chunk sizes 4096, 1024, 65536: the same rows', () => {
    for (const cs of [4096, 1024, 65536]) {
      const rows: string[] = [];
      for (const off of [false, true]) {
        const { a } = warmed(off, { chunkSize: cs });
        for (const n of [0, 1, cs - 1, cs, cs + 1, 4096, 4097, 2 * cs]) {
          const { atime, mtime, ctime, ...got } = a.paths.writeFile(`/d/s${n}`, Buffer.alloc(n, 'z'));
          const { atime: a2, mtime: m2, ctime: c2, ...st } = a.paths.stat(`/d/s${n}`);
          expect(got).toEqual(st); // what writeFile returns is what stat says
          expect([atime, mtime, ctime]).toEqual([a2, m2, c2]);
          expect(a.paths.readFile(`/d/s${n}`).length).toBe(n);
        }
        rows.push(JSON.stringify(q(a, 'SELECT ino, chunk_index, length(data) AS l FROM fs_data ORDER BY ino, chunk_index')));
        rows.push(JSON.stringify(q(a, 'SELECT op, path, offset, length, bytes, writes, size, mode, uid, gid FROM agentfs_journal ORDER BY id')));
        rows.push(JSON.stringify(q(a, 'SELECT ino, mode, nlink, size FROM fs_inode ORDER BY ino')));
      }
      expect(rows[0]).toBe(rows[3]);
      expect(rows[1]).toBe(rows[4]);
      expect(rows[2]).toBe(rows[5]);
    }
  });

  it('odd modes (setuid, sticky, type bits, out of range, negative, fractional): the same modes or errors', () => {
    const rows: string[] = [];
    for (const off of [false, true]) {
      const { a } = warmed(off);
      for (const m of [0o4755, 0o2755, 0o1777, 0o100644, 0o40755, 0o777777, -1, 0.5]) {
        rows.push(outcome(() => a.paths.writeFile(`/d/m${m}`, 'q', { mode: m })));
      }
      rows.push(JSON.stringify(q(a, 'SELECT ino, mode FROM fs_inode ORDER BY ino')));
    }
    expect(rows.slice(0, rows.length / 2)).toEqual(rows.slice(rows.length / 2));
  });

  it('a read-only file and a read-only open: the same outcome', () => {
    const out: string[] = [];
    for (const off of [false, true]) {
      const { a, file } = fresh();
      a.paths.mkdir('/d');
      a.paths.writeFile('/d/warm', 'x');
      a.close();
      chmodSync(file, 0o444);
      const b = Agent.open({ path: file });
      cleanups.push(() => b.close());
      if (off) routeOff(b);
      out.push(outcome(() => b.paths.writeFile('/d/warm2', 'x')).replace(file, 'FILE'));
      const c = Agent.open({ path: file }, { readOnly: true });
      cleanups.push(() => c.close());
      if (off) routeOff(c);
      out.push(outcome(() => c.paths.writeFile('/d/warm3', 'x')).replace(file, 'FILE'));
    }
    expect(out.slice(0, 2)).toEqual(out.slice(2));
  });

  it('journals the path the file has, right after another connection moved its directory', () => {
    const res: string[] = [];
    for (const off of [false]) {
      const { a, file } = fresh();
      if (off) routeOff(a);
      const other = Agent.open({ path: file });
      cleanups.push(() => other.close());
      let wrong = 0;
      for (let i = 0; i < 30; i++) {
        a.paths.mkdir(`/x${i}/d`, { recursive: true });
        a.paths.writeFile(`/x${i}/d/one`, '1');
        other.paths.rename(`/x${i}/d`, `/d${i}`);
        a.paths.writeFile(`/d${i}/two`, '2');
        const [r] = q(a, "SELECT path FROM agentfs_journal WHERE op = 'create' ORDER BY id DESC LIMIT 1");
        if (r!.path !== `/d${i}/two`) wrong++;
      }
      res.push(`wrong ${wrong}`);
    }
    expect(res).toEqual(['wrong 0']);
  });

  it('a database agentfs-sdk made (its directories have nlink 1): the same rows', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const rows: string[] = [];
    for (const off of [false, true]) {
      const f = join(t.dir, `theirs${off}.db`);
      await withTheirSdk(f, `await agent.fs.mkdir('/d'); await agent.fs.writeFile('/d/theirs', 'x'); await agent.fs.writeFile('/top', 'y');`);
      const a = Agent.open({ path: f });
      cleanups.push(() => a.close());
      if (off) routeOff(a);
      a.paths.writeFile('/d/one', '1');
      a.paths.writeFile('/d/two', '2');
      a.paths.writeFile('/r1', '1');
      a.paths.writeFile('/r2', '2');
      rows.push(JSON.stringify(q(a, 'SELECT ino, mode, nlink, uid, gid, size FROM fs_inode ORDER BY ino')));
      rows.push(JSON.stringify(q(a, 'SELECT op, path, ino, size, bytes FROM agentfs_journal ORDER BY id')));
    }
    expect(rows[0]).toBe(rows[2]);
    expect(rows[1]).toBe(rows[3]);
  });

  it('an agent without a journal: the same rows', () => {
    const rows: string[] = [];
    for (const off of [false, true]) {
      const { a } = fresh({ journal: false });
      if (off) routeOff(a);
      a.paths.mkdir('/d');
      a.paths.writeFile('/d/a', 'x');
      a.paths.writeFile('/d/b', 'y');
      rows.push(JSON.stringify(q(a, 'SELECT ino, mode, nlink, size FROM fs_inode ORDER BY ino')));
      rows.push(JSON.stringify(q(a, "SELECT name FROM sqlite_master WHERE name LIKE '%journal%'")));
    }
    expect(rows[0]).toBe(rows[2]);
  });

  it('a database locked past the busy timeout: the same error, nothing written, the write works after', () => {
    const out: string[] = [];
    for (const off of [false, true]) {
      const { a, file } = warmed(off, { busyTimeoutMs: 200 });
      const other = Agent.open({ path: file });
      cleanups.push(() => other.close());
      other.store.db.exec('BEGIN IMMEDIATE');
      out.push(outcome(() => a.paths.writeFile('/d/new', 'x')).replace(file, 'FILE'));
      other.store.db.exec('ROLLBACK');
      out.push(outcome(() => a.paths.writeFile('/d/new', 'x')));
      out.push(JSON.stringify(q(a, "SELECT op, path FROM agentfs_journal WHERE path = '/d/new'")));
    }
    expect(out.slice(0, 3)).toEqual(out.slice(3));
  });

  it('a batch rolled back, then another connection takes the inode number: no stale size, content or journal path', () => {
    const out: string[] = [];
    for (const off of [false, true]) {
      const { a, file } = fresh();
      if (off) routeOff(a);
      const other = Agent.open({ path: file });
      cleanups.push(() => other.close());
      a.paths.mkdir('/d');
      a.paths.writeFile('/d/warm', 'x');
      try {
        a.paths.batch(() => {
          a.paths.writeFile('/d/gone', 'ab');
          throw new Error('abandon');
        });
      } catch {}
      other.paths.writeFile('/d/theirs', 'longer content here');
      other.paths.writeFile('/d/theirs2', 'longer content here');
      out.push(JSON.stringify({ ino: other.paths.stat('/d/theirs').ino, st: a.paths.stat('/d/theirs').size, blocks: a.paths.stat('/d/theirs').blocks, c: a.paths.readFile('/d/theirs', 'utf8') }));
      a.paths.appendFile('/d/theirs', '+');
      a.paths.writeFile('/d/mine', 'm');
      const theirs = other.paths.stat('/d/theirs').ino;
      const paths = q(a, 'SELECT DISTINCT path FROM agentfs_journal WHERE ino = ?', theirs).map((r) => r.path);
      expect(paths, `route off: ${off}`).toEqual(['/d/theirs']); // not the rolled-back file's path
      out.push(JSON.stringify(q(a, "SELECT op, path, ino FROM agentfs_journal WHERE id > (SELECT id FROM agentfs_journal WHERE path = '/d/warm' AND op = 'write') ORDER BY id")));
      out.push(a.paths.readFile('/d/theirs', 'utf8'));
    }
    expect(out.slice(0, 3)).toEqual(out.slice(3));
  });

  it('names through createParents (the SDK) and data views', () => {
    const names = ['x'.repeat(256), 'a\uD800b', '.', '..', 'f/', '', 'a\0b'];
    const paths = names.map((n) => `/d/${n}`).concat(['/d//g', 'd/rel', '/d/./i', '/d/../j', '/d/x/', '/', '/d/warm/k', '/nod/k']);
    const res: Record<string, string[]> = {};
    for (const off of [false, true]) {
      const { a } = warmed(off);
      for (const p of paths) (res[p] ??= []).push(outcome(() => a.paths.writeFile(p, 'c', { createParents: true })));
      const views: Record<string, Uint8Array> = {
        u16: new Uint16Array([1, 2, 3, 65535]) as unknown as Uint8Array,
        f64: new Float64Array([1.5, -2]) as unknown as Uint8Array,
        dv: new DataView(new ArrayBuffer(8), 2, 4) as unknown as Uint8Array,
        sub: new Uint8Array(Buffer.from('0123456789').buffer, 3, 4),
        u16big: new Uint16Array(3000) as unknown as Uint8Array,
      };
      for (const [k, v] of Object.entries(views)) {
        (res[k] ??= []).push(outcome(() => a.paths.writeFile(`/d/${k}`, v)));
        (res[k] ??= []).push(outcome(() => a.paths.readFile(`/d/${k}`).toString('hex')));
      }
      (res.tree ??= []).push(JSON.stringify(q(a, 'SELECT CAST(name AS BLOB) AS n, parent_ino AS p FROM fs_dentry ORDER BY id').map((r) => [String(r.n), r.p])));
    }
    for (const [p, [on, off]] of Object.entries(res)) expect(on, p).toBe(off);
  });

  it('writes while a walk of the same agent is in progress (a generator between its pages)', () => {
    const out: string[] = [];
    for (const off of [false, true]) {
      const { a } = fresh();
      if (off) routeOff(a);
      a.paths.mkdir('/src');
      a.paths.mkdir('/dst');
      a.paths.writeFile('/dst/warm', 'w');
      for (let i = 0; i < 300; i++) a.paths.writeFile(`/src/f${i}`, `${i}`);
      let n = 0;
      for (const e of a.paths.walk('/src')) {
        if (e.path === '/src') continue;
        out.push(outcome(() => a.paths.writeFile(`/dst/c${n++}`, 'copy')));
      }
      out.push(String(a.paths.readdir('/dst').length));
    }
    expect(out.slice(0, out.length / 2)).toEqual(out.slice(out.length / 2));
  });

  it('the same workload gives the same journal and `timeline --files` with the route on and off', async () => {
    const out: string[] = [];
    for (const off of [false, true]) {
      const { a, file } = fresh();
      if (off) routeOff(a);
      a.paths.mkdir('/d/e', { recursive: true });
      const call = a.tools.start('writer', { n: 1 });
      a.paths.writeFile('/d/a', 'x');
      a.paths.writeFile('/d/empty', '');
      a.paths.writeFile('/d/e/b', Buffer.alloc(4096, 1));
      a.paths.writeFile('/d/a', 'again'); // a replacement
      a.paths.writeFile('/top', 'root');
      a.tools.success(call, 'ok');
      a.paths.writeFile('/d/e/c', 'after the call', { mode: 0o600 });
      a.paths.appendFile('/d/e/c', '+');
      a.paths.writeFile('/d/big', Buffer.alloc(5000, 2));
      a.close();
      const b = Agent.open({ path: file });
      cleanups.push(() => b.close());
      out.push(
        JSON.stringify(
          q(b, 'SELECT op, path, new_path, ino, offset, length, bytes, writes, size, mode, uid, gid, tool_call_id, end_ns IS NULL AS open_end, end_ns = time_ns AS instant FROM agentfs_journal ORDER BY id'),
        ),
      );
      const tl = await runCli(['timeline', file, '--files', '--format', 'json']);
      expect(tl.code, tl.stderr).toBe(0);
      const entries = JSON.parse(tl.stdout) as Record<string, unknown>[];
      expect(entries.length).toBeGreaterThan(8);
      out.push(JSON.stringify(entries.map((e) => Object.fromEntries(Object.entries(e).filter(([k]) => !/time|ns|_at|pid|id$/.test(k))))));
    }
    expect(out[0]).toBe(out[2]);
    expect(out[1]).toBe(out[3]);
  });

  it("durability 'full': the same rows, the route taken", () => {
    const rows: string[] = [];
    for (const off of [false, true]) {
      const { a, file } = warmed(off, { durability: 'full' });
      const ran = countStatements(a.store, () => a.paths.writeFile('/d/f', 'y'));
      rows.push(String(ran.some((x) => /^BEGIN/.test(x))));
      a.close();
      const b = Agent.open({ path: file });
      cleanups.push(() => b.close());
      rows.push(b.paths.readFile('/d/f', 'utf8'));
    }
    expect(rows).toEqual(['false', 'y', 'true', 'y']);
  });

  it("a database without fs_inode's sqlite_sequence row: the numbers the transaction route gives", () => {
    const got: number[][] = [];
    for (const off of [false, true]) {
      const { a } = fresh();
      a.paths.mkdir('/d');
      a.paths.writeFile('/d/warm', 'x');
      a.paths.writeFile('/d/gone', 'y');
      a.paths.unlink('/d/gone');
      a.store.db.exec("DELETE FROM sqlite_sequence WHERE name = 'fs_inode'");
      const b = Agent.open({ path: a.store.path });
      cleanups.push(() => b.close());
      if (off) routeOff(b);
      got.push([1, 2, 3].map((i) => b.paths.writeFile(`/d/n${i}`, 'z').ino));
      const [seq] = q(b, "SELECT seq FROM sqlite_sequence WHERE name = 'fs_inode'");
      got.push([Number(seq!.seq)]);
    }
    expect(got[0]).toEqual(got[2]);
    expect(got[1]).toEqual(got[3]);
  });

  it('creates files at every depth the statement walks (1 to 33 levels): SQLite parses its check of the path', () => {
    const out: string[][] = [];
    for (const off of [false, true]) {
      const { a } = fresh();
      if (off) routeOff(a);
      const got: string[] = [];
      for (let d = 1; d <= 33; d++) {
        const p = '/' + Array.from({ length: d }, (_, i) => `l${i}`).join('/');
        a.paths.mkdir(p, { recursive: true });
        got.push(outcome(() => a.paths.writeFile(`${p}/f`, `${d}`)));
        const ran = countStatements(a.store, () => got.push(outcome(() => a.paths.writeFile(`${p}/g`, `${d}`)))); // the directory remembered
        // one statement down to 32 levels, the transaction route below
        got.push(String(ran.some((x) => /^BEGIN/.test(x))));
        expect(a.paths.readFile(`${p}/g`, 'utf8')).toBe(`${d}`);
      }
      out.push(got);
    }
    expect(out[0].filter((x) => x === 'true').length).toBe(1); // the 33rd level
    expect(out[1].filter((x) => x === 'true').length).toBe(33);
    expect(out[0].filter((x) => x !== 'true' && x !== 'false')).toEqual(out[1].filter((x) => x !== 'true' && x !== 'false'));
  });

  it('a path longer than PATH_MAX to directories that exist (built by a rename): ENAMETOOLONG, as the transaction route says', () => {
    const out: string[] = [];
    for (const off of [false, true]) {
      const { a } = fresh();
      if (off) routeOff(a);
      const long = Array.from({ length: 9 }, (_, i) => `${i}`.repeat(250)).join('/');
      a.paths.mkdir(`/A/${long}`, { recursive: true });
      a.paths.mkdir(`/B/${long}`, { recursive: true });
      a.paths.rename('/B', `/A/${long}/B`); // each path named here is short enough; the result is not
      const dir = `/A/${long}/B/${long}`;
      expect(Buffer.byteLength(dir)).toBeGreaterThan(4096);
      out.push(outcome(() => a.paths.writeFile(`${dir}/f`, 'x')).replace(/, open .*/, ''));
      out.push(String(q(a, "SELECT COUNT(*) AS n FROM fs_dentry WHERE name = 'f'")[0]!.n));
    }
    expect(out[0]).toMatch(/ENAMETOOLONG/);
    expect(out.slice(0, 2)).toEqual(out.slice(2));
  });
});

function writer(file: string, n: number, tag: string) {
  const script = `
const { AgentFS } = await import(${JSON.stringify(join(ROOT, 'dist', 'index.js'))});
const a = await AgentFS.open({ path: process.argv[1] });
for (let i = 0; i < ${n}; i++) await a.fs.writeFile('/d/s' + i, '${tag}' + i);
await a.close();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, '--', file], { stdio: ['ignore', 'inherit', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return new Promise<{ code: number | null; err: string }>((resolve) => child.on('exit', (code) => resolve({ code, err })));
}

describe('same names, several processes', () => {
  it('another connection keeps moving the directory away and making a new one while a process writes into it', async () => {
    const { a, file } = fresh();
    a.paths.mkdir('/d');
    let done = false;
    const w = writer(file, 400, 'w').then((r) => ((done = true), r));
    let moves = 0;
    while (!done) {
      try {
        a.paths.rename('/d', `/old${moves}`);
        moves++;
        a.paths.mkdir('/d');
      } catch {
        // the writer made /d itself (createParents) between the two
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(await w).toEqual({ code: 0, err: '' });
    expect(moves).toBeGreaterThan(3);
    const found = new Map<string, string>();
    for (const dir of ['/d', ...Array.from({ length: moves }, (_, i) => `/old${i}`)]) {
      for (const n of a.paths.readdir(dir)) {
        expect(found.has(n), n).toBe(false);
        found.set(n, a.paths.readFile(`${dir}/${n}`, 'utf8'));
      }
    }
    expect(found.size).toBe(400);
    for (const [n, c] of found) expect(c).toBe(n.replace('s', 'w'));
    const [d] = q(a, 'SELECT COUNT(*) AS n FROM fs_dentry WHERE parent_ino NOT IN (SELECT ino FROM fs_inode) OR ino NOT IN (SELECT ino FROM fs_inode)');
    const [i] = q(a, 'SELECT COUNT(*) AS n FROM fs_inode WHERE ino != 1 AND ino NOT IN (SELECT ino FROM fs_dentry)');
    expect([d!.n, i!.n]).toEqual([0, 0]);
    const [creates] = q(a, "SELECT COUNT(*) AS n FROM agentfs_journal WHERE op = 'create' AND path LIKE '/d/s%'");
    expect(creates!.n).toBe(400);
  });

  it('four processes write the same new names at once: one create each, the rest replace, no duplicate dentry', async () => {
    const { a, file } = fresh();
    a.paths.mkdir('/d');
    const res = await Promise.all(['p', 'q', 'r', 's'].map((t) => writer(file, 300, t)));
    expect(res).toEqual(res.map(() => ({ code: 0, err: '' })));
    const [dup] = q(a, 'SELECT COUNT(*) AS n FROM (SELECT parent_ino, name FROM fs_dentry GROUP BY parent_ino, name HAVING COUNT(*) > 1)');
    expect(dup!.n).toBe(0);
    expect(a.paths.readdir('/d').length).toBe(300);
    const [creates] = q(a, "SELECT COUNT(*) AS n FROM agentfs_journal WHERE op = 'create'");
    expect(creates!.n).toBe(300);
    for (let i = 0; i < 300; i++) expect(a.paths.readFile(`/d/s${i}`, 'utf8')).toMatch(new RegExp(`^[pqrs]${i}$`));
    const [dangling] = q(a, 'SELECT COUNT(*) AS n FROM fs_inode WHERE ino != 1 AND ino NOT IN (SELECT ino FROM fs_dentry)');
    expect(dangling!.n).toBe(0);
  });
});

describe('a live mount of the same agent', () => {
  it('renames with RENAME_EXCHANGE, a symlink and a file put where the directory was, through the mount', async () => {
    const { a, file, dir } = fresh();
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    const pid = await mountBg(file, mnt);
    cleanups.push(() => void forceUnmount(mnt, pid));
    try {
      a.paths.mkdir('/d');
      a.paths.mkdir('/e');
      a.paths.writeFile('/d/one', '1');
      const dIno = a.paths.stat('/d').ino;
      const eIno = a.paths.stat('/e').ino;
      const x = await sh(`python3 -c "import ctypes,sys; l=ctypes.CDLL(None,use_errno=True); sys.exit(l.renameat2(-100,b'd',-100,b'e',2))"`, mnt);
      expect(x.code).toBe(0);
      // the mount commits its changes in groups: wait until this connection sees each step
      expect(await waitFor(() => a.paths.stat('/d').ino === eIno)).toBe(true);
      a.paths.writeFile('/d/two', '2');
      expect(readdirSync(join(mnt, 'd'))).toEqual(['two']);
      expect(readdirSync(join(mnt, 'e'))).toEqual(['one']);
      expect(a.paths.stat('/e/one').ino).toBeGreaterThan(dIno);
      const y = await sh('mv d f && ln -s e d', mnt);
      expect(y.code).toBe(0);
      expect(await waitFor(() => a.paths.lstat('/d').ino !== eIno)).toBe(true);
      a.paths.writeFile('/d/three', '3');
      expect(readdirSync(join(mnt, 'e')).sort()).toEqual(['one', 'three']);
      const z = await sh('rm d && echo file > d', mnt);
      expect(z.code).toBe(0);
      expect(await waitFor(() => (a.paths.lstat('/d').mode & 0o170000) === 0o100000)).toBe(true);
      expect(() => a.paths.writeFile('/d/four', '4')).toThrow(/ENOTDIR/);
      const w = await sh('rm d && mkdir d && chmod 2777 d && chgrp 77 d', mnt);
      expect(w.code).toBe(0);
      expect(await waitFor(() => a.paths.lstat('/d').gid === 77)).toBe(true);
      a.paths.writeFile('/d/five', '5');
      expect(a.paths.stat('/d/five').gid).toBe(77);
      expect(readdirSync(join(mnt, 'd'))).toEqual(['five']);
    } finally {
      await forceUnmount(mnt, pid);
    }
  });

  it('the mount and an SDK process create files in one directory at once', async () => {
    const { a, file, dir } = fresh();
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    a.paths.mkdir('/d');
    const pid = await mountBg(file, mnt);
    cleanups.push(() => void forceUnmount(mnt, pid));
    try {
      const [m, s] = await Promise.all([
        sh('i=0; while [ $i -lt 300 ]; do echo m$i > d/m$i; i=$((i+1)); done', mnt),
        writer(file, 300, 'w'),
      ]);
      expect(m.code).toBe(0);
      expect(s).toEqual({ code: 0, err: '' });
      expect(readdirSync(join(mnt, 'd')).length).toBe(600);
    } finally {
      await forceUnmount(mnt, pid);
    }
    expect(a.paths.readdir('/d').length).toBe(600);
    const [dup] = q(a, 'SELECT COUNT(DISTINCT ino) AS n FROM fs_dentry WHERE parent_ino = (SELECT ino FROM fs_dentry WHERE parent_ino = 1 AND name = ?)', 'd');
    expect(dup!.n).toBe(600);
    const [creates] = q(a, "SELECT COUNT(*) AS n FROM agentfs_journal WHERE op = 'create' AND path LIKE '/d/%'");
    expect(creates!.n).toBe(600);
    for (let i = 0; i < 300; i++) expect(a.paths.readFile(`/d/s${i}`, 'utf8')).toBe(`w${i}`);
  });
});

describe('sync', () => {
  it('an incremental push carries files the one statement made (sync tracking sees its rows)', async () => {
    const TOKEN = 'alone-token';
    const { tmp, db, cli, withAgent } = agentWorkspace('agentfs-alone-sync-', { TURSO_AUTH_TOKEN: TOKEN });
    cleanups.push(tmp.cleanup);
    const server = await startHranaServer({ db: join(tmp.dir, 'remote.db'), token: TOKEN });
    try {
      await cli('init', 'src', '--sync-remote-url', server.url);
      withAgent('src', (a) => {
        a.paths.mkdir('/d');
        a.paths.writeFile('/d/warm', 'x');
      });
      await cli('sync', 'src', 'push');
      await cli('init', 'copy');
      await cli('sync', 'copy', 'pull', '--remote', server.url);
      withAgent('src', (a) => {
        const ran = countStatements(a.store, () => a.paths.writeFile('/d/warm2', 'x'));
        expect(ran.filter((x) => /^(BEGIN|COMMIT|SAVEPOINT)/.test(x))).toEqual([]); // the one-statement route was taken
        for (let i = 0; i < 20; i++) a.paths.writeFile(`/d/f${i}`, Buffer.alloc(i * 200, i));
        a.paths.writeFile('/d/full', Buffer.alloc(4096, 7));
      });
      const push = JSON.parse(await cli('sync', 'src', 'push', '--json'));
      expect(push.full).toBe(false);
      await cli('sync', 'copy', 'pull');
      const want = dumpSpecTables(db('src'));
      expect(dumpSpecTables(db('copy'))).toEqual(want);
      withAgent('copy', (a) => expect(a.paths.readFile('/d/f19')).toEqual(Buffer.alloc(3800, 19)));
    } finally {
      await server.stop();
    }
  });
});

describe('an overlay agent', () => {
  it('writes new small files into base directories and its own, the base untouched', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const base = join(t.dir, 'base');
    mkdirSync(join(base, 'src'), { recursive: true });
    writeFileSync(join(base, 'src', 'orig'), 'base');
    const file = join(t.dir, 'o.db');
    const init = await runCli(['init', file, '--base', base]);
    expect(init.code, init.stderr).toBe(0);
    const a = Agent.open({ path: file });
    cleanups.push(() => a.close());
    const other = Agent.open({ path: file });
    cleanups.push(() => other.close());
    for (let i = 0; i < 5; i++) a.paths.writeFile(`/src/n${i}`, `n${i}`);
    a.paths.mkdir('/own');
    a.paths.writeFile('/own/one', '1');
    other.paths.rename('/own', '/moved');
    other.paths.mkdir('/own');
    a.paths.writeFile('/own/two', '2');
    a.paths.writeFile('/src/orig', 'mine');
    expect(a.paths.readdir('/src').sort()).toEqual(['n0', 'n1', 'n2', 'n3', 'n4', 'orig']);
    expect(a.paths.readdir('/own')).toEqual(['two']);
    expect(a.paths.readdir('/moved')).toEqual(['one']);
    expect(a.paths.readFile('/src/orig', 'utf8')).toBe('mine');
    expect(readFileSync(join(base, 'src', 'orig'), 'utf8')).toBe('base');
    expect(readdirSync(join(base, 'src'))).toEqual(['orig']);
  });
});

/** A child holding the write lock: it makes /lock, says 'locked', waits holdMs, creates `theirs`, commits. */
function lockHolder(file: string, holdMs: number, theirs = '/d/theirs') {
  const script = `
const { Agent } = await import(${JSON.stringify(join(ROOT, 'dist', 'core', 'agent.js'))});
const a = Agent.open({ path: process.argv[1] });
a.paths.batch(() => {
  a.paths.mkdir('/lock');
  process.stdout.write('locked\\n');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${holdMs});
  a.paths.writeFile('${theirs}', 'theirs', { createParents: true });
});
a.close();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, '--', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const locked = new Promise<void>((resolve) => createInterface({ input: child.stdout! }).on('line', (l) => l === 'locked' && resolve()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { locked, exited };
}

describe('a writer holding the lock', () => {
  it.each([false, true])('a create that waited for the lock is stamped after what committed before it (route off: %s)', async (off) => {
    const { a, file } = warmed(off);
    const holder = lockHolder(file, 600);
    await holder.locked;
    a.paths.writeFile('/d/mine', 'mine'); // waits for the holder's commit
    expect(await holder.exited).toBe(0);
    const ns = (t: { sec: number; nsec: number }) => BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec);
    const theirs = a.paths.stat('/d/theirs');
    const mine = a.paths.stat('/d/mine');
    const dir = a.paths.stat('/d');
    expect(ns(mine.mtime) >= ns(theirs.mtime)).toBe(true);
    // the directory's times never go back
    expect(ns(dir.mtime) >= ns(theirs.mtime)).toBe(true);
    expect(ns(dir.ctime) >= ns(theirs.ctime)).toBe(true);
    const rows = q(a, "SELECT path, time_ns FROM agentfs_journal WHERE op = 'create' AND path IN ('/d/theirs', '/d/mine') ORDER BY id");
    expect(rows.map((r) => r.path)).toEqual(['/d/theirs', '/d/mine']);
    // rows are stamped in commit order (the timeline's time windows rely on it)
    expect(BigInt(rows[1]!.time_ns as number) >= BigInt(rows[0]!.time_ns as number)).toBe(true);
  });

  it('a create that waited while the holder wrote elsewhere keeps the journal in commit order', async () => {
    const { a, file } = fresh();
    a.paths.mkdir('/d');
    a.paths.writeFile('/d/warm', 'x');
    const holder = lockHolder(file, 600, '/elsewhere/theirs');
    await holder.locked;
    a.paths.writeFile('/d/mine', 'mine');
    expect(await holder.exited).toBe(0);
    const rows = q(a, "SELECT path, time_ns FROM agentfs_journal WHERE op = 'create' AND path IN ('/elsewhere/theirs', '/d/mine') ORDER BY id");
    expect(rows.map((r) => r.path)).toEqual(['/elsewhere/theirs', '/d/mine']);
    expect(BigInt(rows[1]!.time_ns as number) >= BigInt(rows[0]!.time_ns as number)).toBe(true);
    expect(a.paths.readFile('/d/mine', 'utf8')).toBe('mine');
  });
});

describe('a full disk', () => {
  it('says the same as the transaction route and writes nothing half', () => {
    const out: string[] = [];
    for (const off of [false, true]) {
      const t = tempDir();
      cleanups.push(t.cleanup);
      const small = join(t.dir, 'small');
      new TmpfsMounts().mount(small);
      // lazily: the closed connection may keep its file open (libsql cannot finalize statements)
      cleanups.push(() => void spawnSync('umount', ['-l', small]));
      const file = join(t.dir, 'small', 'a.db');
      const a = Agent.open({ path: file }, { create: true });
      cleanups.push(() => a.close());
      if (off) routeOff(a);
      a.paths.mkdir('/d');
      a.paths.writeFile('/d/warm', 'x');
      // fill the rest of the 16 MB
      const filler = join(t.dir, 'small', 'filler');
      try {
        writeFileSync(filler, Buffer.alloc(16 << 20));
      } catch {}
      let first = '';
      for (let i = 0; i < 2000 && !first; i++) {
        const r = outcome(() => a.paths.writeFile(`/d/f${i}`, Buffer.alloc(4000, i & 255)));
        if (r !== 'ok') first = `${i}: ${r}`;
      }
      out.push(first.replace(/^\d+/, 'N').replace(file, 'FILE'));
      const [dangling] = q(a, 'SELECT COUNT(*) AS n FROM fs_inode WHERE ino != 1 AND ino NOT IN (SELECT ino FROM fs_dentry)');
      out.push(String(dangling!.n));
      const [dents] = q(a, 'SELECT COUNT(*) AS n FROM fs_dentry WHERE ino NOT IN (SELECT ino FROM fs_inode)');
      out.push(String(dents!.n));
      const [j] = q(a, "SELECT COUNT(*) AS n FROM agentfs_journal WHERE op = 'create' AND path LIKE '/d/f%'");
      out.push(String(Number(j!.n) === a.paths.readdir('/d').length - 1));
    }
    expect(out[0]).toMatch(/full|ENOSPC/i); // the disk did fill up
    expect(out.slice(0, 4)).toEqual(out.slice(4));
  });
});
