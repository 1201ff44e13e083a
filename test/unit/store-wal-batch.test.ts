import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../src/store/store.js';
import { enableWalBatching } from '../../src/store/wal-batch.js';
import { tempDir } from '../support/cli.js';
import { TmpfsMounts } from '../support/tmpfs.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const STORE = join(ROOT, 'dist', 'store', 'store.js');
const isRoot = process.getuid?.() === 0;

/** A child that opens `file` with the store's own open and runs `body` (db, file) in it. */
function childScript(dir: string, name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    `import { readFileSync } from 'node:fs';
const { openDatabase } = await import(${JSON.stringify(STORE)});
const syscw = () => Number(/syscw: (\\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))[1]);
const file = process.argv[2];
const db = openDatabase(file, false);
db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0');
${body}
`,
  );
  return file;
}

const integrity = (file: string) => {
  const db = openDatabase(file, false);
  try {
    return (db.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check;
  } finally {
    db.close();
  }
};

describe('WAL appends gathered into few writes (native/walbatch)', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('loads, and a transaction of 4 MiB writes its WAL in a few dozen calls instead of two a page', () => {
    expect(enableWalBatching()).toBe(true);
    const script = childScript(
      dir,
      'big.mjs',
      `db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)');
const ins = db.prepare('INSERT INTO t VALUES (?, ?)');
const w0 = syscw();
db.exec('BEGIN');
for (let i = 0; i < 1024; i++) ins.run(i, Buffer.alloc(4096, i & 255));
db.exec('COMMIT');
process.stdout.write(String(syscw() - w0));`,
    );
    const writes = (batch: string) => {
      const r = spawnSync(process.execPath, [script, join(dir, `big-${batch}.db`)], { encoding: 'utf8', env: { ...process.env, AGENTFS_WAL_BATCH: batch } });
      expect(r.stderr).toBe('');
      return Number(r.stdout);
    };
    const off = writes('0');
    const on = writes('1');
    // ~1,150 frames: two writes each unbatched, ~30 frames a write batched
    expect(off).toBeGreaterThan(2000);
    expect(on).toBeLessThan(off / 10);
    for (const b of ['0', '1']) {
      const db = openDatabase(join(dir, `big-${b}.db`), false);
      const r = db.prepare('SELECT count(*) n, sum(length(v)) s, sum(unicode(v)) u FROM t').get() as { n: number; s: number; u: number };
      db.close();
      expect(r).toMatchObject({ n: 1024, s: 4096 * 1024 });
      expect(integrity(join(dir, `big-${b}.db`))).toBe('ok');
    }
  });

  it("a rolled-back transaction's spilled frames reach the file before another writer may append there", () => {
    // A spills a few pages into the WAL (a tiny page cache), held by the extension, and rolls
    // back; another process then commits into the same WAL offsets; A's next commit must not
    // write the held frames over it (they would be written out at A's next append otherwise)
    expect(enableWalBatching()).toBe(true);
    const file = join(dir, 'spill.db');
    const a = openDatabase(file, false);
    a.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = 10');
    a.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, who TEXT, v BLOB)');
    const insA = a.prepare('INSERT INTO t VALUES (?, ?, ?)');
    const other = childScript(
      dir,
      'other.mjs',
      `const ins = db.prepare('INSERT INTO t VALUES (?, ?, ?)');
const from = Number(process.argv[3]);
db.exec('BEGIN');
for (let i = 0; i < 8; i++) ins.run(from + i, 'b', Buffer.alloc(3000, 98));
db.exec('COMMIT');
db.close();`,
    );
    for (let round = 0; round < 5; round++) {
      // an empty WAL: the rollback reloads its pages from the database file, reading no frame
      // (a read of the WAL would write the held frames out on its own)
      a.exec('PRAGMA wal_checkpoint(TRUNCATE)');
      a.exec('BEGIN');
      // ~13 frames spilled: all of them held (up to 30 are)
      for (let i = 0; i < 20; i++) insA.run(100000 + round * 1000 + i, 'rolled back', Buffer.alloc(3000, 120));
      a.exec('ROLLBACK');
      const r = spawnSync(process.execPath, [other, file, String(round * 100)], { encoding: 'utf8', env: { ...process.env, AGENTFS_WAL_BATCH: '0' } });
      expect(r.status, r.stderr).toBe(0);
      a.exec('BEGIN');
      for (let i = 0; i < 8; i++) insA.run(50000 + round * 100 + i, 'a', Buffer.alloc(3000, 97));
      a.exec('COMMIT');
    }
    const rows = a.prepare('SELECT who, v FROM t ORDER BY k').all() as { who: string; v: Uint8Array }[];
    a.close();
    expect(rows.filter((r) => r.who === 'a')).toHaveLength(40);
    expect(rows.filter((r) => r.who === 'b')).toHaveLength(40);
    for (const r of rows) expect(Buffer.from(r.v).equals(Buffer.alloc(3000, r.who === 'a' ? 97 : 98)), `a row of ${r.who}`).toBe(true);
    expect(integrity(file)).toBe('ok');
  });

  it('a writer killed at any moment leaves every commit it reported, and a sound file', async () => {
    // commits of 1 to 200 pages: some fit what the extension holds, some take several writes;
    // with a small page cache every third spills and then writes its spilled pages again, so
    // SQLite rewrites the frame headers at the commit (walRewriteChecksums)
    const script = childScript(
      dir,
      'loop.mjs',
      `db.exec('PRAGMA cache_size = 20; CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v BLOB)');
const ins = db.prepare('INSERT INTO t VALUES (?, ?)');
const upd = db.prepare('UPDATE t SET v = ? WHERE k >= ? AND k < ?');
for (let k = 0; ; k++) {
  const n = 1 + (k * 37) % 200;
  db.exec('BEGIN');
  for (let i = 0; i < n; i++) ins.run(k * 1000 + i, Buffer.alloc(4000, k & 255));
  if (k % 3 === 0) upd.run(Buffer.alloc(4000, k & 255), k * 1000, k * 1000 + n);
  db.exec('COMMIT');
  process.stdout.write(k + '\\n');
}`,
    );
    const file = join(dir, 'killed.db');
    let reported = -1;
    for (let round = 0; round < 6; round++) {
      const child = spawn(process.execPath, [script, file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AGENTFS_WAL_BATCH: '1' } });
      let out = '';
      const started = new Promise((r) => child.stdout.once('data', r));
      child.stdout.on('data', (d) => (out += d));
      await started;
      await new Promise((r) => setTimeout(r, 20 + round * 45));
      child.kill('SIGKILL');
      await new Promise((r) => child.on('close', r));
      const lines = out.trim().split('\n').filter(Boolean);
      if (lines.length) reported = Number(lines[lines.length - 1]);
      expect(integrity(file)).toBe('ok');
      const db = openDatabase(file, false);
      const ks = db.prepare('SELECT k / 1000 AS k, count(*) n FROM t GROUP BY k / 1000').all() as { k: number; n: number }[];
      db.close();
      const have = new Map(ks.map((r) => [r.k, r.n]));
      // every commit the writer reported is there, and no commit is there in part
      for (const line of lines) {
        const k = Number(line);
        expect(have.get(k), `commit ${k} of round ${round}`).toBe(1 + (k * 37) % 200);
      }
      for (const [k, n] of have) expect(n, `commit ${k} whole`).toBe(1 + (k * 37) % 200);
      const clear = openDatabase(file, false);
      clear.exec('DELETE FROM t');
      clear.close();
    }
    expect(reported).toBeGreaterThan(0);
  });

  it.skipIf(!isRoot)('out of space: a commit the file cannot take fails, and what committed before is whole', () => {
    const mounts = new TmpfsMounts();
    const at = join(dir, 'small');
    mkdirSync(at);
    mounts.mount(at);
    try {
      const script = childScript(
        dir,
        'full.mjs',
        `db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)');
const ins = db.prepare('INSERT INTO t VALUES (?, ?)');
let ok = 0;
let error = '';
for (let k = 0; k < 10000 && !error; k++) {
  try {
    db.exec('BEGIN');
    for (let i = 0; i < 20; i++) ins.run(k * 100 + i, Buffer.alloc(4000, 7));
    db.exec('COMMIT');
    ok = k + 1;
  } catch (e) {
    error = e.code ?? String(e);
    try { db.exec('ROLLBACK'); } catch {}
  }
}
process.stdout.write(JSON.stringify({ ok, error }));`,
      );
      const checker = join(dir, 'check.mjs');
      writeFileSync(
        checker,
        `const { openDatabase } = await import(${JSON.stringify(STORE)});
const db = openDatabase(process.argv[2], false);
const integrity = db.prepare('PRAGMA integrity_check').get().integrity_check;
process.stdout.write(JSON.stringify({ integrity, rows: db.prepare('SELECT count(*) n FROM t').get().n }));`,
      );
      for (const batch of ['1', '0']) {
        const file = join(at, `full-${batch}.db`);
        const filler = join(at, 'filler');
        writeFileSync(filler, Buffer.alloc(2 << 20));
        const r = spawnSync(process.execPath, [script, file], { encoding: 'utf8', env: { ...process.env, AGENTFS_WAL_BATCH: batch } });
        expect(r.status, r.stderr).toBe(0);
        const { ok, error } = JSON.parse(r.stdout) as { ok: number; error: string };
        // the WAL's append or the wal-index's growth fails first, as without the extension
        expect(error).toMatch(/^SQLITE_(FULL|IOERR)/);
        expect(ok).toBeGreaterThan(10);
        rmSync(filler); // room again: the file is opened, checked and read as a user would after freeing some
        // in a process of its own: a connection of libsql keeps its files open past close() while a
        // statement of it lives, and this tmpfs must be unmounted after
        const check = spawnSync(process.execPath, [checker, file], { encoding: 'utf8' });
        expect(check.status, check.stderr).toBe(0);
        expect(JSON.parse(check.stdout), `batch ${batch}`).toEqual({ integrity: 'ok', rows: ok * 20 });
        rmSync(file, { force: true });
        rmSync(`${file}-wal`, { force: true });
        rmSync(`${file}-shm`, { force: true });
      }
    } finally {
      mounts.unmountAll();
    }
  });
});
