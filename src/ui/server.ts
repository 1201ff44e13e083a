import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { AgentSet, type AgentHandle } from './agents.js';
import * as api from './api.js';
import { HttpError } from './api.js';
import { Gate, baseHeaders, newToken } from './security.js';
import { StoreError } from '../store/index.js';
import { FsError } from '../core/errors.js';
import { AgentfsError } from '../errors.js';

/**
 * `agentfs ui`: a local web server over agent databases, read-only. node:http and no framework:
 * a dozen GET routes, static assets held in memory (built into dist/ui/assets by
 * scripts/build-ui.mjs), live updates by Server-Sent Events when PRAGMA data_version moves.
 */
export interface UiOptions {
  /** agent ids, paths or run session ids; none: every agent in ./.agentfs and every session */
  targets: string[];
  port?: number;
  bind?: string;
  cwd?: string;
  /** directory of index.html, app.js, app.css (default: dist/ui/assets next to this module) */
  assetsDir?: string;
  /** how often open agents are checked for commits by other processes (default 250 ms) */
  pollMs?: number;
}

export interface UiServer {
  url: string;
  port: number;
  token: string;
  agents: AgentSet;
  close(): Promise<void>;
}

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Live-update (Server-Sent Events) connections open at once. */
const MAX_STREAMS = 256;

export function defaultAssetsDir(): string {
  return fileURLToPath(new URL('./assets/', import.meta.url));
}

function loadAssets(dir: string): Map<string, Asset> {
  const manifest = join(dir, 'index.html');
  if (!existsSync(manifest)) throw new AgentfsError('unsupported', `the UI's assets are missing (${dir}); build them with \`npm run build\``);
  const out = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    // only what the build writes; a name is never joined to a path from a request
    if (!/^[\w-]+\.(html|js|css)$/.test(name)) continue;
    const body = readFileSync(join(dir, name));
    out.set(name, { type: TYPES[name.slice(name.lastIndexOf('.'))]!, body, gzip: gzipSync(body, { level: 9 }) });
  }
  return out;
}

export async function startUi(options: UiOptions): Promise<UiServer> {
  const bind = options.bind ?? '127.0.0.1';
  const agents = new AgentSet(options.targets, options.cwd);
  // a bad database named on the command line fails the command; found ones show their error in the list
  if (options.targets.length) for (const s of agents.sources()) void agents.get(s.key)!.store;
  const assets = loadAssets(options.assetsDir ?? defaultAssetsDir());
  const token = newToken();
  // Every page lives under a random path, the token cookie's Path: browsers send a host's cookies
  // to all its ports, but this path only to whoever knows it (not another server on 127.0.0.1).
  const base = `/${newToken().slice(0, 12)}/`;
  let gate: Gate | undefined;
  const streams = new Set<{ res: ServerResponse; key: string | null; handle: AgentHandle | undefined; version: number }>();

  const server: Server = createServer((req, res) => {
    const t0 = performance.now();
    if (process.env.AGENTFS_UI_TRACE) res.on('finish', () => console.error(`${(performance.now() - t0).toFixed(1)}ms ${req.url}`));
    try {
      handle(req, res);
    } catch (e) {
      fail(res, e);
    }
  });

  function handle(req: IncomingMessage, res: ServerResponse): void {
    baseHeaders(res);
    const url = new URL(req.url ?? '/', 'http://ui.invalid');
    const why = gate!.refuse(req, url);
    if (why) return send(res, 403, 'text/plain; charset=utf-8', `forbidden: ${why}\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'read-only: GET only\n');
    if (!url.pathname.startsWith(base)) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    const path = `/${url.pathname.slice(base.length)}`;
    if (url.searchParams.has('token')) {
      // keep the token in a cookie and out of the address bar and history
      res.setHeader('Set-Cookie', gate!.cookie(base));
      url.searchParams.delete('token');
      // under base (a path that reads as //host would send the browser to another server)
      res.writeHead(303, { Location: `${base}${path.replace(/^[/\\]+/, '')}${url.search}`, 'Cache-Control': 'no-store' });
      res.end();
      return;
    }
    if (path === '/' || path === '/index.html') return asset(req, res, 'index.html');
    if (path.startsWith('/assets/')) return asset(req, res, path.slice('/assets/'.length));
    if (path === '/api/agents') return json(res, api.listAgents(agents));
    if (path === '/api/events') return events(req, res, url.searchParams.get('agent'));
    const m = /^\/api\/agents\/([^/]+)(\/.*)?$/.exec(path);
    if (!m) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    let key: string;
    try {
      key = decodeURIComponent(m[1]!);
    } catch {
      throw new HttpError(400, 'agent: not a valid URL-encoded id');
    }
    const h = agents.get(key);
    if (!h) throw new HttpError(404, `no agent ${key}`);
    const rest = m[2] ?? '';
    const p = url.searchParams;
    const filePath = () => {
      const fp = p.get('path');
      if (!fp || !fp.startsWith('/') || fp.includes('\0')) throw new HttpError(400, 'path: expected an absolute path in the agent');
      return fp;
    };
    switch (rest) {
      case '':
        return json(res, api.overview(h));
      case '/calls':
        return json(res, api.callsPage(h, p));
      case '/journal':
        return json(res, api.journalWindow(h, p));
      case '/stats':
        return json(res, api.stats(h));
      case '/changes':
        return json(res, api.changes(h));
      case '/diff':
        return json(res, api.fileDiff(h, filePath()));
      case '/fs/list':
        return json(res, api.listDir(h, p.get('path') || '/'));
      case '/fs/view':
        return json(res, api.viewFile(h, filePath()));
      case '/fs/download':
        return download(res, h, filePath());
      case '/kv':
        return json(res, api.kvPage(h, p));
    }
    const call = /^\/calls\/(\d+)$/.exec(rest);
    if (call) return json(res, api.callDetail(h, Number(call[1])));
    throw new HttpError(404, 'not found');
  }

  function asset(req: IncomingMessage, res: ServerResponse, name: string): void {
    const a = assets.get(name);
    if (!a) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    const gz = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    res.writeHead(200, {
      'Content-Type': a.type,
      'Content-Length': (gz ? a.gzip : a.body).length,
      'Cache-Control': 'no-cache',
      Vary: 'Accept-Encoding',
      ...(gz ? { 'Content-Encoding': 'gzip' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : gz ? a.gzip : a.body);
  }

  /** Agent-written bytes never render in our origin: an attachment, opaque type, sandboxed. */
  function download(res: ServerResponse, h: AgentHandle, path: string): void {
    const agent = h.openAgent();
    let file;
    try {
      file = api.filePieces(agent, path);
    } catch (e) {
      agent.close();
      throw e;
    }
    const { size, pieces } = file;
    const name = path.slice(path.lastIndexOf('/') + 1) || 'file';
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': size,
      'Content-Disposition': `attachment; filename="${name.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`,
      'Content-Security-Policy': "default-src 'none'; sandbox",
      'Cache-Control': 'no-store',
    });
    const pump = () => {
      try {
        for (;;) {
          const next = pieces.next();
          if (next.done) return void res.end();
          if (!res.write(next.value)) return void res.once('drain', pump);
        }
      } catch (e) {
        res.destroy(e as Error);
      }
    };
    res.on('close', () => {
      pieces.return(undefined);
      agent.close();
    });
    pump();
  }

  /** Server-Sent Events: `change` when the agent (or, without one, any opened agent) was written. */
  function events(req: IncomingMessage, res: ServerResponse, key: string | null): void {
    const handle = key ? agents.get(key) : undefined;
    if (key && !handle) throw new HttpError(404, `no agent ${key}`);
    // each is a socket and a poll; a page needs one or two, a runaway script thousands
    if (streams.size >= MAX_STREAMS) throw new HttpError(503, `more than ${MAX_STREAMS} live connections; close some pages`);
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    res.write('retry: 1000\n\n');
    const s = { res, key, handle, version: handle ? handle.version() : 0 };
    streams.add(s);
    req.on('close', () => streams.delete(s));
  }

  const timer = setInterval(() => {
    const now = new Map<string, { h: AgentHandle | undefined; v: number }>();
    for (const s of streams) {
      try {
        if (s.res.writableLength > 1 << 16) {
          // a client that stopped reading: drop it rather than buffer for it without end
          s.res.destroy();
          streams.delete(s);
          continue;
        }
        if (!s.key) {
          s.res.write(': ping\n\n');
          continue;
        }
        // looked up each time: the agent's database may have been replaced (a new handle)
        let cur = now.get(s.key);
        if (!cur) {
          const h = agents.get(s.key);
          now.set(s.key, (cur = { h, v: h ? h.version() : -1 }));
        }
        const v = cur.v;
        if (v !== s.version || cur.h !== s.handle) {
          s.version = v;
          s.handle = cur.h;
          s.res.write(`event: change\ndata: ${JSON.stringify({ agent: s.key, version: v })}\n\n`);
        }
      } catch {
        /* a database gone away: the page says so at its next request */
      }
    }
  }, options.pollMs ?? 250);
  timer.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, bind, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : options.port ?? 0;
  gate = new Gate(token, bind, port);
  const host = bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind.includes(':') ? `[${bind}]` : bind;
  return {
    url: `http://${host}:${port}${base}?token=${token}`,
    port,
    token,
    agents,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        for (const s of streams) s.res.end();
        streams.clear();
        server.close(() => resolve());
        server.closeAllConnections();
        agents.close();
      }),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

function json(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(body);
}

function fail(res: ServerResponse, e: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // a database that is gone or not one we can read is the request's problem, not the server's
  const status =
    e instanceof HttpError ? e.status
    : e instanceof StoreError ? (e.code === 'not-found' ? 404 : 422)
    : e instanceof FsError ? (e.code === 'ENOENT' || e.code === 'ENOTDIR' ? 404 : 400) // e.g. EILSEQ: a name stored by another program
    : 500;
  const message = e instanceof Error ? e.message : String(e);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify({ error: message }));
}
