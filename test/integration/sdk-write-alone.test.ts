// writeFile's one-statement create (ops/create-alone.ts): a new file with its rows and journal rows
// in one self-committing statement, into a directory remembered from an earlier write. Whatever
// another connection or process changed since (the directory moved, replaced, chmod'ed, removed;
// the name taken; inode numbers given), the file lands where the path names it, as the
// transaction route would put it, and nothing is left half-written.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent } from '../../src/core/agent.js';
import { ROOT, tempDir } from '../support/cli.js';
import { countStatements } from '../support/statements.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

/** An agent on a fresh file, and a second connection to the same file (another writer). */
function pair(): { a: Agent; other: Agent; file: string } {
  const t = tempDir();
  const file = join(t.dir, 'a.db');
  const a = Agent.open({ path: file }, { create: true });
  const other = Agent.open({ path: file });
  cleanups.push(t.cleanup, () => a.close(), () => other.close());
  return { a, other, file };
}

const q = (a: Agent, sql: string, ...args: unknown[]) => a.store.db.prepare(sql).all(...args) as Record<string, unknown>[];

/** dentries whose directory is gone, inodes no dentry names (open files aside: none here) */
function danglingRows(a: Agent): number {
  const [d] = q(a, 'SELECT COUNT(*) AS n FROM fs_dentry WHERE parent_ino NOT IN (SELECT ino FROM fs_inode) OR ino NOT IN (SELECT ino FROM fs_inode)');
  const [i] = q(a, 'SELECT COUNT(*) AS n FROM fs_inode WHERE ino != 1 AND ino NOT IN (SELECT ino FROM fs_dentry)');
  return Number(d!.n) + Number(i!.n);
}

describe('writeFile as one statement', () => {
  it('creates a new file in a directory written to before with one statement, rows as the transaction route writes them', () => {
    const { a } = pair();
    a.paths.mkdir('/d');
    a.paths.writeFile('/d/warm', 'x');
    const data = Buffer.alloc(4096, 'a');
    const ran = countStatements(a.store, () => a.paths.writeFile('/d/f', data));
    // the insert, maybe the journal's data_version check (at most once a millisecond)
    expect(ran.length).toBeLessThanOrEqual(2);
    expect(ran.filter((s) => /BEGIN|COMMIT|SAVEPOINT/.test(s))).toEqual([]);
    expect(a.paths.readFile('/d/f')).toEqual(data);
    const journal = q(a, "SELECT op, path, size, bytes FROM agentfs_journal WHERE path = '/d/f' ORDER BY id");
    expect(journal).toEqual([
      { op: 'create', path: '/d/f', size: null, bytes: null },
      { op: 'write', path: '/d/f', size: 4096, bytes: 4096 },
    ]);
    const [dir] = q(a, "SELECT mtime, mtime_nsec FROM fs_inode WHERE ino = (SELECT ino FROM fs_dentry WHERE parent_ino = 1 AND name = 'd')");
    const st = a.paths.stat('/d/f');
    expect([dir!.mtime, dir!.mtime_nsec]).toEqual([st.mtime.sec, st.mtime.nsec]); // the directory's times moved with it
  });

  it('follows the directory when another connection moved it away and made a new one at its path', () => {
    const { a, other } = pair();
    a.paths.mkdir('/p/d', { recursive: true });
    a.paths.writeFile('/p/d/one', '1');
    other.paths.rename('/p/d', '/moved');
    other.paths.mkdir('/p/d');
    a.paths.writeFile('/p/d/two', '2');
    // an ancestor moved too
    other.paths.rename('/p', '/q');
    other.paths.mkdir('/p/d', { recursive: true });
    a.paths.writeFile('/p/d/three', '3');
    expect(a.paths.readdir('/moved')).toEqual(['one']);
    expect(a.paths.readdir('/q/d')).toEqual(['two']);
    expect(a.paths.readdir('/p/d')).toEqual(['three']);
    expect(danglingRows(a)).toBe(0);
  });

  it('takes a directory chmod and chgrp by another connection into account (setgid gives the new group)', () => {
    const { a, other } = pair();
    a.paths.mkdir('/d');
    a.paths.writeFile('/d/one', '1');
    other.paths.chown('/d', other.paths.stat('/d').uid, 4242);
    other.paths.chmod('/d', 0o2775);
    a.paths.writeFile('/d/two', '2');
    expect(a.paths.stat('/d/two').gid).toBe(4242);
    expect(a.paths.stat('/d/one').gid).not.toBe(4242);
  });

  it('writes nothing into a directory another connection removed, and says ENOENT', () => {
    const { a, other } = pair();
    a.paths.mkdir('/d');
    a.paths.writeFile('/d/one', '1');
    other.paths.unlink('/d/one');
    other.paths.rmdir('/d');
    expect(() => a.paths.writeFile('/d/two', '2')).toThrow(/ENOENT/);
    expect(danglingRows(a)).toBe(0);
    a.paths.writeFile('/d/three', '3', { createParents: true });
    expect(a.paths.readdir('/d')).toEqual(['three']);
  });

  it('replaces a file another connection made at the name meanwhile (same inode, new content)', () => {
    const { a, other } = pair();
    a.paths.mkdir('/d');
    a.paths.writeFile('/d/one', '1');
    other.paths.writeFile('/d/two', 'theirs, longer than ours');
    const ino = other.paths.stat('/d/two').ino;
    a.paths.writeFile('/d/two', 'ours');
    expect(a.paths.readFile('/d/two', 'utf8')).toBe('ours');
    expect(a.paths.stat('/d/two').ino).toBe(ino);
    // and again, now that the name is known to be taken: the transaction route at once
    a.paths.writeFile('/d/two', 'ours again');
    expect(other.paths.readFile('/d/two', 'utf8')).toBe('ours again');
  });

  it('never gives an inode number twice, whoever made the inodes in between (AUTOINCREMENT as the spec has it)', () => {
    const { a, other } = pair();
    a.paths.mkdir('/d');
    a.paths.writeFile('/d/a0', 'x');
    const seen = new Set<number>([a.paths.stat('/d/a0').ino]);
    for (let i = 1; i < 20; i++) {
      // the other connection makes one and deletes the newest: its number must not come back
      other.paths.writeFile(`/d/o${i}`, 'y');
      const gone = other.paths.stat(`/d/o${i}`).ino;
      other.paths.unlink(`/d/o${i}`);
      a.paths.mkdir(`/d/m${i}`); // this process's transaction route moves the next number too
      a.paths.writeFile(`/d/a${i}`, 'x');
      const ino = a.paths.stat(`/d/a${i}`).ino;
      expect(ino).toBeGreaterThan(gone);
      expect(seen.has(ino)).toBe(false);
      seen.add(ino);
    }
    const [row] = q(a, "SELECT seq FROM sqlite_sequence WHERE name = 'fs_inode'");
    expect(Number(row!.seq)).toBeGreaterThanOrEqual(Math.max(...seen));
  });

  it('goes through a symlinked directory as it points now, and makes deep and root-level files', () => {
    const { a, other } = pair();
    a.paths.mkdir('/real');
    a.paths.mkdir('/other');
    a.paths.symlink('real', '/ln');
    a.paths.writeFile('/ln/one', '1');
    other.paths.unlink('/ln');
    other.paths.symlink('other', '/ln');
    a.paths.writeFile('/ln/two', '2');
    expect(a.paths.readdir('/real')).toEqual(['one']);
    expect(a.paths.readdir('/other')).toEqual(['two']);
    const deep = '/' + Array.from({ length: 40 }, (_, i) => `l${i}`).join('/');
    a.paths.writeFile(`${deep}/f`, 'deep', { createParents: true });
    a.paths.writeFile(`${deep}/g`, 'deeper still');
    expect(a.paths.readFile(`${deep}/g`, 'utf8')).toBe('deeper still');
    a.paths.writeFile('/top', 'root');
    a.paths.writeFile('/top2', 'root');
    expect(a.paths.readFile('/top2', 'utf8')).toBe('root');
  });

  it('inside an enclosing batch, goes back with it', () => {
    const { a } = pair();
    a.paths.mkdir('/d');
    a.paths.writeFile('/d/warm', 'x');
    expect(() =>
      a.paths.batch(() => {
        a.paths.writeFile('/d/in-batch', 'gone');
        expect(a.paths.readFile('/d/in-batch', 'utf8')).toBe('gone');
        throw new Error('abandon');
      }),
    ).toThrow('abandon');
    expect(a.paths.readdir('/d')).toEqual(['warm']);
    expect(q(a, "SELECT * FROM agentfs_journal WHERE path = '/d/in-batch'")).toEqual([]);
    a.paths.writeFile('/d/after', 'kept');
    expect(a.paths.readdir('/d').sort()).toEqual(['after', 'warm']);
  });

  it('keeps the WAL bounded: the statement runs to its end, so SQLite checkpoints after it', () => {
    const { a, file } = pair();
    a.paths.mkdir('/d');
    const data = Buffer.alloc(4096, 'w');
    for (let i = 0; i < 3000; i++) a.paths.writeFile(`/d/f${i}`, data);
    // ~50 MB of frames went through the WAL; with checkpoints it stays near 1000 pages
    expect(statSync(`${file}-wal`).size).toBeLessThan(16 << 20);
  });
});

/** A child process writing `n` files named `${prefix}i` into /d through the SDK, a line per file written. */
function writer(file: string, prefix: string, n: number) {
  const script = `
const { AgentFS } = await import(${JSON.stringify(join(ROOT, 'dist', 'index.js'))});
const a = await AgentFS.open({ path: process.argv[1] });
for (let i = 0; i < ${n}; i++) {
  await a.fs.writeFile('/d/${prefix}' + i, '${prefix}' + i);
  process.stdout.write('wrote ' + i + '\\n');
}
await a.close();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, '--', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

describe('writeFile as one statement, several processes', () => {
  it('two processes writing into one directory at once: every file there, every inode number distinct, every create journaled', async () => {
    const { a, file } = pair();
    a.paths.mkdir('/d');
    const kids = [writer(file, 'x', 300), writer(file, 'y', 300)];
    await Promise.all(kids.map((k) => new Promise((resolve) => k.on('exit', resolve))));
    expect(kids.map((k) => k.exitCode)).toEqual([0, 0]);
    const names = a.paths.readdir('/d');
    expect(names.length).toBe(600);
    for (const n of names) expect(a.paths.readFile(`/d/${n}`, 'utf8')).toBe(n);
    const inos = new Set(names.map((n) => a.paths.stat(`/d/${n}`).ino));
    expect(inos.size).toBe(600);
    const [j] = q(a, "SELECT COUNT(*) AS n FROM agentfs_journal WHERE op = 'create' AND path LIKE '/d/%'");
    expect(Number(j!.n)).toBe(600);
    expect(danglingRows(a)).toBe(0);
  });

  it('a file writeFile said was written is in the database when the process is killed right after', async () => {
    const { a, file } = pair();
    a.paths.mkdir('/d');
    const child = writer(file, 'k', 100000);
    let last = -1;
    await new Promise<void>((resolve) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        last = Number(line.split(' ')[1]);
        if (last === 200) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await new Promise((resolve) => child.on('exit', resolve));
    for (let i = 0; i <= 200; i++) expect(a.paths.readFile(`/d/k${i}`, 'utf8')).toBe(`k${i}`);
    expect(danglingRows(a)).toBe(0);
  });
});
