import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, run, runCli, tempDir } from '../support/cli.js';
import type { TimelineEvent as Ev } from '../support/timeline-event.js';

let dir: string;
let cleanup: () => void;
let mnt: string;
let mounted = false;
const env = { TZ: 'UTC' };
const cli = (...args: string[]) => runCli(args, { cwd: dir, env });


beforeAll(async () => {
  ({ dir, cleanup } = tempDir());
  mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  expect((await cli('init', 'audit')).code).toBe(0);
  const m = await cli('mount', 'audit', mnt);
  expect(m.stderr).toBe('');
  expect(m.code).toBe(0);
  mounted = true;
});

afterAll(async () => {
  if (mounted) await cli('unmount', mnt);
  cleanup();
});

describe('timeline of a recorded command against a mount (journal across processes)', () => {
  let build: Ev;
  let events: Ev[];

  it('records the command and its file changes, in order, with the call id', async () => {
    // the mount process serves the files; `record` is another process: the journal attributes
    // the changes to the call `record` announced
    const r = await cli('record', 'audit', '--name', 'build', '--', 'sh', '-c',
      `cd ${mnt} && mkdir out && printf hello > out/a.txt && mv out/a.txt out/b.txt && chmod 600 out/b.txt && rm out/b.txt && echo done`);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('done\n');
    await runCli(['record', 'audit', '--name', 'other', '--', 'true'], { cwd: dir });
    const tl = await cli('timeline', 'audit', '--format', 'json');
    expect(tl.code).toBe(0);
    events = (JSON.parse(tl.stdout) as Ev[]).reverse(); // oldest first
    build = events.find((e) => e.name === 'build')!;
    expect(build.status).toBe('success');
    const i = events.indexOf(build);
    const after = events.slice(i + 1, i + 7);
    expect(after.map((e) => `${e.op} ${e.path}${e.new_path ? ` ${e.new_path}` : ''}`)).toEqual([
      'mkdir /out',
      'create /out/a.txt',
      'write /out/a.txt',
      'rename /out/a.txt /out/b.txt',
      'chmod /out/b.txt',
      'unlink /out/b.txt',
    ]);
    for (const e of after) {
      expect(e.type).toBe('file');
      expect(e.tool_call_id).toBe(build.id);
    }
    expect(events.at(-1)!.name).toBe('other'); // no file changes inside `true`
  });

  it('shows them in the table, newest first, file rows carrying the call id', async () => {
    const r = await cli('timeline', 'audit', '--filter', 'build');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+TOOL\s+STATUS\s+DURATION\s+STARTED\s+FILE$/);
    const rows = lines.slice(1).map((l) => l.split(/\s{2,}/));
    expect(rows.map((c) => [c[0], c[1]])).toEqual([
      [String(build.id), 'fs:unlink'],
      [String(build.id), 'fs:chmod'],
      [String(build.id), 'fs:rename'],
      [String(build.id), 'fs:write'],
      [String(build.id), 'fs:create'],
      [String(build.id), 'fs:mkdir'],
      [String(build.id), 'build'],
    ]);
    expect(lines.find((l) => l.includes('fs:write'))).toMatch(/\/out\/a\.txt \[0, 5\) 5B in 1 write$/);
    expect(lines.find((l) => l.includes('fs:rename'))).toMatch(/\/out\/a\.txt -> \/out\/b\.txt$/);
  });

  it('picks calls or files, filters by path glob and time, and prints ndjson', async () => {
    const callsOnly = JSON.parse((await cli('timeline', 'audit', '--calls', '--format', 'json')).stdout) as Ev[];
    expect(callsOnly.every((e) => e.type === undefined && e.name)).toBe(true);
    const filesOnly = JSON.parse((await cli('timeline', 'audit', '--files', '--format', 'json')).stdout) as Ev[];
    expect(filesOnly.length).toBeGreaterThanOrEqual(6);
    expect(filesOnly.every((e) => e.type === 'file')).toBe(true);
    const glob = JSON.parse((await cli('timeline', 'audit', '--path', '/out/*.txt', '--format', 'json')).stdout) as Ev[];
    expect(glob.map((e) => e.op ?? e.name)).toEqual(['unlink', 'chmod', 'rename', 'write', 'create', 'build']);
    const nd = (await cli('timeline', 'audit', '--format', 'ndjson', '--limit', '3')).stdout.trim().split('\n');
    expect(nd.length).toBe(3);
    nd.forEach((l) => JSON.parse(l));
    const future = await cli('timeline', 'audit', '--since', String(Math.floor(Date.now() / 1000) + 3600), '--format', 'json');
    expect(JSON.parse(future.stdout)).toEqual([]);
    const past = JSON.parse((await cli('timeline', 'audit', '--until', '2000-01-01', '--format', 'json')).stdout) as Ev[];
    expect(past).toEqual([]);
    const recent = JSON.parse((await cli('timeline', 'audit', '--since', '1h', '--format', 'json')).stdout) as Ev[];
    expect(recent.length).toBe(events.length);
    const bad = await cli('timeline', 'audit', '--since', 'yesterday-ish');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/^agentfs: --since yesterday-ish: /);
    expect((await cli('timeline', 'audit', '--calls', '--files')).code).not.toBe(0);
  });

  it('--stats gives per-tool figures and the most changed paths', async () => {
    const r = await cli('timeline', 'audit', '--stats', '--format', 'json');
    const s = JSON.parse(r.stdout) as { tools: { name: string; total_calls: number; failed: number }[]; paths: { path: string; changes: number }[] };
    expect(s.tools.find((t) => t.name === 'build')).toMatchObject({ total_calls: 1, failed: 0 });
    // a.txt: create, write, rename (source); b.txt: rename (target), chmod, unlink; ties go to bytes written
    expect(s.paths.slice(0, 2)).toMatchObject([
      { path: '/out/a.txt', changes: 3, bytes_written: 5 },
      { path: '/out/b.txt', changes: 3, bytes_written: 0 },
    ]);
    const table = await cli('timeline', 'audit', '--stats');
    expect(table.stdout).toMatch(/^TOOL\s+CALLS\s+FAILED\s+PENDING\s+AVG\s+P95\s+MAX\n/);
    expect(table.stdout).toMatch(/\nPATH\s+CHANGES\s+WRITTEN\s+OPS\n\/out\/a\.txt\s+3\s+5B\s+create:1 write:1 rename:1\n/);
  });

  it('--follow streams new calls, completions and file changes as they happen', async () => {
    const child = spawn(process.execPath, [CLI, 'timeline', 'audit', '--follow', '--format', 'ndjson', '--limit', '0', '--interval', '50'], {
      cwd: dir,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const lines = () => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev);
    const waitFor = async (pred: () => boolean, what: string) => {
      for (let i = 0; i < 200; i++) {
        if (pred()) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`timed out waiting for ${what}; got:\n${out}`);
    };
    try {
      await new Promise((r) => setTimeout(r, 3000)); // let it start (a slow machine takes a second to)
      const rec = spawn(process.execPath, [CLI, 'record', 'audit', '--name', 'live', '--', 'sh', '-c', `sleep 1; echo x > ${mnt}/live.txt; sleep 1`], {
        cwd: dir,
        stdio: 'ignore',
      });
      await waitFor(() => lines().some((e) => e.name === 'live' && e.status === 'pending'), 'the pending call');
      await waitFor(() => lines().some((e) => e.op === 'create' && e.path === '/live.txt'), 'the file change');
      await waitFor(() => lines().some((e) => e.name === 'live' && e.status === 'success'), 'the completion');
      await new Promise<void>((r) => (rec.exitCode !== null ? r() : rec.once('exit', () => r())));
      const seq = lines().map((e) => (e.name ? `${e.name}:${e.status}` : `${e.op}:${e.path}`));
      expect(seq).toEqual(['live:pending', 'create:/live.txt', 'write:/live.txt', 'live:success']);
      const id = lines()[0]!.id;
      expect(lines()[1]!.tool_call_id).toBe(id);
    } finally {
      child.kill('SIGINT');
    }
    const code = await new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (c) => r(c))));
    expect(code).toBe(0);
  });
});

describe('mount --no-journal', () => {
  it('serves files without journaling them; the next plain mount journals again', async () => {
    const quiet = join(dir, 'quiet');
    mkdirSync(quiet);
    expect((await cli('init', 'nojournal')).code).toBe(0);
    const m = await cli('mount', 'nojournal', quiet, '--no-journal');
    expect(m.code).toBe(0);
    try {
      const w = await runCli(['record', 'nojournal', '--name', 'w', '--', 'sh', '-c', `echo a > ${quiet}/a.txt`], { cwd: dir });
      expect(w.code).toBe(0);
    } finally {
      expect((await cli('unmount', quiet)).code).toBe(0);
    }
    expect((await cli('fs', 'cat', 'nojournal', '/a.txt')).stdout).toBe('a\n'); // the file is there
    let files = await cli('timeline', 'nojournal', '--files', '--format', 'json');
    expect(JSON.parse(files.stdout)).toEqual([]);

    expect((await cli('mount', 'nojournal', quiet)).code).toBe(0);
    try {
      await runCli(['record', 'nojournal', '--name', 'w2', '--', 'sh', '-c', `echo b > ${quiet}/b.txt`], { cwd: dir });
    } finally {
      expect((await cli('unmount', quiet)).code).toBe(0);
    }
    files = await cli('timeline', 'nojournal', '--files', '--format', 'json');
    expect((JSON.parse(files.stdout) as Ev[]).map((e) => `${e.op} ${e.path}`).sort()).toEqual(['create /b.txt', 'write /b.txt']);
  });
});

describe('timeline json output', () => {
  it('prints the stored nanoseconds digit for digit (json and ndjson), where a double would round them', async () => {
    expect((await cli('init', 'exact')).code).toBe(0);
    expect((await cli('fs', 'write', 'exact', '/a', 'hello')).code).toBe(0);
    // two times a double cannot hold (those near 1.8e18 are 256 apart)
    const [t, end] = ['1796308001955669827', '1796308001956768461'];
    const db = join(dir, '.agentfs', 'exact.db');
    const py = `import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE agentfs_journal SET time_ns = ?, end_ns = CASE WHEN end_ns IS NULL THEN NULL ELSE ? END", (int(sys.argv[2]), int(sys.argv[3])))
c.commit()`;
    expect((await run('python3', ['-c', py, db, t, end])).code).toBe(0);
    const nd = (await cli('timeline', 'exact', '--format', 'ndjson')).stdout;
    expect(nd).toContain(`"time_ns":${t},`);
    expect(nd).toContain(`"end_ns":${end},`);
    const json = (await cli('timeline', 'exact', '--format', 'json')).stdout;
    expect(json).toContain(`"time_ns": ${t},`);
    expect(json).toContain(`"end_ns": ${end},`);
    expect((JSON.parse(json) as Ev[]).length).toBe(2);
  });
});
