import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'libsql';
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { CLI, run, runCli, tempDir } from '../support/cli.js';

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const meta = (db: string, key: string) => {
  const d = new Database(db);
  try {
    return (d.prepare('SELECT value FROM agentfs_meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  } finally {
    d.close();
  }
};

describe('agentfs init', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('creates .agentfs/<id>.db and reports it', async () => {
    const r = await runCli(['init', 'my-agent'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Agent ID: my-agent');
    expect(existsSync(join(dir, '.agentfs', 'my-agent.db'))).toBe(true);
  });

  it('defaults the id to agent-<timestamp>', async () => {
    const r = await runCli(['init'], { cwd: dir });
    expect(r.code).toBe(0);
    const id = /Agent ID: (agent-\d+)/.exec(r.stdout)?.[1];
    expect(id).toBeDefined();
    expect(existsSync(join(dir, '.agentfs', `${id}.db`))).toBe(true);
  });

  it('refuses to overwrite without --force, and overwrites with it', async () => {
    expect((await runCli(['init', 'a'], { cwd: dir })).code).toBe(0);
    await runCli(['kv', 'set', 'a', 'k', '1'], { cwd: dir });
    const db = join(dir, '.agentfs', 'a.db');
    const before = sha(db);
    const again = await runCli(['init', 'a'], { cwd: dir });
    expect(again.code).not.toBe(0);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toMatch(/already exists.*--force/);
    expect(sha(db)).toBe(before);
    const forced = await runCli(['init', 'a', '--force'], { cwd: dir });
    expect(forced.code).toBe(0);
    const d = new Database(db);
    expect(d.prepare('SELECT count(*) AS n FROM kv_store').get()).toMatchObject({ n: 0 });
    d.close();
  });

  it('accepts a path to a .db file instead of an id', async () => {
    const r = await runCli(['init', join(dir, 'sub', 'x.db')], { cwd: dir });
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, 'sub', 'x.db'))).toBe(true);
  });

  it('stores --base (absolute), --no-journal and --sync-remote-url', async () => {
    mkdirSync(join(dir, 'project'));
    const r = await runCli(['init', 'o', '--base', 'project', '--no-journal', '--sync-remote-url', 'libsql://db.example.turso.io'], { cwd: dir });
    expect(r.code).toBe(0);
    const db = join(dir, '.agentfs', 'o.db');
    expect(meta(db, 'overlay.base')).toBe(realpathSync(join(dir, 'project')));
    expect(meta(db, 'journal')).toBe('off');
    expect(meta(db, 'sync.remote_url')).toBe('libsql://db.example.turso.io');
  });

  it('refuses a --sync-remote-url carrying an authToken (the URL is stored in the database), creating nothing', async () => {
    const r = await runCli(['init', 'tok', '--sync-remote-url', 'http://127.0.0.1:9/?authToken=s3cret'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^agentfs: --sync-remote-url: .*authToken.*--auth-token.*\n$/);
    expect(r.stderr).not.toContain('s3cret');
    expect(existsSync(join(dir, '.agentfs', 'tok.db'))).toBe(false);
  });

  it('rejects a --base that is not a directory, creating nothing', async () => {
    writeFileSync(join(dir, 'file'), 'x');
    for (const base of ['nope', 'file']) {
      const r = await runCli(['init', 'b', '--base', base], { cwd: dir });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/^agentfs: --base .*not a directory\n$/);
    }
    expect(existsSync(join(dir, '.agentfs', 'b.db'))).toBe(false);
  });

  it('says so in one line when the current directory was removed', async () => {
    const script = `mkdir gone && cd gone && rmdir ../gone && exec '${process.execPath}' '${CLI}' init a`;
    const r = await run('sh', ['-c', script], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('agentfs: the current directory no longer exists (it was removed): cd to an existing directory\n');
  });

  it('rejects invalid ids and chunk sizes with one line', async () => {
    const bad = await runCli(['init', 'bad id!'], { cwd: dir });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/^agentfs: invalid agent id/);
    const cs = await runCli(['init', 'c', '--chunk-size', '12'], { cwd: dir });
    expect(cs.code).not.toBe(0);
    expect(cs.stderr).toMatch(/--chunk-size/);
    const typo = await runCli(['init', 'team/agent'], { cwd: dir });
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toBe("agentfs: 'team/agent' is neither an agent id nor a path ending in .db\n");
  });

  it('--force replaces an agent database but never a foreign file', async () => {
    writeFileSync(join(dir, 'notes.db'), 'my notes, not a database\n');
    const r = await runCli(['init', 'notes.db', '--force'], { cwd: dir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^agentfs: .*notes\.db is not a SQLite database.*\n$/);
    expect(readFileSync(join(dir, 'notes.db'), 'utf8')).toBe('my notes, not a database\n');
    expect((await runCli(['init', 'mine.db'], { cwd: dir })).code).toBe(0);
    expect((await runCli(['fs', 'write', 'mine.db', '/x', 'old'], { cwd: dir })).code).toBe(0);
    expect((await runCli(['init', 'mine.db', '--force'], { cwd: dir })).code).toBe(0);
    expect((await runCli(['fs', 'ls', 'mine.db'], { cwd: dir })).stdout).toBe('');
  });

  it('keeps a chosen chunk size', async () => {
    expect((await runCli(['init', 'big', '--chunk-size', '65536'], { cwd: dir })).code).toBe(0);
    const d = new Database(join(dir, '.agentfs', 'big.db'));
    expect(d.prepare("SELECT value FROM fs_config WHERE key = 'chunk_size'").get()).toMatchObject({ value: '65536' });
    d.close();
  });
});

describe('agentfs errors', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('an unknown agent id gets one clear line and a non-zero exit, creating nothing', async () => {
    const r = await runCli(['fs', 'ls', 'ghost'], { cwd: dir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^agentfs: no such agent 'ghost'.*agentfs init/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(dir, '.agentfs', 'ghost.db'))).toBe(false);
  });

  it('a foreign database gets one clear line and is not modified', async () => {
    const f = join(dir, 'app.db');
    const d = new Database(f);
    d.exec('CREATE TABLE users (id INTEGER PRIMARY KEY)');
    d.close();
    const before = sha(f);
    const r = await runCli(['kv', 'list', f], { cwd: dir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^agentfs: .*not an AgentFS database/);
    expect(sha(f)).toBe(before);
  });

  it('prints help for every command', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['init', 'fs', 'kv', 'mount', 'exec', 'run', 'ps', 'diff', 'commit', 'timeline', 'record', 'serve', 'sync', 'migrate']) {
      expect(r.stdout).toMatch(new RegExp(`^\\s+${c}\\b`, 'm'));
    }
  });
});
