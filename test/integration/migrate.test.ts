import Database from 'libsql';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store, StoreError } from '../../src/store/index.js';
import { migrateDatabase } from '../../src/store/migrate.js';
import { runCli, tempDir } from '../support/cli.js';

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

/** A database as a SPEC v0.2 implementation wrote it: no rdev, no *_nsec, no whiteout/origin tables. */
function makeV02(file: string): void {
  const db = new Database(file);
  db.exec(`
    CREATE TABLE fs_config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE fs_inode (ino INTEGER PRIMARY KEY AUTOINCREMENT, mode INTEGER NOT NULL, nlink INTEGER NOT NULL DEFAULT 0,
      uid INTEGER NOT NULL DEFAULT 0, gid INTEGER NOT NULL DEFAULT 0, size INTEGER NOT NULL DEFAULT 0,
      atime INTEGER NOT NULL, mtime INTEGER NOT NULL, ctime INTEGER NOT NULL);
    CREATE TABLE fs_dentry (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, parent_ino INTEGER NOT NULL, ino INTEGER NOT NULL,
      UNIQUE(parent_ino, name));
    CREATE INDEX idx_fs_dentry_parent ON fs_dentry(parent_ino, name);
    CREATE TABLE fs_data (ino INTEGER NOT NULL, chunk_index INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (ino, chunk_index));
    CREATE TABLE fs_symlink (ino INTEGER PRIMARY KEY, target TEXT NOT NULL);
    CREATE TABLE kv_store (key TEXT PRIMARY KEY, value TEXT NOT NULL, created_at INTEGER DEFAULT (unixepoch()), updated_at INTEGER DEFAULT (unixepoch()));
    CREATE TABLE tool_calls (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, parameters TEXT, result TEXT, error TEXT,
      started_at INTEGER NOT NULL, completed_at INTEGER NOT NULL, duration_ms INTEGER NOT NULL);
    INSERT INTO fs_config VALUES ('chunk_size', '4096'), ('schema_version', '0.2');
    INSERT INTO fs_inode (ino, mode, nlink, uid, gid, size, atime, mtime, ctime) VALUES (1, 16877, 2, 0, 0, 0, 1700000000, 1700000000, 1700000000);
    INSERT INTO fs_inode (ino, mode, nlink, uid, gid, size, atime, mtime, ctime) VALUES (2, 33188, 1, 0, 0, 5, 1700000001, 1700000002, 1700000003);
    INSERT INTO fs_dentry (name, parent_ino, ino) VALUES ('old.txt', 1, 2);
  `);
  db.prepare('INSERT INTO fs_data (ino, chunk_index, data) VALUES (?, ?, ?)').run(2, 0, Buffer.from('hello'));
  db.close();
}

describe('agentfs migrate', () => {
  let dir: string;
  let cleanup: () => void;
  let file: string;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    file = join(dir, 'old.db');
    makeV02(file);
  });
  afterEach(() => cleanup());

  it('other commands refuse the old layout without touching it, pointing at migrate', async () => {
    const before = sha(file);
    const r = await runCli(['fs', 'ls', file]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/older AgentFS layout.*agentfs migrate/);
    expect(r.stderr.trim().split('\n').length).toBe(1);
    expect(sha(file)).toBe(before);
  });

  it('--dry-run prints the steps and changes nothing', async () => {
    const before = sha(file);
    const r = await runCli(['migrate', file, '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('schema 0.2 -> 0.4');
    expect(r.stdout).toContain('add column fs_inode.rdev');
    expect(r.stdout).toContain('add column fs_inode.atime_nsec');
    expect(r.stdout).toContain('create table fs_whiteout');
    expect(r.stdout).toContain('Dry run: nothing changed.');
    expect(sha(file)).toBe(before);
    expect(existsSync(`${file}-wal`)).toBe(false);
  });

  it('upgrades in place, keeps the data, and is idempotent', async () => {
    const r = await runCli(['migrate', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Done: \d+ steps applied/);
    const store = Store.open({ path: file });
    const cols = (store.db.prepare('PRAGMA table_info(fs_inode)').all() as { name: string }[]).map((c) => c.name);
    expect(cols).toEqual(['ino', 'mode', 'nlink', 'uid', 'gid', 'size', 'atime', 'mtime', 'ctime', 'rdev', 'atime_nsec', 'mtime_nsec', 'ctime_nsec']);
    expect(store.db.prepare("SELECT value FROM fs_config WHERE key = 'schema_version'").get()).toMatchObject({ value: '0.4' });
    expect(store.db.prepare('SELECT rdev, mtime, mtime_nsec FROM fs_inode WHERE ino = 2').get()).toMatchObject({ rdev: 0, mtime: 1700000002, mtime_nsec: 0 });
    expect(store.layout.outdated).toEqual([]);
    for (const t of ['fs_whiteout', 'fs_origin', 'agentfs_meta']) expect(store.layout.hasTable(t)).toBe(true);
    store.close();
    const cat = await runCli(['fs', 'cat', file, '/old.txt']);
    expect(cat.stdout).toBe('hello');
    const again = await runCli(['migrate', file]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('up to date');
    const before = sha(file);
    expect(migrateDatabase({ path: file }).applied).toBe(false);
    expect(sha(file)).toBe(before);
  });

  it('--json reports the plan', async () => {
    const r = await runCli(['migrate', file, '--dry-run', '--json']);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ from: '0.2', to: '0.4', applied: false, dryRun: true });
    expect(j.steps.length).toBeGreaterThan(4);
  });

  it('an unversioned old database without a root inode gets one', () => {
    const db = new Database(file);
    db.exec("DELETE FROM fs_config WHERE key = 'schema_version'; DELETE FROM fs_inode WHERE ino = 1");
    db.close();
    const r = migrateDatabase({ path: file });
    expect(r.from).toBeUndefined();
    expect(r.steps.map((s) => s.description)).toContain('create the root directory (inode 1)');
    const store = Store.open({ path: file });
    expect(store.db.prepare('SELECT mode, nlink FROM fs_inode WHERE ino = 1').get()).toMatchObject({ mode: 0o040755, nlink: 2 });
    store.close();
  });
});

describe('foreign and corrupt files are refused and never modified', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  const cases: [string, (f: string) => void, RegExp][] = [
    ['a text file', (f) => writeFileSync(f, 'just some text, not a database\n'.repeat(100)), /not a SQLite database/],
    ['an empty file', (f) => writeFileSync(f, ''), /empty/],
    [
      'another SQLite database',
      (f) => {
        const db = new Database(f);
        db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1, \'x\')');
        db.close();
      },
      /not an AgentFS database/,
    ],
    [
      'a corrupt AgentFS database',
      (f) => {
        const s = Store.open({ path: f }, { create: true });
        s.db.exec("PRAGMA journal_mode = DELETE");
        s.close();
        const buf = readFileSync(f);
        buf.fill(0xa5, 100, 4096); // smash the schema page after the header
        writeFileSync(f, buf);
      },
      /corrupt|not a database|malformed/i,
    ],
  ];

  for (const [what, make, message] of cases) {
    it(`${what}: every command fails with one line and leaves it byte-identical`, async () => {
      const f = join(dir, 'x.db');
      make(f);
      const before = sha(f);
      for (const args of [['fs', 'ls', f], ['fs', 'write', f, '/a', 'x'], ['migrate', f], ['migrate', f, '--dry-run']]) {
        const r = await runCli(args);
        expect(r.code, args.join(' ')).not.toBe(0);
        expect(r.stderr).toMatch(message);
        expect(r.stderr.trim().split('\n').length).toBe(1);
        expect(sha(f)).toBe(before);
      }
      expect(() => migrateDatabase({ path: f })).toThrow(StoreError);
      expect(sha(f)).toBe(before);
      expect(existsSync(`${f}-wal`)).toBe(false);
    });
  }
});
