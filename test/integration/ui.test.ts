import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ToolCalls } from '../../src/core/tools/index.js';
import { CLI, ROOT, runCli, tempDir } from '../support/cli.js';

/**
 * `agentfs ui` in a real browser: Debian's chromium driven by playwright-core (no browser
 * download), against agents made with the CLI. Screenshots of each page are kept in
 * test-artifacts/ui/ (gitignored).
 */
const CHROMIUM = process.env.AGENTFS_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts', 'ui');

let dir: string;
let cleanup: () => void;
let env: NodeJS.ProcessEnv;
let ui: ChildProcess | undefined;
let url: string;
let origin: string;
let token: string;
let cookie: string;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];
const cli = (...args: string[]) => runCli(args, { cwd: dir, env });
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
let ovDb: string;
let plainDb: string;
let before: { ov: string; plain: string };

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('agentfs-ui-'));
  env = { TZ: 'UTC', AGENTFS_HOME: join(dir, 'home') };
  mkdirSync(ARTIFACTS, { recursive: true });
  if (!existsSync(join(ROOT, 'dist', 'ui', 'assets', 'app.js'))) execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-ui.mjs')]);

  // an overlay agent with edits made inside recorded calls, a failure, and nested calls
  const base = join(dir, 'project');
  mkdirSync(join(base, 'src'), { recursive: true });
  writeFileSync(join(base, 'README.md'), '# project\n');
  writeFileSync(join(base, 'src', 'app.js'), 'console.log("v1");\nexport const x = 1;\n');
  expect((await cli('init', '--base', base, 'ov')).code).toBe(0);
  const fsWrite = (path: string, content: string) => [process.execPath, CLI, 'fs', 'write', 'ov', path, content];
  expect((await cli('record', 'ov', '--name', 'edit_file', '--', ...fsWrite('/src/app.js', 'console.log("v2");\nexport const x = 2;\n'))).code).toBe(0);
  expect((await cli('record', 'ov', '--name', 'write_notes', '--', ...fsWrite('/notes.md', '# notes\nall good\n'))).code).toBe(0);
  expect((await cli('record', 'ov', '--name', 'run_tests', '--', 'sh', '-c', 'echo "2 failing" >&2; exit 3')).code).toBe(3);
  // a binary file written outside any call
  expect((await runCli(['fs', 'write', 'ov', '/blob.bin', '-'], { cwd: dir, env, input: Buffer.from([0, 1, 2, 255]) })).code).toBe(0);
  ovDb = join(dir, '.agentfs', 'ov.db');
  // nested calls with real durations, written by a process that then exits: its connection is
  // really closed (libsql closes one only once its statements are collected), so no -wal or -shm
  // stays behind from it and the check below sees only what the UI did
  const script = `
    import { Store } from ${JSON.stringify(join(ROOT, 'dist/store/index.js'))};
    import { ToolCalls } from ${JSON.stringify(join(ROOT, 'dist/core/tools/index.js'))};
    const store = Store.open({ path: ${JSON.stringify(ovDb)} });
    const tools = new ToolCalls(store);
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    const plan = tools.start('plan', { goal: 'ship it' });
    const search = tools.start('web_search', { query: 'agent filesystems' }, { parentId: plan });
    await sleep(40);
    tools.success(search, { hits: 3 });
    // a top-level call between the two nested ones: the waterfall still keeps those under their parent
    const lint = tools.start('lint', {}, { parentId: null });
    await sleep(10);
    tools.success(lint, 'ok');
    const read = tools.start('read_file', { path: '/README.md' }, { parentId: plan });
    await sleep(5);
    tools.success(read, '# project');
    tools.success(plan, { done: true });
    store.close();
  `;
  execFileSync(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'inherit'] });

  expect((await cli('init', 'plain')).code).toBe(0);
  expect((await cli('fs', 'write', 'plain', '/hello.txt', 'hello')).code).toBe(0);
  expect((await cli('kv', 'set', 'plain', 'progress', '{"step":3}')).code).toBe(0);
  plainDb = join(dir, '.agentfs', 'plain.db');
  // a run session, as `agentfs run` registers it (its database lives under AGENTFS_HOME)
  const sessions = join(dir, 'home', 'sessions');
  mkdirSync(sessions, { recursive: true });
  expect((await cli('init', '--base', base, join(sessions, 'run-abc.db'))).code).toBe(0);
  writeFileSync(join(sessions, 'run-abc.json'), JSON.stringify({ id: 'run-abc', database: join(sessions, 'run-abc.db'), base, createdAt: new Date().toISOString() }));
  before = { ov: sha(ovDb), plain: sha(plainDb) };

  ui = spawn(process.execPath, [CLI, 'ui', '--no-open'], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    ui!.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    ui!.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    ui!.once('exit', (code) => reject(new Error(`agentfs ui exited (${code}): ${out}`)));
  });
  const u = new URL(url);
  // the server's pages live under a random path (the token cookie's Path): origin includes it
  origin = `${u.origin}${u.pathname.replace(/\/$/, '')}`;
  token = u.searchParams.get('token')!;
  cookie = `agentfs_ui_${u.port}=${token}`;

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
});

afterAll(async () => {
  await browser?.close();
  if (ui && ui.exitCode === null) {
    const exited = new Promise((r) => ui!.once('exit', r));
    ui.kill('SIGTERM');
    await exited;
  }
  cleanup();
});

describe('agentfs ui', () => {
  it('refuses requests without the token, with a foreign Host or Origin', async () => {
    expect((await get('/api/agents')).status).toBe(403);
    expect((await get('/')).status).toBe(403);
    expect((await get(`/api/agents?token=${token}`, { Host: 'evil.example' })).status).toBe(403);
    expect((await get('/api/agents', { Cookie: cookie, Host: 'evil.example' })).status).toBe(403);
    expect((await get('/api/agents', { Cookie: cookie, Origin: 'http://evil.example' })).status).toBe(403);
    expect((await get('/api/agents', { Cookie: cookie, 'Sec-Fetch-Site': 'cross-site' })).status).toBe(403);
    expect((await get('/api/agents', { Cookie: `agentfs_ui_${new URL(origin).port}=wrong` })).status).toBe(403);
    const ok = await get('/api/agents', { Cookie: cookie });
    expect(ok.status).toBe(200);
    expect(String(ok.headers['content-security-policy'])).toContain("script-src 'self'");
  });

  it('lists the agents', async () => {
    await page.goto(url);
    expect(new URL(page.url()).searchParams.has('token')).toBe(false); // moved into a cookie
    await page.waitForSelector('#agents tr[data-agent="ov"]');
    const ov = await page.textContent('#agents tr[data-agent="ov"]');
    expect(ov).toContain('7'); // tool calls
    expect(ov).toContain(join(dir, 'project'));
    expect(await page.textContent('#agents tr[data-agent="plain"]')).toContain('plain');
    expect(await page.textContent('#agents tr[data-agent="run-abc"]')).toContain('run session');
    await shot('agents');
  });

  it('draws one bar per call, nested calls under their parent, colored by status', async () => {
    await page.click('#agents tr[data-agent="ov"] a');
    await page.waitForSelector('#waterfall .bar');
    expect(await page.locator('#waterfall .bar').count()).toBe(7);
    expect(await page.locator('#waterfall .bar.status-error').count()).toBe(1);
    const rows = await page.locator('#waterfall .wf-row[data-call]').evaluateAll((els) =>
      els.map((e) => [e.querySelector('.wf-label a')!.textContent, e.className.includes('depth-1') ? 1 : 0]),
    );
    const plan = rows.findIndex(([n]) => n === 'plan');
    expect(rows.slice(plan, plan + 3)).toEqual([['plan', 0], ['web_search', 1], ['read_file', 1]]);
    // the file changes made inside edit_file are ticks on its row
    expect(await page.locator('#waterfall .wf-row:has(a:text-is("edit_file")) .tick').count()).toBeGreaterThan(0);
    expect(await page.textContent('#events')).toContain('/src/app.js');
    // hovering a bar names the call and its arguments
    expect(await page.getAttribute('#waterfall .wf-row:has(a:text-is("web_search")) .bar', 'title')).toContain('agent filesystems');
    await shot('waterfall');
    await page.screenshot({ path: join(ARTIFACTS, 'waterfall-view.png') }); // the one in docs/ and the README
    await page.locator('#waterfall').screenshot({ path: join(ARTIFACTS, 'waterfall-only.png') });
  });

  it('zooms into a time range dragged across the waterfall', async () => {
    // from the start of the axis, on a row whose bar is elsewhere (a press on a bar opens the call)
    const track = (await page.locator('#waterfall .wf-row:has(a:text-is("run_tests")) .wf-track').boundingBox())!;
    const y = track.y + track.height / 2;
    await page.mouse.move(track.x - 20, y); // left of the axis: from its very start
    await page.mouse.down();
    await page.mouse.move(track.x + track.width * 0.6, y, { steps: 5 });
    await page.mouse.up();
    await page.waitForFunction(() => location.hash.includes('since=') && location.hash.includes('until='));
    await page.waitForSelector('.pager .reset');
    // the first calls (edit_file from the start), not the last ones (plan and its nested calls at the end)
    await page.waitForFunction(() => {
      const n = document.querySelectorAll('#waterfall .bar').length;
      return n > 0 && n < 7 && document.querySelector('#waterfall')!.textContent!.includes('edit_file');
    });
    await shot('zoomed');
    await page.click('.pager .reset');
    await page.waitForFunction(() => document.querySelectorAll('#waterfall .bar').length === 7);
  });

  it('opens a call with its arguments, result and file diff', async () => {
    await page.click('#waterfall .wf-row:has(a:text-is("edit_file")) .bar');
    await page.waitForSelector('#call-args');
    expect(await page.textContent('#call-args')).toContain('/src/app.js');
    await page.waitForSelector('.diff[data-path="/src/app.js"] .d2h-file-wrapper');
    const diff = await page.textContent('.diff[data-path="/src/app.js"]');
    expect(diff).toContain('console.log("v1");');
    expect(diff).toContain('console.log("v2");');
    expect(await page.textContent('#call-files')).toContain('write');
    await shot('call');
    await page.goBack();
    await page.click('#waterfall .wf-row:has(a:text-is("run_tests")) .bar');
    await page.waitForSelector('#call-error');
    expect(await page.textContent('#call-error')).toContain('exited with code 3');
    expect(await page.textContent('#call-error')).toContain('2 failing');
    await shot('call-error');
  });

  it('filters by status, tool and text', async () => {
    await page.click('[data-tab="timeline"]');
    await page.waitForSelector('#waterfall .bar');
    await page.uncheck('input[name="st-success"]');
    await page.uncheck('input[name="st-pending"]');
    await page.waitForFunction(() => document.querySelectorAll('#waterfall .bar').length === 1);
    expect(await page.textContent('#waterfall')).toContain('run_tests');
    await shot('filter-status');
    await page.check('input[name="st-success"]');
    await page.check('input[name="st-pending"]');
    await page.waitForFunction(() => document.querySelectorAll('#waterfall .bar').length === 7);
    await page.fill('input[name="q"]', 'agent filesystems');
    await page.click('#filters button[type="submit"]');
    await page.waitForFunction(() => document.querySelectorAll('#waterfall .bar').length === 1 && document.querySelector('#waterfall')!.textContent!.includes('web_search'));
    await page.fill('input[name="q"]', '');
    await page.fill('input[name="path"]', 'notes.md');
    await page.click('#filters button[type="submit"]');
    await page.waitForFunction(() => document.querySelectorAll('#waterfall .bar').length === 1 && document.querySelector('#waterfall')!.textContent!.includes('write_notes'));
  });

  it('shows the diff against the base, the files, kv and stats', async () => {
    await page.click('[data-tab="changes"]');
    await page.waitForSelector('#changes li[data-path="/notes.md"]');
    expect(await page.textContent('#changes li[data-path="/notes.md"]')).toContain('A');
    expect(await page.textContent('#changes li[data-path="/src/app.js"]')).toContain('M');
    await page.click('#changes li[data-path="/src/app.js"] a');
    await page.waitForSelector('.diff-pane .d2h-file-wrapper');
    await page.click('.diff-pane button:text-is("side by side")');
    await page.waitForSelector('.diff-pane .d2h-file-side-diff');
    await shot('diff');
    await page.click('#changes li[data-path="/blob.bin"] a');
    await page.waitForSelector('.diff-pane .diff[data-path="/blob.bin"]');
    expect(await page.textContent('.diff-pane')).toContain('binary, 4 B');

    await page.click('[data-tab="files"]');
    await page.click('#files li[data-path="/notes.md"] a');
    await page.waitForSelector('#file-text');
    expect(await page.textContent('#file-text')).toBe('# notes\nall good\n');
    const dl = await get(`/api/agents/ov/fs/download?path=${encodeURIComponent('/notes.md')}`, { Cookie: cookie });
    expect(dl.headers['content-disposition']).toMatch(/^attachment;/);
    expect(dl.headers['content-type']).toBe('application/octet-stream');
    expect(dl.body).toBe('# notes\nall good\n');
    await page.click('#files li[data-path="/src"] button');
    await page.waitForSelector('#files li[data-path="/src/app.js"]');
    await shot('files');

    await page.click('[data-tab="stats"]');
    await page.waitForSelector('#chart-calls');
    expect(await page.textContent('#stats-tools')).toContain('run_tests');
    expect(await page.textContent('#stats-paths')).toContain('/src/app.js');
    await shot('stats');

    await page.goto(`${origin}/#/a/plain/kv`);
    await page.waitForSelector('#kv td');
    expect(await page.textContent('#kv')).toContain('progress');
    await shot('kv');
  });

  it('wrote nothing to the databases', () => {
    expect(sha(ovDb)).toBe(before.ov);
    expect(sha(plainDb)).toBe(before.plain);
    // nor next to them: no -wal or -shm where no writer had the database open
    for (const db of [ovDb, plainDb]) expect(['-wal', '-shm'].filter((x) => existsSync(db + x))).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it('shows a new call while it is recorded, without reloading', async () => {
    await page.goto(`${origin}/#/a/ov/timeline`);
    await page.waitForSelector('#waterfall .bar');
    // a command that runs until told to stop: its call shows as running, then as finished
    const flag = join(dir, 'stop-live');
    const rec = cli('record', 'ov', '--name', 'live_step', '--', 'sh', '-c', `while [ ! -e '${flag}' ]; do sleep 0.05; done`);
    await page.waitForSelector('#waterfall .wf-row[data-status="pending"]:has(a:text-is("live_step"))', { timeout: 15_000 });
    await shot('live-running');
    writeFileSync(flag, '');
    expect((await rec).code).toBe(0);
    await page.waitForSelector('#waterfall .wf-row[data-status="success"]:has(a:text-is("live_step"))', { timeout: 15_000 });
    expect(await page.locator('#waterfall .bar').count()).toBe(8);
    await shot('live');
  });

  it('serves only the agents named, by id, path or session id', async () => {
    const other = spawn(process.execPath, [CLI, 'ui', '--no-open', 'plain', join(dir, '.agentfs', 'ov.db'), 'run-abc'], {
      cwd: dir,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const u = new URL(
        await new Promise<string>((resolve, reject) => {
          let out = '';
          other.stdout!.on('data', (d: Buffer) => {
            out += d.toString();
            const m = /(http:\/\/\S+)/.exec(out);
            if (m) resolve(m[1]!);
          });
          other.once('exit', (code) => reject(new Error(`agentfs ui exited (${code})`)));
        }),
      );
      const res = await new Promise<string>((resolve, reject) => {
        request(`${u.origin}${u.pathname}api/agents`, { headers: { Cookie: `agentfs_ui_${u.port}=${u.searchParams.get('token')}` } }, (r) => {
          let body = '';
          r.on('data', (c: Buffer) => (body += c.toString()));
          r.on('end', () => resolve(body));
        })
          .on('error', reject)
          .end();
      });
      const list = JSON.parse(res) as { key: string; kind: string }[];
      expect(list.map((a) => [a.key, a.kind])).toEqual([
        ['plain', 'agent'],
        ['ov', 'file'],
        ['run-abc', 'session'],
      ]);
    } finally {
      const exited = new Promise((r) => other.once('exit', r));
      other.kill('SIGTERM');
      await exited;
    }
  });

  it('rejects an unknown agent and a bad port with one line', async () => {
    const r = await cli('ui', '--no-open', 'nope');
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^agentfs: no such agent or session 'nope'/);
    const p = await cli('ui', '--no-open', '--port', 'x');
    expect(p.code).not.toBe(0);
    expect(p.stderr).toMatch(/^agentfs: --port x/);
  });
  it('renders agent-written HTML as text everywhere, and its CSP stops inline code', async () => {
    const X = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><svg onload="window.__xss=3"/>';
    expect((await cli('init', 'xss')).code).toBe(0);
    const { Agent } = await import('../../src/core/agent.js');
    const agent = Agent.open({ path: join(dir, '.agentfs', 'xss.db') });
    agent.paths.writeFile('/page.html', X);
    agent.paths.writeFile(`/${X.replace(/\//g, '_')}`, X);
    agent.kv.set(X, X);
    const tools = new ToolCalls(agent.store);
    const id = tools.start(X, { html: X });
    tools.error(id, new Error(X));
    agent.close();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    for (const route of ['#/', '#/a/xss/timeline', `#/a/xss/call/${id}`, '#/a/xss/files', '#/a/xss/files?path=%2Fpage.html', '#/a/xss/kv']) {
      await page.goto(`${origin}/${route}`);
      await page.waitForSelector('main :is(table, pre, ul, svg, p)');
      await page.waitForTimeout(200);
      expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    }
    expect(await page.textContent('#kv')).toContain('<script>');
    // and were some markup to slip in, the policy would not run it
    const blocked = await page.evaluate(async () => {
      const w = window as unknown as { __xss?: number };
      const d = document.createElement('div');
      d.innerHTML = '<img src=x onerror="window.__xss=4">';
      document.body.append(d);
      const s = document.createElement('script');
      s.textContent = 'window.__xss = 5';
      document.body.append(s);
      await new Promise((r) => setTimeout(r, 300));
      return w.__xss;
    });
    expect(blocked).toBeUndefined();
    expect(dialogs).toEqual([]);
  });
});
