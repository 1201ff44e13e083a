#!/usr/bin/env node
/**
 * A loopback test server for the Hrana-over-HTTP protocol (v2, JSON), the way Turso/sqld serve it:
 * POST /v2/pipeline with execute, batch (conditions ok/error/not/and/or/is_autocommit), sequence,
 * describe, store_sql, close_sql, get_autocommit and close requests on baton-held streams;
 * GET /health, /version, /v2. Bearer-token auth. Backed by a real libSQL database file.
 *
 * Test support only, never part of the product. Run as a separate process:
 *   node hrana-server.mjs --db FILE [--port 0] [--token TOKEN] [--delay-ms N] [--drop-after N]
 * It prints one JSON line `{"port": N}` on stdout once listening.
 *
 * Fault injection (for "killed mid-way" tests): --delay-ms delays every pipeline response,
 * --drop-after N destroys the connection of every pipeline request after the first N without
 * answering (the request is not executed), as a lost network would; --lose-reply-after N executes
 * those requests but loses the answers (the network died after the server committed).
 * Stalls (for timeout tests): --stall-after N holds every pipeline request after the first N open
 * forever without executing it; --stall-reply-at N executes the Nth pipeline request and never
 * answers it (later ones are served); --drop-at N drops only the Nth request, unexecuted.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'));
const Database = require('libsql');

const args = parseArgs(process.argv.slice(2));
if (!args.db) {
  process.stderr.write('usage: hrana-server.mjs --db FILE [--port N] [--token T] [--delay-ms N] [--drop-after N]\n');
  process.exit(2);
}
const TOKEN = args.token;
const DELAY_MS = Number(args['delay-ms'] ?? 0);
const DROP_AFTER = args['drop-after'] === undefined ? Infinity : Number(args['drop-after']);
const LOSE_REPLY_AFTER = args['lose-reply-after'] === undefined ? Infinity : Number(args['lose-reply-after']);
const STALL_AFTER = args['stall-after'] === undefined ? Infinity : Number(args['stall-after']);
const STALL_REPLY_AT = args['stall-reply-at'] === undefined ? -1 : Number(args['stall-reply-at']);
const DROP_AT = args['drop-at'] === undefined ? -1 : Number(args['drop-at']);
const STREAM_IDLE_MS = 10_000;

/** Open streams by baton. Each stream has its own connection, so transactions are isolated. */
const streams = new Map();
let pipelineRequests = 0;

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const key = a.slice(2);
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) out[key] = true;
      else {
        out[key] = next;
        i++;
      }
    }
  }
  return out;
}

function openConnection() {
  const db = new Database(args.db);
  // Never block the event loop waiting for another stream's lock: report SQLITE_BUSY instead.
  db.exec('PRAGMA busy_timeout = 0');
  db.exec('PRAGMA journal_mode = WAL');
  return db;
}

class Stream {
  constructor() {
    this.db = openConnection();
    this.sqls = new Map();
    this.timer = undefined;
    this.closed = false;
  }
  touch(onExpire) {
    clearTimeout(this.timer);
    this.timer = setTimeout(onExpire, STREAM_IDLE_MS);
    this.timer.unref();
  }
  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    try {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
    } catch {
      /* the connection is going away anyway */
    }
    this.db.close();
  }
}

class ProtoError extends Error {
  constructor(message, status = 400, code = 'PROTO_ERROR') {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// ---- values -------------------------------------------------------------------------------

function valueFromProto(v) {
  if (v === null || typeof v !== 'object') throw new ProtoError('value must be an object');
  switch (v.type) {
    case 'null':
      return null;
    case 'integer': {
      if (typeof v.value !== 'string' && typeof v.value !== 'number') throw new ProtoError('integer value must be a string');
      return BigInt(v.value);
    }
    case 'float':
      if (typeof v.value !== 'number') throw new ProtoError('float value must be a number');
      return v.value;
    case 'text':
      if (typeof v.value !== 'string') throw new ProtoError('text value must be a string');
      return v.value;
    case 'blob':
      if (typeof v.base64 !== 'string') throw new ProtoError('blob value needs base64');
      return Buffer.from(v.base64, 'base64');
    default:
      throw new ProtoError(`unknown value type ${JSON.stringify(v.type)}`);
  }
}

function valueToProto(v) {
  if (v === null || v === undefined) return { type: 'null' };
  if (typeof v === 'bigint') return { type: 'integer', value: v.toString() };
  // with safeIntegers on, only REAL columns come back as JS numbers
  if (typeof v === 'number') return { type: 'float', value: v };
  if (typeof v === 'string') return { type: 'text', value: v };
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { type: 'blob', base64: Buffer.from(v).toString('base64') };
  return { type: 'text', value: String(v) };
}

// ---- statements ---------------------------------------------------------------------------

function sqlOf(stream, stmt) {
  if (typeof stmt.sql === 'string') return stmt.sql;
  if (stmt.sql_id !== undefined && stmt.sql_id !== null) {
    const sql = stream.sqls.get(stmt.sql_id);
    if (sql === undefined) throw new ProtoError(`sql_id ${stmt.sql_id} is not stored`);
    return sql;
  }
  throw new ProtoError('statement needs sql or sql_id');
}

function sqliteError(e) {
  return { message: String(e.message ?? e), code: typeof e.code === 'string' ? e.code : 'SQLITE_ERROR' };
}

function execute(stream, stmt) {
  const sql = sqlOf(stream, stmt);
  const started = performance.now();
  const prepared = stream.db.prepare(sql);
  const params = [];
  const positional = Array.isArray(stmt.args) ? stmt.args.map(valueFromProto) : [];
  params.push(...positional);
  if (Array.isArray(stmt.named_args) && stmt.named_args.length) {
    const named = {};
    for (const { name, value } of stmt.named_args) {
      const bare = String(name).replace(/^[:@$]/, '');
      named[bare] = valueFromProto(value);
    }
    params.push(named);
  }
  const wantRows = stmt.want_rows !== false;
  if (prepared.reader) {
    prepared.safeIntegers(true).raw(true);
    const rows = prepared.all(...params);
    const cols = prepared.columns().map((c) => ({ name: c.name, decltype: c.type ?? null }));
    return {
      cols,
      rows: wantRows ? rows.map((r) => r.map(valueToProto)) : [],
      affected_row_count: 0,
      last_insert_rowid: null,
      replication_index: null,
      rows_read: rows.length,
      rows_written: 0,
      query_duration_ms: performance.now() - started,
    };
  }
  const info = prepared.run(...params);
  return {
    cols: [],
    rows: [],
    affected_row_count: Number(info.changes),
    last_insert_rowid: info.lastInsertRowid === undefined ? null : String(info.lastInsertRowid),
    replication_index: null,
    rows_read: 0,
    rows_written: Number(info.changes),
    query_duration_ms: performance.now() - started,
  };
}

function evalCond(stream, cond, results, errors) {
  if (cond === undefined || cond === null) return true;
  switch (cond.type) {
    case 'ok':
      return results[cond.step] !== undefined && results[cond.step] !== null;
    case 'error':
      return errors[cond.step] !== undefined && errors[cond.step] !== null;
    case 'not':
      return !evalCond(stream, cond.cond, results, errors);
    case 'and':
      return (cond.conds ?? []).every((c) => evalCond(stream, c, results, errors));
    case 'or':
      return (cond.conds ?? []).some((c) => evalCond(stream, c, results, errors));
    case 'is_autocommit':
      return !stream.db.inTransaction;
    default:
      throw new ProtoError(`unknown batch condition ${JSON.stringify(cond.type)}`);
  }
}

function batch(stream, b) {
  if (!b || !Array.isArray(b.steps)) throw new ProtoError('batch needs steps');
  const results = [];
  const errors = [];
  b.steps.forEach((step, i) => {
    results[i] = null;
    errors[i] = null;
    if (!evalCond(stream, step.condition, results, errors)) return;
    try {
      results[i] = execute(stream, step.stmt);
    } catch (e) {
      if (e instanceof ProtoError) throw e;
      errors[i] = sqliteError(e);
    }
  });
  return { step_results: results, step_errors: errors };
}

function describe(stream, req) {
  const sql = sqlOf(stream, req);
  const prepared = stream.db.prepare(sql);
  const cols = prepared.reader ? prepared.columns().map((c) => ({ name: c.name, decltype: c.type ?? null })) : [];
  const params = [];
  for (const m of sql.matchAll(/(\?\d*|[:@$][A-Za-z_][A-Za-z0-9_]*)/g)) params.push({ name: m[1].startsWith('?') ? null : m[1] });
  return { params, cols, is_explain: /^\s*explain\b/i.test(sql), is_readonly: prepared.reader };
}

function handleRequest(stream, req) {
  switch (req.type) {
    case 'execute':
      return { type: 'execute', result: execute(stream, req.stmt) };
    case 'batch':
      return { type: 'batch', result: batch(stream, req.batch) };
    case 'sequence':
      stream.db.exec(sqlOf(stream, req));
      return { type: 'sequence' };
    case 'describe':
      return { type: 'describe', result: describe(stream, req) };
    case 'store_sql':
      if (typeof req.sql !== 'string' || typeof req.sql_id !== 'number') throw new ProtoError('store_sql needs sql_id and sql');
      stream.sqls.set(req.sql_id, req.sql);
      return { type: 'store_sql' };
    case 'close_sql':
      stream.sqls.delete(req.sql_id);
      return { type: 'close_sql' };
    case 'get_autocommit':
      return { type: 'get_autocommit', is_autocommit: !stream.db.inTransaction };
    case 'close':
      stream.close();
      return { type: 'close' };
    default:
      throw new ProtoError(`unknown request type ${JSON.stringify(req.type)}`);
  }
}

function pipeline(body) {
  if (!body || typeof body !== 'object' || !Array.isArray(body.requests)) throw new ProtoError('body needs requests');
  let stream;
  if (body.baton !== undefined && body.baton !== null) {
    stream = streams.get(body.baton);
    if (!stream) throw new ProtoError('the stream for this baton has expired or does not exist', 400, 'STREAM_EXPIRED');
    streams.delete(body.baton);
  } else {
    stream = new Stream();
  }
  const results = [];
  for (const req of body.requests) {
    if (stream.closed) {
      results.push({ type: 'error', error: { message: 'stream is closed', code: 'STREAM_CLOSED' } });
      continue;
    }
    try {
      results.push({ type: 'ok', response: handleRequest(stream, req) });
    } catch (e) {
      if (e instanceof ProtoError) results.push({ type: 'error', error: { message: e.message, code: e.code } });
      else results.push({ type: 'error', error: sqliteError(e) });
    }
  }
  let baton = null;
  if (!stream.closed) {
    baton = randomBytes(24).toString('base64url');
    streams.set(baton, stream);
    const s = stream;
    s.touch(() => {
      streams.delete(baton);
      s.close();
    });
  }
  return { baton, base_url: null, results };
}

// ---- HTTP ---------------------------------------------------------------------------------

function send(res, status, body, type = 'application/json') {
  const data = type === 'application/json' ? JSON.stringify(body) : String(body ?? '');
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

function authorized(req) {
  if (!TOKEN) return true;
  return req.headers.authorization === `Bearer ${TOKEN}`;
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  if (req.method === 'GET' && path === '/health') return send(res, 200, '', 'text/plain');
  if (!authorized(req)) return send(res, 401, 'Unauthorized: missing or invalid bearer token', 'text/plain');
  if (req.method === 'GET' && path === '/version') return send(res, 200, 'agentfs-hrana-test-server 0.1 (hrana v2)', 'text/plain');
  if (req.method === 'GET' && path === '/v2') return send(res, 200, '', 'text/plain');
  if (path !== '/v2/pipeline') return send(res, 404, 'Not found', 'text/plain');
  if (req.method !== 'POST') return send(res, 405, 'Method not allowed', 'text/plain');
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    pipelineRequests++;
    if (pipelineRequests > DROP_AFTER || pipelineRequests === DROP_AT) {
      req.socket.destroy();
      return;
    }
    if (pipelineRequests > STALL_AFTER) return; // never answered, never executed
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return send(res, 400, { message: 'request body is not valid JSON', code: 'PROTO_ERROR' });
    }
    let out;
    try {
      out = pipeline(body);
    } catch (e) {
      if (e instanceof ProtoError) return send(res, e.status, { message: e.message, code: e.code });
      return send(res, 500, { message: String(e.message ?? e), code: 'INTERNAL' });
    }
    if (pipelineRequests > LOSE_REPLY_AFTER) {
      req.socket.destroy();
      return;
    }
    if (pipelineRequests === STALL_REPLY_AT) return; // executed, never answered
    if (DELAY_MS > 0) setTimeout(() => send(res, 200, out), DELAY_MS);
    else send(res, 200, out);
  });
});

server.listen(Number(args.port ?? 0), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});

function shutdown() {
  for (const s of streams.values()) s.close();
  server.closeAllConnections();
  server.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
