import { createClient, type Client, type InStatement, type InValue, type ResultSet } from '@libsql/client';
import { SyncError } from './errors.js';

/** Traffic of one sync, counted at the HTTP layer (bodies as sent and received). */
export interface Traffic {
  requests: number;
  bytesSent: number;
  bytesReceived: number;
}

/** What a push or a pull did, as `agentfs sync` reports it. */
export interface TransferResult {
  /** nothing to transfer */
  upToDate: boolean;
  /** every row went (first sync, or a fresh database), not just the changes */
  full: boolean;
  /** the remote's revision afterwards */
  revision: number;
  rows: number;
  deletes: number;
  requests: number;
  bytes: number;
  seconds: number;
  /** tool calls given new ids because both sides had used the same ones */
  renumberedToolCalls: number;
}

export interface RemoteOptions {
  url: string;
  authToken?: string;
  /** per-request timeout */
  timeoutMs?: number;
}

/** A row value as the remote driver returns it (intMode bigint keeps integers exact). */
export type RemoteValue = null | bigint | number | string | ArrayBuffer;

/**
 * The remote database, through @libsql/client over HTTP (Hrana). Wraps the client so every failure
 * becomes a one-line SyncError and every request is counted.
 */
export class RemoteDb {
  readonly traffic: Traffic = { requests: 0, bytesSent: 0, bytesReceived: 0 };
  readonly url: string;
  private readonly client: Client;

  constructor(options: RemoteOptions) {
    this.url = options.url;
    const timeoutMs = options.timeoutMs ?? 120_000;
    const traffic = this.traffic;
    const countingFetch = async (input: Request | string | URL, init?: RequestInit): Promise<Response> => {
      const req = input instanceof Request ? input : new Request(input, init);
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await req.arrayBuffer();
      traffic.requests++;
      traffic.bytesSent += body?.byteLength ?? 0;
      const resp = await fetch(req.url, { method: req.method, headers: req.headers, body, signal: AbortSignal.timeout(timeoutMs) });
      const buf = await resp.arrayBuffer();
      traffic.bytesReceived += buf.byteLength;
      return new Response(buf, { status: resp.status, statusText: resp.statusText, headers: resp.headers });
    };
    try {
      this.client = createClient({
        url: options.url,
        authToken: options.authToken,
        intMode: 'bigint',
        fetch: countingFetch,
      });
    } catch (e) {
      throw new SyncError(`invalid remote URL ${options.url}: ${(e as Error).message}`, 'EUSAGE');
    }
  }

  async execute(sql: string, args: InValue[] = []): Promise<ResultSet> {
    try {
      return await this.client.execute({ sql, args });
    } catch (e) {
      throw this.describe(e);
    }
  }

  /** Runs statements in one transaction on the remote, in one HTTP request. */
  async batch(stmts: InStatement[], mode: 'write' | 'read' = 'write'): Promise<ResultSet[]> {
    try {
      return await this.client.batch(stmts, mode);
    } catch (e) {
      throw this.describe(e);
    }
  }

  close(): void {
    this.client.close();
  }

  /** One line that says what went wrong, in the user's terms. */
  describe(e: unknown): SyncError {
    if (e instanceof SyncError) return e;
    const err = e as Error & { code?: string; cause?: Error & { code?: string } };
    const where = `remote ${redact(this.url)}`;
    const status = /HTTP status (\d+)/.exec(err.message ?? '')?.[1];
    if (status === '401' || status === '403') {
      return new SyncError(`${where} refused the auth token (HTTP ${status}); pass --auth-token or set TURSO_AUTH_TOKEN`, 'EAUTH');
    }
    if (status === '404' || status === '405') {
      return new SyncError(`${where} is not a libSQL/Turso database endpoint (HTTP ${status})`, 'EFOREIGN');
    }
    if (status) return new SyncError(`${where} failed: ${oneLine(err.message)}`, 'EREMOTE');
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return new SyncError(`${where} did not answer in time`, 'EUNREACHABLE');
    if (err.message === 'fetch failed' || err instanceof TypeError) {
      const cause = err.cause;
      const code = cause?.code;
      const why =
        code === 'ECONNREFUSED'
          ? 'connection refused'
          : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
            ? 'host not found'
            : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET'
              ? 'connection lost'
              : oneLine(cause?.message ?? err.message);
      return new SyncError(`cannot reach ${where}: ${why}`, 'EUNREACHABLE');
    }
    return new SyncError(`${where}: ${oneLine(err.message ?? String(e))}`, 'EREMOTE');
  }
}

/** Hides an authToken query parameter when a URL is shown. */
export function redact(url: string): string {
  return url.replace(/([?&]authToken=)[^&]*/i, '$1***');
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** Local values to driver arguments: integers stay integers, blobs stay bytes. */
export function toArg(v: unknown): InValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint' || typeof v === 'string') return v;
  // integers are read as bigint, so a number is a REAL and must stay one
  if (typeof v === 'number') return v;
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  return String(v);
}
