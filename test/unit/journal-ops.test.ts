import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../../src/core/agent.js';
import { Journal, JournalReader, timeline, timelineStats, type JournalEntry } from '../../src/core/journal/index.js';
import { InodeFs } from '../../src/core/fs/index.js';
import { ToolCalls } from '../../src/core/tools/index.js';
import { Store } from '../../src/store/index.js';
import { tempDir } from '../support/cli.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function agent(journal?: boolean): { a: Agent; file: string; reader: JournalReader } {
  const t = tempDir();
  const file = join(t.dir, 'j.db');
  const a = Agent.open({ path: file }, { create: true, journal });
  cleanups.push(t.cleanup, () => a.close());
  return { a, file, reader: new JournalReader(a.store) };
}

const brief = (e: JournalEntry) => [e.op, e.path, e.new_path].filter((x) => x !== undefined).join(' ');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('file-operation journal', () => {
  it('keeps no index on its table, and drops the time index older versions made', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'old.db');
    const s = Store.open({ path: file }, { create: true });
    s.db.exec('CREATE TABLE agentfs_journal (id INTEGER PRIMARY KEY AUTOINCREMENT, time_ns INTEGER NOT NULL, end_ns INTEGER, op TEXT NOT NULL, path TEXT, new_path TEXT, ino INTEGER NOT NULL, offset INTEGER, length INTEGER, bytes INTEGER, writes INTEGER, size INTEGER, mode INTEGER, uid INTEGER, gid INTEGER, tool_call_id INTEGER, pid INTEGER)');
    s.db.exec('CREATE INDEX idx_agentfs_journal_time ON agentfs_journal(time_ns)');
    s.close();
    const indexes = (a: Agent) => a.store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'agentfs_journal'").all();
    const old = Agent.open({ path: file });
    expect(indexes(old)).toEqual([]);
    old.paths.writeFile('/x', 'y');
    expect(new JournalReader(old.store).list({ order: 'asc' }).map(brief)).toEqual(['create /x', 'write /x']);
    old.close();
    const { a } = agent();
    expect(indexes(a)).toEqual([]);
  });

  it('records every mutating operation with its path(s), in order', () => {
    const { a, reader } = agent();
    const p = a.paths;
    p.mkdir('/src');
    p.writeFile('/src/a.txt', 'hello');
    p.rename('/src/a.txt', '/src/b.txt');
    p.link('/src/b.txt', '/src/c.txt');
    p.symlink('b.txt', '/src/l');
    p.chmod('/src/b.txt', 0o600);
    p.utimes('/src/b.txt', 1, 2);
    p.truncate('/src/b.txt', 2);
    p.unlink('/src/c.txt');
    p.mkdir('/src/sub');
    p.rename('/src', '/lib');
    p.writeFile('/lib/sub/x', 'x');
    expect(() => p.rmdir('/lib/sub')).toThrow(); // not empty: nothing happened, nothing journaled
    p.unlink('/lib/sub/x');
    p.rmdir('/lib/sub');
    const got = reader.list({ order: 'asc' }).map(brief);
    expect(got).toEqual([
      'mkdir /src',
      'create /src/a.txt',
      'write /src/a.txt',
      'rename /src/a.txt /src/b.txt',
      'link /src/b.txt /src/c.txt',
      'symlink /src/l b.txt',
      'chmod /src/b.txt',
      'utimens /src/b.txt',
      'truncate /src/b.txt',
      'unlink /src/c.txt',
      'mkdir /src/sub',
      'rename /src /lib',
      'create /lib/sub/x',
      'write /lib/sub/x',
      'unlink /lib/sub/x',
      'rmdir /lib/sub',
    ]);
    const all = reader.list({ order: 'asc' });
    expect(all.find((e) => e.op === 'chmod')!.mode! & 0o7777).toBe(0o600);
    expect(all.find((e) => e.op === 'truncate')!.size).toBe(2);
    const w = all.find((e) => e.op === 'write')!;
    expect(w).toMatchObject({ offset: 0, length: 5, bytes: 5, writes: 1, size: 5, pid: process.pid });
    for (let i = 1; i < all.length; i++) expect(all[i]!.time_ns).toBeGreaterThanOrEqual(all[i - 1]!.time_ns);
    expect(all[0]!.time_ns / 1e6).toBeGreaterThan(Date.now() - 60_000);
  });

  it('coalesces the writes of one open/close burst into one row with the byte range', () => {
    const { a, reader } = agent();
    const h = a.paths.open('/big', 'w');
    const chunk = Buffer.alloc(4096, 1);
    for (let i = 0; i < 100; i++) a.fs.write(h.ino, 1000 + i * 4096, chunk);
    a.fs.write(h.ino, 1000, chunk); // overwrite: counted in bytes, not in the range
    a.paths.close(h.ino);
    const writes = reader.list().filter((e) => e.op === 'write');
    expect(writes.length).toBe(1);
    expect(writes[0]).toMatchObject({ path: '/big', offset: 1000, length: 100 * 4096, bytes: 101 * 4096, writes: 101, size: 1000 + 100 * 4096 });
    expect(writes[0]!.end_ns!).toBeGreaterThanOrEqual(writes[0]!.time_ns);
    // a second burst is a second row
    const h2 = a.paths.open('/big', 'r+');
    a.fs.write(h2.ino, 0, Buffer.from('abc'));
    a.paths.close(h2.ino);
    expect(reader.list().filter((e) => e.op === 'write').length).toBe(2);
  });

  it('ends a burst at another operation on the file, keeping the order', () => {
    const { a, reader } = agent();
    const h = a.paths.open('/f', 'w');
    a.fs.write(h.ino, 0, Buffer.from('one'));
    a.fs.write(h.ino, 3, Buffer.from('two'));
    a.fs.setattr(h.ino, { size: 4 });
    a.fs.write(h.ino, 4, Buffer.from('three'));
    a.paths.rename('/f', '/g');
    a.paths.close(h.ino);
    expect(reader.list({ order: 'asc' }).map((e) => `${brief(e)}${e.op === 'write' ? ` ${e.offset}+${e.length}x${e.writes}` : ''}`)).toEqual([
      'create /f',
      'write /f 0+6x2',
      'truncate /f',
      'write /f 4+5x1',
      'rename /f /g',
    ]);
  });

  it('ends a burst after the time bound, and flushes idle bursts of files left open', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const store = Store.open({ path: join(t.dir, 'b.db') }, { create: true });
    cleanups.push(() => store.close());
    let fs!: InodeFs;
    const journal = new Journal(store, { pathOf: (i) => fs.pathOf(i), maxBurstMs: 30, idleFlushMs: 40 });
    cleanups.push(() => journal.close());
    fs = new InodeFs(store, { observer: journal.observer });
    const reader = new JournalReader(store);
    const a = fs.create(1, 'f', 0o644, { uid: 0, gid: 0 });
    fs.open(a.ino, 1);
    fs.write(a.ino, 0, Buffer.from('a'));
    fs.write(a.ino, 1, Buffer.from('b'));
    await sleep(50);
    fs.write(a.ino, 2, Buffer.from('c')); // past the bound: a new row
    expect(reader.list({ order: 'asc' }).filter((e) => e.op === 'write').map((e) => e.writes)).toEqual([2, 1]);
    fs.write(a.ino, 3, Buffer.from('d'));
    await sleep(150); // idle: the timer writes the totals though the file is still open
    expect(reader.list({ order: 'asc' }).filter((e) => e.op === 'write').map((e) => [e.offset, e.length, e.writes])).toEqual([
      [0, 2, 2],
      [2, 2, 2],
    ]);
    fs.release(a.ino);
  });

  it('stamps each entry with the tool call in progress', async () => {
    const { a, reader } = agent();
    a.paths.writeFile('/before', '0');
    const outer = a.tools.start('plan');
    a.paths.writeFile('/in-plan', '1');
    const inner = a.tools.start('step');
    a.paths.mkdir('/in-step');
    a.tools.success(inner);
    a.paths.unlink('/in-plan');
    a.tools.success(outer);
    const wrapped = a.tools.start('wrapped', undefined, { scoped: true });
    await a.tools.runInCall(wrapped, async () => {
      await sleep(1);
      a.paths.writeFile('/in-wrapped', '2');
    });
    a.paths.writeFile('/after', '3'); // wrapped is still pending, but this code is not inside it
    a.tools.success(wrapped);
    const byPath = new Map(reader.list().filter((e) => e.op !== 'write').map((e) => [e.path, e.tool_call_id]));
    expect(byPath.get('/before')).toBeUndefined();
    expect(byPath.get('/in-plan')).toBe(outer);
    expect(byPath.get('/in-step')).toBe(inner);
    expect(reader.list({ toolCallId: outer }).map(brief)).toEqual(['unlink /in-plan', 'write /in-plan', 'create /in-plan']);
    expect(byPath.get('/in-wrapped')).toBe(wrapped);
    expect(byPath.get('/after')).toBeUndefined();
  });

  it('a write burst that crosses into another tool call becomes two rows', () => {
    const { a, reader } = agent();
    const h = a.paths.open('/log', 'w');
    a.fs.write(h.ino, 0, Buffer.from('a'));
    const c = a.tools.start('x');
    a.fs.write(h.ino, 1, Buffer.from('b'));
    a.paths.close(h.ino);
    a.tools.success(c);
    expect(reader.list({ order: 'asc' }).filter((e) => e.op === 'write').map((e) => [e.offset, e.tool_call_id])).toEqual([
      [0, undefined],
      [1, c],
    ]);
  });

  it('is off with journal: false, and with the journal=off setting of init --no-journal', () => {
    const { a, file, reader } = agent(false);
    a.paths.writeFile('/x', 'x');
    expect(a.journal).toBeUndefined();
    expect(reader.list()).toEqual([]);
    a.store.setMeta('journal', 'off');
    a.close();
    const again = Agent.open({ path: file });
    cleanups.push(() => again.close());
    expect(again.journal).toBeUndefined();
    again.paths.writeFile('/y', 'y');
    expect(new JournalReader(again.store).list()).toEqual([]);
    const forced = Agent.open({ path: file }, { journal: true });
    forced.paths.writeFile('/z', 'z');
    expect(new JournalReader(forced.store).list().map((e) => e.path)).toEqual(['/z', '/z']);
    forced.close();
  });

  it('filters by time, path glob and call, and the timeline interleaves calls and changes', async () => {
    const { a, reader } = agent();
    const t0 = process.hrtime.bigint(); // unused: keep the monotonic clock warm
    void t0;
    a.paths.writeFile('/notes.md', 'n');
    const c = a.tools.start('build', { target: 'all' });
    a.paths.mkdir('/out');
    a.paths.writeFile('/out/app.js', 'x');
    a.tools.success(c, { ok: true });
    a.paths.writeFile('/out/app.map', 'y');
    expect(reader.list({ path: '**/*.js' }).map(brief)).toEqual(['write /out/app.js', 'create /out/app.js']);
    expect(reader.list({ path: '*.md' }).map((e) => e.op)).toEqual(['write', 'create']); // basename glob
    expect(reader.list({ path: '/out/**', limit: 1 }).map(brief)).toEqual(['write /out/app.map']);
    const events = timeline(a.tools, reader, { order: 'asc' });
    expect(events.map((e) => (e.type === 'call' ? `call ${e.call.name}` : `${brief(e.entry)} @${e.entry.tool_call_id ?? '-'}`))).toEqual([
      'create /notes.md @-',
      'write /notes.md @-',
      'call build',
      `mkdir /out @${c}`,
      `create /out/app.js @${c}`,
      `write /out/app.js @${c}`,
      'create /out/app.map @-',
      'write /out/app.map @-',
    ]);
    expect(timeline(a.tools, reader, { name: 'build', order: 'asc' }).length).toBe(4);
    expect(timeline(a.tools, reader, { path: '**/*.js' }).map((e) => e.type)).toEqual(['file', 'file', 'call']);
    expect(timeline(a.tools, reader, { files: false }).length).toBe(1);
    expect(timeline(a.tools, reader, { limit: 2 }).map((e) => e.type === 'file' && e.entry.path)).toEqual(['/out/app.map', '/out/app.map']);
    const mid = events[3]!.time_ns - 512; // time_ns is a double: ~256 ns off the stored integer
    expect(timeline(a.tools, reader, { sinceNs: BigInt(mid), order: 'asc' })[0]).toMatchObject({ type: 'file', entry: { op: 'mkdir' } });
    const stats = timelineStats(a.tools, reader);
    expect(stats.tools[0]).toMatchObject({ name: 'build', total_calls: 1 });
    expect(stats.paths[0]).toMatchObject({ changes: 2 });
    expect(stats.paths.map((p) => p.path)).toContain('/out');
  });

  it('filters by the status calls read with: the file changes of a call whose recorder is gone are under error', () => {
    const { a, reader } = agent(true);
    const killed = a.tools.start('killed');
    a.paths.writeFile('/k', 'k');
    a.tools.success(a.tools.start('done', undefined, { parentId: null }));
    // the call's recorder: a pid no process has
    a.store.db.prepare('UPDATE agentfs_tool_call_ext SET pid = ? WHERE id = ?').run(2 ** 22 + 12345, killed);
    const touched = (status: 'pending' | 'success' | 'error') =>
      timeline(a.tools, reader, { status, order: 'asc' }).map((e) => (e.type === 'call' ? `call ${e.call.name}` : brief(e.entry)));
    expect(touched('error')).toEqual(['call killed', 'create /k', 'write /k']);
    expect(touched('pending')).toEqual([]);
    expect(touched('success')).toEqual(['call done']);
  });

  it('journals the deletion of base entries of an overlay agent (whiteouts), and copy-ups', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const base = join(t.dir, 'base');
    mkdirSync(join(base, 'dir'), { recursive: true });
    writeFileSync(join(base, 'keep.txt'), 'k');
    writeFileSync(join(base, 'gone.txt'), 'g');
    const file = join(t.dir, 'ov.db');
    const s = Store.open({ path: file }, { create: true });
    s.setMeta('overlay.base', base);
    s.close();
    const a = Agent.open({ path: file });
    cleanups.push(() => a.close());
    const reader = new JournalReader(a.store);
    const before = reader.lastId();
    a.paths.unlink('/gone.txt');
    a.paths.rmdir('/dir');
    a.paths.writeFile('/keep.txt', 'changed');
    const got = reader.list({ order: 'asc', afterId: before }).map(brief);
    expect(got.slice(0, 2)).toEqual(['unlink /gone.txt', 'rmdir /dir']);
    expect(got).toContain('write /keep.txt');
  });

  it('attributes changes to a call another live process announced (a mount serving `record`)', async () => {
    const { a, file, reader } = agent();
    const other = Store.open({ path: file });
    cleanups.push(() => other.close());
    const remote = new ToolCalls(other);
    // pretend the other connection is another process: its call is shared, and not live here
    a.paths.writeFile('/before', 'x');
    const id = remote.start('record', { argv: ['sh'] }, { shared: true });
    await sleep(2); // seen within a millisecond
    a.paths.writeFile('/from-mount', 'x');
    remote.success(id, { exit: 0 });
    await sleep(2);
    a.paths.writeFile('/after', 'y');
    const m = new Map(reader.list().filter((e) => e.op === 'create').map((e) => [e.path, e.tool_call_id]));
    expect(m.get('/before')).toBeUndefined();
    expect(m.get('/from-mount')).toBe(id);
    expect(m.get('/after')).toBeUndefined();
  });
});

describe('journal paths after another process renamed a directory a moment before', () => {
  it('records the path the change was made at, for the transaction route too (mkdir, writeFile, rename, unlink)', () => {
    const { a, file } = agent();
    const other = Agent.open({ path: file });
    cleanups.push(() => other.close());
    a.inode.createWhole = undefined; // the transaction route: its paths come from the journal's cache
    const wrong: string[] = [];
    for (let i = 0; i < 30; i++) {
      a.paths.mkdir(`/x${i}/d`, { recursive: true });
      a.paths.writeFile(`/x${i}/d/one`, '1'); // the journal now knows /x$i/d by its inode
      other.paths.rename(`/x${i}/d`, `/d${i}`); // well within the millisecond its cache was trusted for
      a.paths.writeFile(`/d${i}/two`, '2');
      a.paths.mkdir(`/d${i}/sub`);
      a.paths.unlink(`/d${i}/one`);
      const rows = a.store.db
        .prepare("SELECT op, path FROM agentfs_journal WHERE id > (SELECT MAX(id) FROM agentfs_journal WHERE path = ?) ORDER BY id")
        .all(`/x${i}/d/one`) as { op: string; path: string }[];
      // the other connection's rename row names the old path, rightly
      for (const r of rows) if (r.op !== 'rename' && !r.path.startsWith(`/d${i}/`)) wrong.push(`${r.op} ${r.path}`);
    }
    expect(wrong).toEqual([]);
  });
});
