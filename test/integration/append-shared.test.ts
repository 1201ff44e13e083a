import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ROOT, run, runCli, tempDir } from '../support/cli.js';
import { forceUnmount, mountBg } from '../support/fuse.js';

/**
 * Issue 10 item 1: appends and other writes from several writers on one database, one of them
 * a live mount whose kernel caches file sizes. Every acknowledged write must be in the file.
 */
let tmp: { dir: string; cleanup: () => void };
const env = () => ({ AGENTFS_RUNTIME_DIR: join(tmp.dir, 'run') });
const cli = (args: string[]) => runCli(args, { cwd: tmp.dir, env: env() });
const mounts: Array<{ mnt: string; pid?: number }> = [];

const REC = 100;
const children: ChildProcess[] = [];

/** A child that appends REC-byte records `TAGnnnnnn....\n` to a path; see APPENDER. */
const APPENDER = `
import { openSync, writeSync, closeSync, constants as C } from 'node:fs';
const [path, tag, count, pauseMs] = process.argv.slice(1);
if (!path.startsWith('/') || !/^\\d+$/.test(count)) throw new Error('usage: PATH TAG COUNT PAUSE_MS');
const fd = openSync(path, C.O_WRONLY | C.O_APPEND | C.O_CREAT, 0o644);
const pause = () => new Promise((r) => setTimeout(r, Number(pauseMs)));
let stop = false;
process.stdin.on('data', () => {}).on('end', () => (stop = true));
let i = 0;
const n = Number(count);
while (n > 0 ? i < n : !stop) {
  const rec = Buffer.alloc(${REC}, '.');
  rec.write(tag + String(i).padStart(6, '0'));
  rec[${REC} - 1] = 10;
  if (writeSync(fd, rec) !== ${REC}) throw new Error('short write');
  i++;
  if (Number(pauseMs)) await pause();
}
closeSync(fd);
process.stdout.write(String(i));
`;

/** The same through the SDK in another process: appendFile, then a FileHandle opened with 'a'. */
const SDK_APPENDER = `
const { AgentFS } = await import(${JSON.stringify(join(ROOT, 'dist', 'index.js'))});
const [db, path, tag, count] = process.argv.slice(1);
const a = await AgentFS.open({ path: db });
const rec = (i) => {
  const b = Buffer.alloc(${REC}, '.');
  b.write(tag + String(i).padStart(6, '0'));
  b[${REC} - 1] = 10;
  return b;
};
const n = Number(count);
let i = 0;
// A mount that writes all the time can hold the write lock past SQLite's busy timeout (its
// polling is coarse): such a write fails, unacknowledged, and an application tries it again.
// What is checked is that no acknowledged append is lost or overwritten.
const retried = async (fn) => {
  for (let t = 0; ; t++) {
    try { return await fn(); } catch (e) { if (t >= 5 || !/database is locked/.test(String(e?.message))) throw e; }
  }
};
for (; i < n / 2; i++) { await retried(() => a.fs.appendFile(path, rec(i))); await new Promise((r) => setTimeout(r, 1)); }
const h = await a.fs.open(path, 'a');
for (; i < n; i++) { await retried(() => h.pwrite(0, rec(i))); await new Promise((r) => setTimeout(r, 1)); }
await h.close();
await a.close();
process.stdout.write(String(i));
`;

function runNode(script: string, args: string[], stdinOpen = false): { done: Promise<{ code: number | null; out: string; err: string }>; end: () => void } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, '--', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  if (!stdinOpen) child.stdin.end();
  const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) => child.on('close', (code) => resolve({ code, out, err })));
  return { done, end: () => child.stdin.end() };
}

/** Every record intact and every tag's records 0..n-1 present exactly once. */
function checkRecords(file: Buffer, expected: Record<string, number>, from = 0): void {
  const body = file.subarray(from);
  expect(body.length % REC).toBe(0);
  const seen = new Map<string, number[]>();
  for (let at = 0; at < body.length; at += REC) {
    const rec = body.subarray(at, at + REC).toString('latin1');
    const m = /^([A-Z])(\d{6})\.+\n$/.exec(rec);
    if (!m) throw new Error(`damaged record at byte ${from + at}: ${JSON.stringify(body.subarray(Math.max(0, at - 100), at + 300).toString("latin1"))}`);
    const list = seen.get(m[1]!) ?? [];
    list.push(Number(m[2]));
    seen.set(m[1]!, list);
  }
  for (const [tag, n] of Object.entries(expected)) {
    const got = (seen.get(tag) ?? []).sort((a, b) => a - b);
    expect({ tag, count: got.length }).toEqual({ tag, count: n });
    expect(got.every((v, i) => v === i)).toBe(true);
  }
  expect(body.length).toBe(Object.values(expected).reduce((a, b) => a + b, 0) * REC);
}

async function mount(id: string, name: string): Promise<string> {
  const m = join(tmp.dir, name);
  mkdirSync(m, { recursive: true });
  const pid = await mountBg(id, m, [], tmp.dir).catch(async (e) => {
    throw e;
  });
  mounts.push({ mnt: m, pid });
  return m;
}

beforeAll(async () => {
  tmp = tempDir('agentfs-append-shared-');
  process.env.AGENTFS_RUNTIME_DIR = join(tmp.dir, 'run');
  for (const id of ['two', 'cli', 'sdk', 'mcp', 'trunc']) expect((await cli(['init', id])).code).toBe(0);
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const m of mounts) await forceUnmount(m.mnt, m.pid);
  tmp.cleanup();
});

describe('appends from several writers on a live mount', () => {
  it('two mounts of one database: O_APPEND from both keeps every record', async () => {
    const m1 = await mount('two', 'two-1');
    const m2 = await mount('two', 'two-2');
    for (let trial = 0; trial < 2; trial++) {
      const f = `log-${trial}.txt`;
      const a = runNode(APPENDER, [join(m1, f), 'A', '2000', '0']);
      const b = runNode(APPENDER, [join(m2, f), 'B', '2000', '0']);
      const [ra, rb] = await Promise.all([a.done, b.done]);
      expect(ra.err + rb.err).toBe('');
      expect([ra.code, rb.code]).toEqual([0, 0]);
      // the database, and both mounts once their caches caught up
      const viaCli = await cli(['fs', 'cat', 'two', `/${f}`]);
      checkRecords(Buffer.from(viaCli.stdout, 'latin1'), { A: 2000, B: 2000 });
      expect(statSync(join(m1, f)).size).toBe(400_000);
      checkRecords(readFileSync(join(m1, f)), { A: 2000, B: 2000 });
      checkRecords(readFileSync(join(m2, f)), { A: 2000, B: 2000 });
    }
    // O_APPEND switched on later with fcntl (the open was not an append open), from shells too
    const py = `
import os, sys, fcntl
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_APPEND)
for i in range(1000):
    rec = (sys.argv[2] + '%06d' % i).ljust(${REC - 1}, '.') + '\\n'
    assert os.write(fd, rec.encode()) == ${REC}
`;
    const f = 'fcntl.txt';
    const [pa, pb] = await Promise.all([run('python3', ['-c', py, join(m1, f), 'A']), run('python3', ['-c', py, join(m2, f), 'B'])]);
    expect(pa.stderr + pb.stderr).toBe('');
    // Such a handle goes through the page cache, where the kernel may split one write at a page
    // boundary (each part goes to the end): every byte must be there, records may be split.
    const sorted = (b: Buffer) => Buffer.from(b).sort();
    const want = Buffer.concat(['A', 'B'].flatMap((t) => Array.from({ length: 1000 }, (_, i) => Buffer.from((t + String(i).padStart(6, '0')).padEnd(REC - 1, '.') + '\n'))));
    const got = Buffer.from((await cli(['fs', 'cat', 'two', `/${f}`])).stdout, 'latin1');
    expect(got.length).toBe(want.length);
    expect(sorted(got).equals(sorted(want))).toBe(true);
    expect(readFileSync(join(m1, f)).equals(got)).toBe(true);
  }, 120_000);

  it('the CLI (fs write -a) appending while the mount appends', async () => {
    const m = await mount('cli', 'cli-1');
    const f = join(m, 'log.txt');
    const a = runNode(APPENDER, [f, 'A', '0', '3'], true);
    const n = 15;
    for (let i = 0; i < n; i++) {
      const rec = 'C' + String(i).padStart(6, '0') + '.'.repeat(REC - 8) + '\n';
      const r = await runCli(['fs', 'write', '-a', 'cli', '/log.txt', rec], { cwd: tmp.dir, env: env() });
      expect(r.stderr).toBe('');
    }
    a.end();
    const ra = await a.done;
    expect(ra.err).toBe('');
    const na = Number(ra.out);
    checkRecords(Buffer.from((await cli(['fs', 'cat', 'cli', '/log.txt'])).stdout, 'latin1'), { A: na, C: n });
    checkRecords(readFileSync(f), { A: na, C: n });
  }, 120_000);

  it('the SDK in another process (appendFile, FileHandle opened with a) while the mount appends', async () => {
    const m = await mount('sdk', 'sdk-1');
    const f = join(m, 'log.txt');
    const a = runNode(APPENDER, [f, 'A', '0', '3'], true);
    const s = runNode(SDK_APPENDER, [join(tmp.dir, '.agentfs', 'sdk.db'), '/log.txt', 'S', '60']);
    const rs = await s.done;
    a.end();
    const ra = await a.done;
    expect(rs.err + ra.err).toBe('');
    expect(rs.out).toBe('60');
    checkRecords(Buffer.from((await cli(['fs', 'cat', 'sdk', '/log.txt'])).stdout, 'latin1'), { A: Number(ra.out), S: 60 });
  }, 120_000);

  it('MCP write_file replacing the file while the mount appends: appends after it land after its content', async () => {
    const m = await mount('mcp', 'mcp-1');
    const f = join(m, 'log.txt');
    writeFileSync(f, Buffer.alloc(50 * REC, 'x'));
    const a = runNode(APPENDER, [f, 'A', '0', '3'], true);
    await new Promise((r) => setTimeout(r, 300));
    const content = 'replaced by MCP\n';
    const mcp = await runMcpWrite('mcp', '/log.txt', content);
    expect(mcp).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    a.end();
    const ra = await a.done;
    expect(ra.err).toBe('');
    const n = Number(ra.out);
    const file = Buffer.from((await cli(['fs', 'cat', 'mcp', '/log.txt'])).stdout, 'latin1');
    expect(file.subarray(0, content.length).toString()).toBe(content);
    // the records after the replacement are the last ones written, contiguous, no hole before them
    const tail = file.subarray(content.length);
    expect(tail.length % REC).toBe(0);
    const first = Number(tail.subarray(1, 7).toString());
    expect(tail.length / REC).toBe(n - first);
    for (let at = 0, i = first; at < tail.length; at += REC, i++) {
      expect(tail.subarray(at, at + 7).toString()).toBe('A' + String(i).padStart(6, '0'));
    }
  }, 120_000);
});

describe('an overlay agent (init --base) mounted twice', () => {
  it('a base file copied up by one mount is appended to by the other: nothing fails, nothing is lost', async () => {
    const base = join(tmp.dir, 'ovbase');
    mkdirSync(join(base, 'sub'), { recursive: true });
    mkdirSync(join(base, 'dir'));
    writeFileSync(join(base, 'sub', 'log.txt'), 'base line\n');
    expect((await cli(['init', 'ov', '--base', base])).code).toBe(0);
    const m1 = await mount('ov', 'ov-1');
    const m2 = await mount('ov', 'ov-2');
    // both mounts have seen the file as a base file before either copies it up
    expect(readFileSync(join(m1, 'sub', 'log.txt'), 'utf8')).toBe('base line\n');
    expect(readFileSync(join(m2, 'sub', 'log.txt'), 'utf8')).toBe('base line\n');
    const a = runNode(APPENDER, [join(m1, 'sub', 'log.txt'), 'A', '300', '1']);
    const b = runNode(APPENDER, [join(m2, 'sub', 'log.txt'), 'B', '300', '1']);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra.err + rb.err).toBe('');
    const file = Buffer.from((await cli(['fs', 'cat', 'ov', '/sub/log.txt'])).stdout, 'latin1');
    expect(file.subarray(0, 10).toString()).toBe('base line\n');
    checkRecords(file, { A: 300, B: 300 }, 10);
    expect(readFileSync(join(base, 'sub', 'log.txt'), 'utf8')).toBe('base line\n');
    // a base directory copied up by one mount while the other has it cached as a base directory
    expect(readdirSync(join(m1, 'dir'))).toEqual([]);
    expect(readdirSync(join(m2, 'dir'))).toEqual([]);
    writeFileSync(join(m1, 'dir', 'one'), '1');
    writeFileSync(join(m2, 'dir', 'two'), '2');
    expect((await cli(['fs', 'ls', 'ov', '/dir'])).stdout).toBe('f one\nf two\n');
  }, 120_000);
});

/** One MCP tools/call write_file over `agentfs serve mcp` on stdio; true on success. */
async function runMcpWrite(id: string, path: string, content: string): Promise<boolean> {
  const child = spawn(process.execPath, [CLI, 'serve', 'mcp', id], { cwd: tmp.dir, env: { ...process.env, ...env() }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const send = (m: unknown) => child.stdin.write(JSON.stringify(m) + '\n');
  const waitId = async (id: number) => {
    for (let i = 0; i < 200; i++) {
      const line = out.split('\n').find((l) => l.includes(`"id":${id}`));
      if (line) return JSON.parse(line) as { result?: { isError?: boolean } };
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no MCP reply ${id}: ${out}`);
  };
  send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
  await waitId(1);
  send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'write_file', arguments: { path, content } } });
  const r = await waitId(2);
  child.stdin.end();
  await new Promise((r) => child.on('close', r));
  return r.result !== undefined && r.result.isError !== true;
}
