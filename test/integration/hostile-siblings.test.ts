/**
 * Siblings of issue #10's hostile-input findings, found by attacking the fixed build from outside
 * the test suite: each case here failed before its fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, run, runCli, tempDir } from '../support/cli.js';
import { Agent } from '../../src/core/agent.js';

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = tempDir('agentfs-siblings-'));
});
afterAll(() => cleanup());

const cli = (...args: string[]) => runCli(args, { cwd: dir });
const sqlite = (db: string, sql: string) => run('sqlite3', [db, sql], { cwd: dir });

/** Another process holding a write transaction on db until release() is called. */
async function holdWriteLock(db: string): Promise<{ release: () => Promise<void> }> {
  const locker: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', `
    import Database from 'libsql';
    const db = new Database(${JSON.stringify(db)});
    db.exec("BEGIN IMMEDIATE; INSERT INTO kv_store (key, value) VALUES ('uncommitted', '1')");
    process.stdout.write('locked\\n');
    process.stdin.on('end', () => { db.exec('ROLLBACK'); db.close(); process.exit(0); });
    process.stdin.resume();
  `], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    locker.stdout!.once('data', () => resolve());
    locker.once('exit', (code) => reject(new Error(`locker exited ${code}`)));
  });
  return {
    release: async () => {
      locker.stdin!.end();
      await new Promise((r) => locker.once('close', r));
    },
  };
}

describe('sync status and stats only look (sibling of item 7)', () => {
  it('work while another process holds a write transaction; a writer is told the file is locked, not damaged', async () => {
    const db = join(dir, 'locked.db');
    const remote = join(dir, 'locked-remote.db');
    expect((await cli('init', db)).code).toBe(0);
    expect((await cli('fs', 'write', db, '/f', 'x')).code).toBe(0);
    expect((await cli('sync', 'push', db, '--remote', `file:${remote}`)).code).toBe(0);
    const lock = await holdWriteLock(db);
    try {
      for (const argv of [
        ['sync', 'status', db],
        ['sync', 'status', db, '--json'],
        ['sync', 'stats', db],
      ]) {
        const r = await cli(...argv);
        expect({ argv, stderr: r.stderr, code: r.code }).toEqual({ argv, stderr: '', code: 0 });
      }
      const w = await cli('kv', 'set', db, 'k', '1');
      expect(w.code).toBe(1);
      expect(w.stderr).toBe(`agentfs: ${db} is locked: another process holds a write transaction on it (waited 5 s); try again when it is done\n`);
    } finally {
      await lock.release();
    }
  });
});

export { Agent, sqlite };
