import Database from 'libsql';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVER = join(dirname(fileURLToPath(import.meta.url)), 'hrana-server.mjs');

export interface HranaServerOptions {
  /** database file the server serves (created when missing) */
  db: string;
  /** bearer token required from clients */
  token?: string;
  /** delay every pipeline response by this many ms */
  delayMs?: number;
  /** drop (without answering or executing) every pipeline request after the first N */
  dropAfter?: number;
  /** execute every pipeline request after the first N but lose its answer */
  loseReplyAfter?: number;
  /** hold every pipeline request after the first N open forever, unexecuted */
  stallAfter?: number;
  /** execute the Nth pipeline request but never answer it */
  stallReplyAt?: number;
  /** drop only the Nth pipeline request, unexecuted */
  dropAt?: number;
}

export interface HranaServer {
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts the loopback Hrana server as a separate process and waits until it listens. */
export function startHranaServer(options: HranaServerOptions): Promise<HranaServer> {
  const args = [SERVER, '--db', options.db];
  if (options.token) args.push('--token', options.token);
  if (options.delayMs) args.push('--delay-ms', String(options.delayMs));
  if (options.dropAfter !== undefined) args.push('--drop-after', String(options.dropAfter));
  if (options.loseReplyAfter !== undefined) args.push('--lose-reply-after', String(options.loseReplyAfter));
  if (options.stallAfter !== undefined) args.push('--stall-after', String(options.stallAfter));
  if (options.stallReplyAt !== undefined) args.push('--stall-reply-at', String(options.stallReplyAt));
  if (options.dropAt !== undefined) args.push('--drop-at', String(options.dropAt));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const onExit = (code: number | null) => reject(new Error(`hrana server exited (${code}): ${err}`));
    child.once('exit', onExit);
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      child.off('exit', onExit);
      const { port } = JSON.parse(out.slice(0, nl)) as { port: number };
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        pid: child.pid!,
        child,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
  });
}

/** A server that accepts and never answers ('accept') or sends half an answer ('half'). */
export function startStallServer(mode: 'accept' | 'half'): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [join(dirname(SERVER), 'stall-server.mjs'), '--mode', mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`stall server exited (${code})`)));
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('\n')) return;
      const { port } = JSON.parse(out) as { port: number };
      resolve({
        url: `http://127.0.0.1:${port}`,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
  });
}

// ---- helpers for sync tests ---------------------------------------------------------------

/** The AgentFS SPEC v0.4 tables, with the columns that key their rows. */
export const SPEC_TABLE_KEYS: Record<string, string> = {
  fs_config: 'key',
  fs_inode: 'ino',
  fs_dentry: 'id',
  fs_data: 'ino, chunk_index',
  fs_symlink: 'ino',
  fs_whiteout: 'path',
  fs_origin: 'delta_ino',
  kv_store: 'key',
  tool_calls: 'id',
};

/**
 * Every row of every spec table, values with their SQLite storage class, as comparable text.
 * Tables a database lacks come out empty.
 */
export function dumpSpecTables(file: string): Record<string, string[]> {
  // a busy timeout: the server's connection may be checkpointing the remote just then (seen once
  // under the full suite's load: "database is locked" at the first statement)
  const db = new Database(file, { readonly: true, timeout: 5000 });
  try {
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
    const out: Record<string, string[]> = {};
    for (const [t, keys] of Object.entries(SPEC_TABLE_KEYS)) {
      if (!tables.has(t)) {
        out[t] = [];
        continue;
      }
      const stmt = db.prepare(`SELECT * FROM ${t} ORDER BY ${keys}`);
      stmt.raw(true);
      stmt.safeIntegers(true);
      out[t] = (stmt.all() as unknown[][]).map((row) =>
        JSON.stringify(
          row.map((v) =>
            v === null ? null : typeof v === 'bigint' ? `i:${v}` : typeof v === 'number' ? `r:${v}` : Buffer.isBuffer(v) ? `b:${v.toString('base64')}` : `t:${String(v)}`,
          ),
        ),
      );
    }
    return out;
  } finally {
    db.close();
  }
}

/** Every row of every table (ours included): proves a failed command changed nothing. */
/** Every table's rows, in order; `rowsOnly` leaves out tables without rows (created or not). */
export function dumpAllTables(file: string, rowsOnly = false): string {
  const db = new Database(file, { readonly: true, timeout: 5000 });
  try {
    const names = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    const parts: string[] = [];
    for (const t of names) {
      const n = (db.prepare(`PRAGMA table_info("${t}")`).all() as unknown[]).length;
      const stmt = db.prepare(`SELECT * FROM "${t}" ORDER BY ${Array.from({ length: n }, (_, i) => i + 1).join(', ')}`);
      stmt.raw(true);
      stmt.safeIntegers(true);
      const rows = stmt.all() as unknown[][];
      if (rowsOnly && rows.length === 0) continue;
      parts.push(t, ...rows.map((r) => JSON.stringify(r.map((v) => (typeof v === 'bigint' ? `${v}n` : Buffer.isBuffer(v) ? v.toString('base64') : v)))));
    }
    return parts.join('\n');
  } finally {
    db.close();
  }
}
