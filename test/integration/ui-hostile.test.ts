import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/store/index.js';
import { ToolCalls } from '../../src/core/tools/index.js';
import { Gate } from '../../src/ui/security.js';
import { CLI, runCli, tempDir } from '../support/cli.js';
import { withTheirSdk } from '../support/agentfs-sdk-child.js';

/**
 * `agentfs ui` attacked from outside, over plain HTTP (no browser needed): header games against
 * the gate, hostile agent data (deep and huge JSON), databases made by agentfs-sdk, replaced
 * while the server runs, and wildcard binds.
 */
let dir: string;
let cleanup: () => void;
let env: NodeJS.ProcessEnv;
const servers: ChildProcess[] = [];
const cli = (...args: string[]) => runCli(args, { cwd: dir, env });
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

interface Ui {
  origin: string;
  /** the random path every page lives under ('/xxxx/') */
  base: string;
  port: number;
  token: string;
  cookie: string;
  proc: ChildProcess;
  stderr: () => string;
}

async function startUi(args: string[]): Promise<Ui> {
  const proc = spawn(process.execPath, [CLI, 'ui', '--no-open', ...args], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(proc);
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`agentfs ui exited (${code}): ${out}${err}`)));
  });
  const u = new URL(url);
  const token = u.searchParams.get('token')!;
  return { origin: u.origin, base: u.pathname, port: Number(u.port), token, cookie: `agentfs_ui_${u.port}=${token}`, proc, stderr: () => err };
}

async function stopUi(ui: Ui): Promise<void> {
  if (ui.proc.exitCode !== null || ui.proc.signalCode !== null) return;
  const exited = new Promise((r) => ui.proc.once('exit', r));
  ui.proc.kill('SIGTERM');
  await exited;
}

function get(
  ui: Ui,
  path: string,
  headers: Record<string, string> = {},
  host = '127.0.0.1',
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port: ui.port, path: ui.base + path.slice(1), headers: { Cookie: ui.cookie, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A request written byte by byte (headers Node's client would not send), answering the status line. */
function raw(ui: Ui, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(ui.port, '127.0.0.1', () => s.end(text));
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    s.on('end', () => resolve(out.split('\r\n')[0]!));
    s.on('error', reject);
  });
}

let ui: Ui;
let hDb: string;
let before: string;

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('agentfs-ui-hostile-'));
  env = { TZ: 'UTC', AGENTFS_HOME: join(dir, 'home') };
  expect((await cli('init', 'h')).code).toBe(0);
  expect((await cli('fs', 'write', 'h', '/a.txt', 'a')).code).toBe(0);
  hDb = join(dir, '.agentfs', 'h.db');
  const store = Store.open({ path: hDb });
  const tools = new ToolCalls(store);
  const now = Math.floor(Date.now() / 1000);
  // written by some other program: JSON nested past any stack, and megabytes of arguments
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  store
    .stmt('INSERT INTO tool_calls (name, parameters, result, status, started_at, completed_at, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?)')
    .run('deep', deep, deep, 'success', now, now, 1);
  tools.record({ name: 'huge', parameters: { s: 'A'.repeat(8 << 20) }, result: 'B'.repeat(8 << 20), started_at: now, completed_at: now });
  store.stmt('INSERT INTO kv_store (key, value) VALUES (?, ?)').run('deep', deep);
  store.stmt('INSERT INTO kv_store (key, value) VALUES (?, ?)').run('huge', JSON.stringify('C'.repeat(8 << 20)));
  store.stmt('INSERT INTO kv_store (key, value) VALUES (?, ?)').run('plain', '{"a":1}');
  store.close();
  before = sha(hDb);
  ui = await startUi([]);
});

afterAll(async () => {
  for (const p of servers) {
    if (p.exitCode === null && p.signalCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    }
  }
  cleanup();
});

describe('agentfs ui under attack', () => {
  it('answers a malformed agent id in the URL with 400, not 500', async () => {
    const r = await get(ui, '/api/agents/%ZZ');
    expect(r.status).toBe(400);
  });

  it('refuses requests from another origin of the same site (another port of 127.0.0.1)', async () => {
    // no Origin on a no-cors GET: Sec-Fetch-Site is what tells a page on 127.0.0.1:8000 from ours
    expect((await get(ui, '/api/agents', { 'Sec-Fetch-Site': 'same-site' })).status).toBe(403);
    expect((await get(ui, '/api/agents', { 'Sec-Fetch-Site': 'same-origin' })).status).toBe(200);
    expect((await get(ui, '/api/agents', { 'Sec-Fetch-Site': 'none' })).status).toBe(200);
  });

  it('on port 80, takes a Host without a port (as browsers send it)', () => {
    const gate = new Gate('t', '127.0.0.1', 80);
    expect(gate.allowedHost('127.0.0.1')).toBe(true);
    expect(gate.allowedHost('localhost:80')).toBe(true);
    expect(gate.allowedHost('evil.example')).toBe(false);
    expect(new Gate('t', '127.0.0.1', 8080).allowedHost('127.0.0.1')).toBe(false);
  });

  it('keeps the token cookie to a random path, so other servers of 127.0.0.1 never receive it', async () => {
    expect(ui.base).toMatch(/^\/[\w-]{8,}\/$/);
    const r = await get(ui, `/?token=${ui.token}`, { Cookie: '' });
    expect(String(r.headers['set-cookie'])).toContain(`Path=${ui.base};`.replace(/;$/, ''));
    expect(String(r.headers['set-cookie'])).not.toMatch(/Path=\/(;|$)/);
    // and nothing answers outside it
    const outside = await new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port: ui.port, path: '/api/agents', headers: { Cookie: ui.cookie } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    expect(outside).toBe(404);
  });

  it('never redirects the token link off the server (a path that reads as //host)', async () => {
    const r = await get(ui, `/.//evil.example/?token=${ui.token}`, { Cookie: '' });
    // (under the base path: /BASE/.//evil.example/)
    expect(r.status).toBe(303);
    expect(String(r.headers.location)).not.toMatch(/^\/\//);
    expect(String(r.headers.location)).not.toMatch(/^\/\\/);
  });

  it('refuses a request with two Host headers', async () => {
    const both = `Host: 127.0.0.1:${ui.port}\r\nHost: evil.example\r\n`;
    expect(await raw(ui, `GET ${ui.base}api/agents HTTP/1.1\r\n${both}Cookie: ${ui.cookie}\r\nConnection: close\r\n\r\n`)).toMatch(/^HTTP\/1\.1 (400|403)/);
  });

  it('lets the right token through when another cookie of the same name shadows it', async () => {
    // a page on another port of 127.0.0.1 can set agentfs_ui_PORT=x with a longer Path (sent first)
    const r = await get(ui, '/api/agents', { Cookie: `agentfs_ui_${ui.port}=x; ${ui.cookie}` });
    expect(r.status).toBe(200);
  });

  it('shows a call whose arguments nest 100,000 deep, as text', async () => {
    const page = JSON.parse((await get(ui, '/api/agents/h/calls')).body) as { calls: { id: number; name: string }[] };
    const id = page.calls.find((c) => c.name === 'deep')!.id;
    const r = await get(ui, `/api/agents/h/calls/${id}`);
    expect(r.status).toBe(200);
    const d = JSON.parse(r.body) as { call: { parameters: unknown; result: unknown } };
    expect(typeof d.call.parameters).toBe('string');
    expect(String(d.call.parameters).startsWith('[[[[')).toBe(true);
  });

  it('cuts megabytes of arguments and result on the call page', async () => {
    const page = JSON.parse((await get(ui, '/api/agents/h/calls')).body) as { calls: { id: number; name: string }[] };
    const id = page.calls.find((c) => c.name === 'huge')!.id;
    const r = await get(ui, `/api/agents/h/calls/${id}`);
    expect(r.status).toBe(200);
    expect(r.body.length).toBeLessThan(2 << 20);
    const d = JSON.parse(r.body) as { call: { parameters: unknown; parameters_length?: number; result_length?: number } };
    expect(typeof d.call.parameters).toBe('string');
    expect(d.call.parameters_length).toBeGreaterThan(8 << 20);
    expect(d.call.result_length).toBeGreaterThan(8 << 20);
  });

  it('lists kv entries next to a value nested 100,000 deep and an 8 MiB one', async () => {
    const r = await get(ui, '/api/agents/h/kv');
    expect(r.status).toBe(200);
    const d = JSON.parse(r.body) as { entries: { key: string; value: string }[] };
    expect(d.entries.map((e) => e.key)).toEqual(['deep', 'huge', 'plain']);
    expect(d.entries[0]!.value.startsWith('[[[[')).toBe(true);
    expect(d.entries[1]!.value.length).toBeLessThan(5000);
    expect(JSON.parse(d.entries[2]!.value)).toEqual({ a: 1 });
  });

  it('finishes a slow download while the agent is written and the page refreshes', async () => {
    const { Agent } = await import('../../src/core/agent.js');
    const agent = Agent.open({ path: hDb });
    agent.paths.writeFile('/big.bin', '');
    agent.paths.truncate('/big.bin', 256 << 20);
    agent.close();
    const got = await new Promise<{ bytes: number; complete: boolean }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: ui.port, path: `${ui.base}api/agents/h/fs/download?path=/big.bin`, headers: { Cookie: ui.cookie } }, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('error', () => undefined);
        res.on('close', () => resolve({ bytes, complete: res.complete }));
        // the client stalls (the server waits for it to drain); meanwhile a commit and a request
        res.pause();
        void (async () => {
          expect((await cli('fs', 'write', 'h', '/during.txt', 'x')).code).toBe(0);
          expect((await get(ui, '/api/agents/h/fs/list?path=/')).status).toBe(200);
          res.resume();
        })().catch(reject);
      });
      req.on('error', reject);
      req.end();
    });
    expect(got).toEqual({ bytes: 256 << 20, complete: true });
    before = sha(hDb);
  });

  it('wrote nothing to the attacked database', () => {
    expect(sha(hDb)).toBe(before);
  });

  it('shows a database made by agentfs-sdk (no extension tables) without writing to it', async () => {
    const db = join(dir, 'sdk.db');
    await withTheirSdk(
      db,
      `await agent.fs.writeFile('/hello.txt', 'hi from sdk');
       await agent.kv.set('k', { a: 1 });
       const t = Math.floor(Date.now() / 1000);
       await agent.tools.record('sdk_tool', t - 2, t - 1, { x: 1 }, { ok: true });`,
    );
    const files = [db, `${db}-wal`].filter((f) => existsSync(f));
    const sums = files.map(sha);
    const sdk = await startUi([db]);
    try {
      const list = JSON.parse((await get(sdk, '/api/agents')).body) as { key: string; calls?: number; error?: string }[];
      expect(list[0]!.error).toBeUndefined();
      expect(list[0]!.calls).toBe(1);
      for (const path of [
        '/api/agents/sdk',
        '/api/agents/sdk/calls?journal=100',
        '/api/agents/sdk/calls/1',
        '/api/agents/sdk/fs/list?path=/',
        '/api/agents/sdk/fs/view?path=/hello.txt',
        '/api/agents/sdk/fs/download?path=/hello.txt',
        '/api/agents/sdk/kv',
        '/api/agents/sdk/stats',
        '/api/agents/sdk/journal',
        '/api/agents/sdk/diff?path=/hello.txt',
      ]) {
        const r = await get(sdk, path);
        expect(`${path} ${r.status} ${r.status === 200 ? '' : r.body}`).toBe(`${path} 200 `);
      }
      expect(JSON.parse((await get(sdk, '/api/agents/sdk/fs/view?path=/hello.txt')).body).text).toBe('hi from sdk');
    } finally {
      await stopUi(sdk);
    }
    expect(files.map(sha)).toEqual(sums);
  });

  it('shows the new database after an agent is deleted and made again while the server runs', async () => {
    expect((await cli('init', 'r')).code).toBe(0);
    expect((await cli('fs', 'write', 'r', '/old.txt', 'old')).code).toBe(0);
    const list = async () => JSON.parse((await get(ui, '/api/agents/r/fs/list?path=/')).body).entries.map((e: { name: string }) => e.name);
    expect(await list()).toEqual(['old.txt']);
    for (const f of ['', '-wal', '-shm']) rmSync(join(dir, '.agentfs', `r.db${f}`), { force: true });
    expect((await get(ui, '/api/agents/r/fs/list?path=/')).status).toBe(404);
    expect((await cli('init', 'r')).code).toBe(0);
    expect((await cli('fs', 'write', 'r', '/new.txt', 'new')).code).toBe(0);
    expect(await list()).toEqual(['new.txt']);
  });

  it('answers a deleted named database with 404, not its old content', async () => {
    expect((await cli('init', 'gone')).code).toBe(0);
    expect((await cli('fs', 'write', 'gone', '/f.txt', 'f')).code).toBe(0);
    const named = await startUi(['gone']);
    try {
      expect((await get(named, '/api/agents/gone/fs/view?path=/f.txt')).status).toBe(200);
      for (const f of ['', '-wal', '-shm']) rmSync(join(dir, '.agentfs', `gone.db${f}`), { force: true });
      expect((await get(named, '/api/agents/gone/fs/view?path=/f.txt')).status).toBe(404);
    } finally {
      await stopUi(named);
    }
  });

  it('leaves no -wal or -shm next to a database nobody else has open, and still follows a writer', async () => {
    expect((await cli('init', 'quiet')).code).toBe(0);
    expect((await cli('fs', 'write', 'quiet', '/one.txt', '1')).code).toBe(0);
    const db = join(dir, '.agentfs', 'quiet.db');
    const sidecars = () => ['-wal', '-shm'].filter((x) => existsSync(db + x));
    expect(sidecars()).toEqual([]);
    const sum = sha(db);
    const q = await startUi(['quiet']);
    const names = async () => JSON.parse((await get(q, '/api/agents/quiet/fs/list?path=/')).body).entries.map((e: { name: string }) => e.name);
    try {
      for (const path of ['/api/agents', '/api/agents/quiet', '/api/agents/quiet/calls', '/api/agents/quiet/kv', '/api/agents/quiet/fs/view?path=/one.txt']) {
        expect((await get(q, path)).status).toBe(200);
      }
      expect(await names()).toEqual(['one.txt']);
      expect(sidecars()).toEqual([]);
      expect(sha(db)).toBe(sum);
      // a writer comes and goes (its last close checkpoints and removes the -wal): the UI sees its file
      expect((await cli('fs', 'write', 'quiet', '/two.txt', '2')).code).toBe(0);
      expect(await names()).toEqual(['one.txt', 'two.txt']);
    } finally {
      await stopUi(q);
    }
    expect(sidecars()).toEqual([]);
  });

  it('caps live-update connections, and the pages still answer', async () => {
    const sockets: import('node:net').Socket[] = [];
    const open = () =>
      new Promise<string>((resolve, reject) => {
        const s = connect(ui.port, '127.0.0.1', () =>
          s.write(`GET ${ui.base}api/events?agent=h HTTP/1.1\r\nHost: 127.0.0.1:${ui.port}\r\nCookie: ${ui.cookie}\r\n\r\n`),
        );
        sockets.push(s);
        s.once('data', (d: Buffer) => resolve(d.toString('latin1').split('\r\n')[0]!));
        s.on('error', reject);
      });
    try {
      const statuses: string[] = [];
      for (let i = 0; i < 300; i++) statuses.push(await open());
      expect(statuses.filter((x) => x.includes(' 200 ')).length).toBeLessThanOrEqual(256);
      expect(statuses[299]).toMatch(/ 503 /);
      expect((await get(ui, '/api/agents')).status).toBe(200);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it('cuts tool names of a megabyte in pages, tool lists and stats', async () => {
    expect((await cli('init', 'longnames')).code).toBe(0);
    const store = Store.open({ path: join(dir, '.agentfs', 'longnames.db') });
    const now = Math.floor(Date.now() / 1000);
    const insert = store.stmt('INSERT INTO tool_calls (name, status, started_at, completed_at, duration_ms) VALUES (?, ?, ?, ?, ?)');
    for (let i = 0; i < 40; i++) insert.run(`${i}`.padEnd(1 << 20, 'n'), 'success', now, now, 1);
    store.close();
    for (const path of ['/api/agents/longnames/calls', '/api/agents/longnames', '/api/agents/longnames/stats']) {
      const r = await get(ui, path);
      expect(r.status).toBe(200);
      expect(r.body.length).toBeLessThan(1 << 20);
    }
  });

  it('answers bogus paging parameters with a page or 400, never 500', async () => {
    for (const q of ['offset=-5', 'offset=1e308', 'limit=-1', 'limit=1e9', 'limit=0.5', 'around=-1', 'around=1e300', 'since=-1e300&until=1e300', 'page=last&limit=3', 'journal=-1', 'offset=1&offset=2']) {
      expect(`${q} ${(await get(ui, `/api/agents/h/calls?${q}`)).status}`).toBe(`${q} 200`);
    }
    for (const q of ['offset=NaN', 'offset=Infinity', 'around=abc', 'status=bogus', 'limit=x']) {
      expect(`${q} ${(await get(ui, `/api/agents/h/calls?${q}`)).status}`).toBe(`${q} 400`);
    }
    for (const q of ['after=-1', 'limit=1e9', 'since=NaN']) expect((await get(ui, `/api/agents/h/journal?${q}`)).status).toBeLessThan(500);
    for (const q of ['limit=-1', 'limit=1e9', 'after=%FF', 'prefix=%00']) expect((await get(ui, `/api/agents/h/kv?${q}`)).status).toBe(200);
  });

  it('says in one line that the port is in use, and stops on SIGINT', async () => {
    const { createServer } = await import('node:net');
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = await cli('ui', '--no-open', '--port', String(port), 'h');
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim()).toBe(`agentfs: --port ${port}: the port is in use`);
    } finally {
      taken.close();
    }
    const u = await startUi(['h']);
    const exited = new Promise<string>((r) => u.proc.once('exit', (code, signal) => r(`${code} ${signal}`)));
    u.proc.kill('SIGINT');
    expect(await exited).toBe('0 null');
  });

  // A name another program stored as bytes that are not UTF-8 used to abort libsql and with it
  // the server (tursodatabase/libsql#1223); names are now read as blobs and checked.
  it('survives a file name that is not UTF-8 (written by another program): one error, then serves on', async () => {
    expect((await cli('init', 'badname')).code).toBe(0);
    expect((await cli('fs', 'write', 'badname', '/ok.txt', 'ok')).code).toBe(0);
    const db = join(dir, '.agentfs', 'badname.db');
    const store = Store.open({ path: db });
    const ino = (store.stmt("SELECT ino FROM fs_dentry WHERE name = 'ok.txt'").get() as { ino: number }).ino;
    store.stmt("INSERT INTO fs_dentry (name, parent_ino, ino) VALUES (CAST(X'666f80ff' AS TEXT), 1, ?)").run(ino);
    store.close();
    const b = await startUi(['badname']);
    try {
      const r = await get(b, '/api/agents/badname/fs/list?path=/');
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body).error).toMatch(/^EILSEQ: /);
      expect((await get(b, '/api/agents')).status).toBe(200);
    } finally {
      await stopUi(b);
    }
  });

  it('answers a corrupt or foreign database with a 4xx and its reason', async () => {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, '.agentfs', 'junk.db'), Buffer.alloc(4096, 7));
    const r = await get(ui, '/api/agents/junk/fs/list?path=/');
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(JSON.parse(r.body).error).toContain('junk.db');
  });

  it('with --bind 0.0.0.0, serves requests that name this machine by an interface address', async () => {
    const ip = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (!ip) return; // no non-loopback interface here
    const wide = await startUi(['h', '--bind', '0.0.0.0']);
    try {
      const r = await get(wide, '/api/agents', {}, ip);
      expect(r.status).toBe(200);
      expect(wide.stderr()).toContain('warning');
      // still no DNS rebinding: a name that only resolves here is refused
      expect((await get(wide, '/api/agents', { Host: `evil.example:${wide.port}` }, ip)).status).toBe(403);
    } finally {
      await stopUi(wide);
    }
  });
});
