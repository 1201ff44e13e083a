import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentFS, StoreError } from '../../src/index.js';
import { run, runCli, tempDir } from '../support/cli.js';

let dir: string;
let cleanup: () => void;
let cwd: string;

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  cwd = process.cwd();
  process.chdir(dir); // ids resolve under the current directory (vitest runs each file in a fork)
});

afterEach(() => {
  process.chdir(cwd);
  cleanup();
});

describe('AgentFS.open', () => {
  it('{ id } creates .agentfs/<id>.db under the current directory and reopens it', async () => {
    const a = await AgentFS.open({ id: 'my-agent' });
    expect(a.path).toBe(join(dir, '.agentfs', 'my-agent.db'));
    await a.fs.writeFile('/hello.txt', 'hi');
    await a.kv.set('k', { n: 1 });
    await a.tools.record('search', 1, 2, { q: 'x' }, { hits: 3 });
    await a.close();
    expect(existsSync(join(dir, '.agentfs', 'my-agent.db'))).toBe(true);

    const b = await AgentFS.open({ id: 'my-agent' });
    expect(await b.fs.readFile('/hello.txt', 'utf8')).toBe('hi');
    expect(await b.kv.get('k')).toEqual({ n: 1 });
    expect((await b.tools.list()).map((c) => c.name)).toEqual(['search']);
    await b.close();
  });

  it('{ path } opens a file anywhere; a relative path is taken from the current directory', async () => {
    mkdirSync('sub');
    const a = await AgentFS.open({ path: 'sub/state.db' });
    expect(a.path).toBe(join(dir, 'sub', 'state.db'));
    await a.fs.mkdir('/d');
    await a.close();
    const b = await AgentFS.open({ path: join(dir, 'sub', 'state.db') });
    expect((await b.fs.stat('/d')).isDirectory()).toBe(true);
    await b.close();
  });

  it('{} is in memory: nothing is written to disk and each open starts empty', async () => {
    const a = await AgentFS.open();
    expect(a.path).toBe(':memory:');
    await a.fs.writeFile('/x', 'y');
    expect(await a.fs.readdir('/')).toEqual(['x']);
    await a.close();
    const b = await AgentFS.open({});
    expect(await b.fs.readdir('/')).toEqual([]);
    await b.close();
    expect(existsSync(join(dir, '.agentfs'))).toBe(false);
  });

  it('create: false refuses a missing agent; bad ids and foreign files are refused untouched', async () => {
    await expect(AgentFS.open({ id: 'nobody', create: false })).rejects.toThrow(/nobody/);
    expect(existsSync(join(dir, '.agentfs', 'nobody.db'))).toBe(false);
    await expect(AgentFS.open({ id: '../escape' })).rejects.toThrow();
    writeFileSync('notes.db', 'just some text, not SQLite\n'.repeat(100));
    const err = await AgentFS.open({ path: 'notes.db' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as Error).message).toMatch(/not an? (AgentFS|SQLite)/i);
  });
});

describe('a FileHandle and another process', () => {
  it("keeps the file's data when another process removes it while the handle is open, and frees it at close", async () => {
    const a = await AgentFS.open({ id: 'held' });
    await a.fs.writeFile('/f', 'x'.repeat(10000));
    const h = await a.fs.open('/f', 'r+');
    const rm = await runCli(['fs', 'rm', 'held', '/f'], { cwd: dir });
    expect(rm.code, rm.stderr).toBe(0);
    expect(await a.fs.exists('/f')).toBe(false);
    expect((await h.pread(0, 10000)).toString()).toBe('x'.repeat(10000));
    await h.pwrite(0, 'y');
    expect((await h.pread(0, 2)).toString()).toBe('yx');
    await h.close();
    await a.close();
    // nothing of it is left behind: no inode, no chunks, no orphan or holder row
    const db = join(dir, '.agentfs', 'held.db');
    const count = async (sql: string) => Number((await run('sqlite3', [db, sql])).stdout.trim());
    expect(await count("SELECT COUNT(*) FROM fs_data")).toBe(0);
    expect(await count("SELECT COUNT(*) FROM fs_inode WHERE ino <> 1")).toBe(0);
    expect(await count("SELECT COUNT(*) FROM agentfs_fs_holder")).toBe(0);
  });
});
