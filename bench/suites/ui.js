// `agentfs ui` at scale: an agent with BENCH_UI_CALLS tool calls (default 100,000, a tenth of
// them nested) and BENCH_UI_JOURNAL journal rows (default 1,000,000), served by `agentfs ui` in
// its own process. Reports the time to the first screen (in Debian's chromium when it is there,
// and as the API requests that screen makes), to a call page and to a page deep in the history,
// the server's memory, and the size of the bundled assets. Limits from issue 15: first screen
// < 1 s, server private memory < 200 MB, assets < 500 KiB gzipped.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Agent } from '../../dist/core/agent.js';
import { ToolCalls } from '../../dist/core/tools/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'bin', 'agentfs.js');
const CALLS = Number(process.env.BENCH_UI_CALLS ?? 100_000);
const JOURNAL = Number(process.env.BENCH_UI_JOURNAL ?? 1_000_000);
const CHROMIUM = process.env.AGENTFS_CHROMIUM ?? '/usr/bin/chromium';

/** Writes the agent directly in a few big transactions (the bench measures reading, not writing). */
export function generate(file, CALLS = Number(process.env.BENCH_UI_CALLS ?? 100_000), JOURNAL = Number(process.env.BENCH_UI_JOURNAL ?? 1_000_000)) {
  const agent = Agent.open({ path: file }, { create: true, journal: true }); // makes the journal table
  new ToolCalls(agent.store).list({ limit: 1 }); // and the tool-call tables
  const db = agent.store.db;
  const call = db.prepare(
    `INSERT INTO tool_calls (id, name, parameters, result, error, status, started_at, completed_at, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const ext = db.prepare('INSERT INTO agentfs_tool_call_ext (id, parent_id, started_ns, completed_ns, pid) VALUES (?, ?, ?, ?, ?)');
  const jr = db.prepare(
    `INSERT INTO agentfs_journal (time_ns, end_ns, op, path, ino, offset, length, bytes, writes, size, tool_call_id, pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const tools = ['read_file', 'write_file', 'bash', 'web_search', 'grep', 'edit', 'list_dir', 'run_tests'];
  const t0 = BigInt(Date.now() - 3600_000) * 1_000_000n;
  const perCall = JOURNAL / CALLS;
  let j = 0;
  const batch = 20_000;
  for (let start = 1; start <= CALLS; start += batch) {
    db.exec('BEGIN');
    for (let id = start; id < Math.min(CALLS + 1, start + batch); id++) {
      const s = t0 + BigInt(id) * 30_000_000n; // a call every 30 ms
      const dur = 5 + ((id * 7919) % 400);
      const e = s + BigInt(dur) * 1_000_000n;
      const failed = id % 23 === 0;
      const name = tools[id % tools.length];
      const parent = id % 10 > 0 && id % 10 < 3 ? id - (id % 10) : null; // x1, x2 nested in x0
      call.run(id, name, JSON.stringify({ path: `/src/mod${id % 500}/file${id % 97}.ts`, n: id }), failed ? null : JSON.stringify({ ok: true, bytes: dur * 10 }),
        failed ? `exit 1: failure ${id}` : null, failed ? 'error' : 'success', Number(s / 1_000_000_000n), Number(e / 1_000_000_000n), dur);
      ext.run(id, parent, s, e, 4242);
      const rows = Math.floor(perCall * id) - Math.floor(perCall * (id - 1));
      for (let k = 0; k < rows; k++, j++) {
        const t = s + BigInt(k) * 100_000n;
        jr.run(t, t, k % 3 === 0 ? 'create' : 'write', `/src/mod${id % 500}/file${(id + k) % 97}.ts`, 1000 + (j % 5000), 0, 100, 100, 1, 100, id, 4242);
      }
    }
    db.exec('COMMIT');
  }
  agent.close();
}

function get(origin, path, cookie) {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}${path}`, { headers: { Cookie: cookie, 'Accept-Encoding': 'gzip' } }, (res) => {
      let n = 0;
      res.on('data', (d) => (n += d.length));
      res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`${path}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

async function timed(fn) {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function memory(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0) / 1024;
  return { anon: kb('RssAnon'), hwm: kb('VmHWM') };
}

export async function run(report) {
  const assets = join(ROOT, 'dist', 'ui', 'assets');
  let gz = 0;
  let firstGz = 0;
  for (const f of readdirSync(assets)) {
    const n = gzipSync(readFileSync(join(assets, f)), { level: 9 }).length;
    gz += n;
    if (!f.startsWith('chunk-') || statSync(join(assets, f)).size < 4096) firstGz += n; // the big chunks load on demand
  }
  report({ suite: 'ui', workload: 'bundled assets, gzipped', agentfs: gz / 1024, unit: 'KiB', baseline: 500, baselineName: 'limit' });
  report({ suite: 'ui', workload: 'assets of the first screen, gzipped', agentfs: firstGz / 1024, unit: 'KiB' });

  const work = mkdtempSync(join(tmpdir(), 'agentfs-bench-ui-'));
  const file = join(work, 'big.db');
  let server;
  try {
    const genMs = await timed(() => generate(file));
    console.log(`generated ${CALLS} calls and ${JOURNAL} journal rows in ${(genMs / 1000).toFixed(1)} s`);
    server = spawn(process.execPath, [CLI, 'ui', '--no-open', file], { stdio: ['ignore', 'pipe', 'inherit'] });
    const url = await new Promise((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (d) => {
        out += d;
        const m = /(http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      server.once('exit', (c) => reject(new Error(`agentfs ui exited ${c}`)));
    });
    const u = new URL(url);
    const origin = `${u.origin}${u.pathname.replace(/\/$/, '')}`; // pages live under a random path
    const cookie = `agentfs_ui_${u.port}=${u.searchParams.get("token")}`;
    const key = 'big';

    // the first screen's requests, cold and one after the other: page, list, agent overview, the
    // last page of calls with the journal rows of its time span
    const first = await timed(async () => {
      for (const p of ['/', '/assets/app.js', '/assets/app.css', '/api/agents', `/api/agents/${key}`, `/api/agents/${key}/calls?page=last&limit=200&journal=500`]) {
        await get(origin, p, cookie);
      }
    });
    report({ suite: 'ui', workload: `first screen API, ${CALLS} calls/${JOURNAL} rows`, agentfs: first, unit: 'ms', baseline: 1000, baselineName: 'limit' });
    const mid = Math.floor(CALLS / 2);
    report({ suite: 'ui', workload: 'call page (call + its file changes)', agentfs: await timed(() => get(origin, `/api/agents/${key}/calls/${mid}`, cookie)), unit: 'ms' });
    report({ suite: 'ui', workload: 'a page of 200 calls mid-history', agentfs: await timed(() => get(origin, `/api/agents/${key}/calls?offset=${mid}&limit=200`, cookie)), unit: 'ms' });
    report({ suite: 'ui', workload: 'calls filtered by status=error', agentfs: await timed(() => get(origin, `/api/agents/${key}/calls?status=error&page=last`, cookie)), unit: 'ms' });
    report({ suite: 'ui', workload: 'stats (per tool p50/p95, top paths)', agentfs: await timed(() => get(origin, `/api/agents/${key}/stats`, cookie)), unit: 'ms' });

    if (existsSync(CHROMIUM)) {
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      });
      try {
        const ctx = await browser.newContext();
        const first = await ctx.newPage();
        await first.goto(url); // takes the token into the context's cookie
        await first.waitForSelector('#agents');
        await first.close();
        const page = await ctx.newPage();
        const screen = await timed(async () => {
          await page.goto(`${origin}/#/a/${key}/timeline`);
          await page.waitForSelector('#waterfall .bar');
        });
        report({ suite: 'ui', workload: 'first screen in chromium (waterfall drawn)', agentfs: screen, unit: 'ms', baseline: 1000, baselineName: 'limit' });
        const callMs = await timed(async () => {
          await page.goto(`${origin}/#/a/${key}/call/${mid}`);
          await page.waitForSelector('#call-args');
        });
        report({ suite: 'ui', workload: 'call page in chromium', agentfs: callMs, unit: 'ms' });
      } finally {
        await browser.close();
      }
    }
    const mem = memory(server.pid);
    report({ suite: 'ui', workload: 'server private memory (RssAnon)', agentfs: mem.anon, unit: 'MB', baseline: 200, baselineName: 'limit' });
    report({ suite: 'ui', workload: 'server peak RSS incl. mapped db (VmHWM)', agentfs: mem.hwm, unit: 'MB' });
  } finally {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    rmSync(work, { recursive: true, force: true });
  }
}
