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
  /** per-request timeout: connecting, waiting for and reading the whole answer */
  timeoutMs?: number;
}

/** Default per-request timeout (`--timeout`, AGENTFS_SYNC_TIMEOUT). */
export const DEFAULT_TIMEOUT_S = 20;

export interface RequestOptions {
  /**
   * The request may be sent again after a transient failure (timeout, lost connection, 429 and
   * 5xx answers): true for reads and for writes that are idempotent (every staging step is).
   */
  retry?: boolean;
}

/** Tries per request: a lost connection or a 5xx is tried up to 3 times, a timeout twice. */
const MAX_TRIES = 3;
const MAX_TIMEOUT_TRIES = 2;
/** Connection failures worth another try (a restarting server, a dropped connection, DNS hiccup). */
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'EAI_AGAIN']);

/** A row value as the remote driver returns it (intMode bigint keeps integers exact). */
export type RemoteValue = null | bigint | number | string | ArrayBuffer;

/**
 * The remote database, through @libsql/client over HTTP (Hrana). Wraps the client so every failure
 * becomes a one-line SyncError and every request is counted.
 */
export class RemoteDb {
  readonly traffic: Traffic = { requests: 0, bytesSent: 0, bytesReceived: 0 };
  readonly url: string;
  readonly timeoutMs: number;
  private readonly client: Client;
  private readonly secrets: (string | undefined)[];
  private closed = false;
  /** a `file:` remote's path when this command created the file (dropUnfilledFileRemote) */
  madeFile: string | undefined;

  constructor(options: RemoteOptions) {
    this.url = options.url;
    this.secrets = [options.authToken, urlToken(options.url)];
    const timeoutMs = (this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_S * 1000);
    const traffic = this.traffic;
    const countingFetch = async (input: Request | string | URL, init?: RequestInit): Promise<Response> => {
      const req = input instanceof Request ? input : new Request(input, init);
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await req.arrayBuffer();
      traffic.requests++;
      traffic.bytesSent += body?.byteLength ?? 0;
      // one signal for the whole exchange: a server that accepts and never answers, or stops
      // half-way through its answer, fails the request instead of hanging it
      const signal = AbortSignal.timeout(timeoutMs);
      const resp = await fetch(req.url, { method: req.method, headers: req.headers, body, signal });
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
        // file: remotes only: how long to wait for another writer's lock
        timeout: timeoutMs,
      });
    } catch (e) {
      throw new SyncError(hideSecrets(`invalid remote URL ${redact(options.url)}: ${(e as Error).message}`, this.secrets), 'usage');
    }
  }

  /** One statement; retried after transient failures unless `retry: false`. */
  async execute(sql: string, args: InValue[] = [], options: RequestOptions = {}): Promise<ResultSet> {
    return this.request(() => this.client.execute({ sql, args }), options.retry ?? true);
  }

  /** Runs statements in one transaction on the remote, in one HTTP request. */
  async batch(stmts: InStatement[], mode: 'write' | 'read' = 'write', options: RequestOptions = {}): Promise<ResultSet[]> {
    return this.request(() => this.client.batch(stmts, mode), options.retry ?? true);
  }

  private async request<T>(send: () => Promise<T>, retry: boolean): Promise<T> {
    // a file: remote makes no HTTP requests; count its transactions instead
    if (this.url.startsWith('file:')) this.traffic.requests++;
    for (let attempt = 1; ; attempt++) {
      try {
        return await send();
      } catch (e) {
        const err = this.describe(e, attempt);
        const max = err.timedOut ? MAX_TIMEOUT_TRIES : MAX_TRIES;
        if (!retry || !err.transient || attempt >= max) throw err;
        // back off a little (with jitter) so a restarting server or a busy proxy can recover
        await new Promise((r) => setTimeout(r, 200 * 2 ** (attempt - 1) * (0.5 + Math.random())));
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }

  /** One line that says what went wrong, in the user's terms (after `attempts` tries). */
  describe(e: unknown, attempts = 1): SyncError {
    if (e instanceof SyncError) return e;
    const d = this.explain(e, attempts);
    return new SyncError(hideSecrets(d.message, this.secrets), d.code, d);
  }

  private explain(e: unknown, attempts: number): SyncError {
    const err = e as Error & { code?: string; cause?: Error & { code?: string } };
    const where = `remote ${redact(this.url)}`;
    const tries = attempts > 1 ? ` (${attempts} attempts)` : '';
    const status = httpStatus(err);
    if (status === '401' || status === '403') {
      return new SyncError(`${where} refused the auth token (HTTP ${status}); pass --auth-token or set TURSO_AUTH_TOKEN`, 'remote');
    }
    if (status === '404' || status === '405') {
      return new SyncError(`${where} is not a libSQL/Turso database endpoint (HTTP ${status})`, 'foreign');
    }
    if (status) {
      const transient = status === '429' || status === '502' || status === '503' || status === '504';
      return new SyncError(`${where} failed${tries}: ${oneLine(err.message)}`, 'remote', { transient });
    }
    if (err.name === 'TimeoutError' || err.name === 'AbortError') {
      return new SyncError(`${where} did not answer within ${this.timeoutMs / 1000} s${tries}; a slow remote needs a larger --timeout`, 'remote', {
        transient: true,
        timedOut: true,
      });
    }
    if (err.message === 'fetch failed' || err instanceof TypeError) {
      const cause = err.cause;
      const code = cause?.code;
      const why =
        code === 'ECONNREFUSED'
          ? 'connection refused'
          : code === 'ENOTFOUND'
            ? 'host not found'
            : code === 'EAI_AGAIN'
              ? 'host not found (DNS lookup failed)'
              : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE'
                ? 'connection lost'
                : code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT'
                  ? 'connection timed out'
                  : oneLine(cause?.message ?? err.message);
      return new SyncError(`cannot reach ${where}${tries}: ${why}`, 'remote', { transient: code !== undefined && TRANSIENT_CODES.has(code) });
    }
    // libsql's client repeats the code ("SQLITE_FULL: SQLITE_FULL: ..."): said once
    const message = oneLine(err.message ?? String(e)).replace(/^(SQLITE_[A-Z_]+): \1: /, '$1: ');
    if (message.startsWith('SQLITE_FULL')) return new SyncError(`${where}: no space left on device (the remote database's disk is full)`, 'no-space');
    return new SyncError(`${where}: ${message}`, 'remote');
  }
}

/** Hides an authToken query parameter and a password when a URL is shown. */
export function redact(url: string): string {
  return url.replace(/([?&]authToken=)[^&#]*/gi, '$1***').replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@]*?:)[^/?#@]*@/i, '$1***@');
}

/** The URL without its authToken query parameter (what may be stored in the agent). */
export function withoutToken(url: string): string {
  return url.replace(/([?&])authToken=[^&#]*&?/gi, '$1').replace(/[?&]+(#|$)/, '$1');
}

/** Replaces every occurrence of the secrets in a message (belt and braces: messages of libraries). */
export function hideSecrets(message: string, secrets: readonly (string | undefined)[]): string {
  let out = message;
  for (const s of secrets) if (s && s.length >= 3) out = out.split(s).join('***');
  return out;
}

/** The authToken query parameter of a URL, decoded, if any. */
export function urlToken(url: string): string | undefined {
  try {
    const u = new URL(url);
    for (const [k, v] of u.searchParams) if (k.toLowerCase() === 'authtoken') return v;
  } catch {
    /* not a URL: the client reports it */
  }
  return undefined;
}

/** Most of a remote's own words shown in one error: a server may answer with a whole page. */
const MAX_REMOTE_TEXT = 300;

function oneLine(s: string): string {
  const line = s.replace(/\s+/g, ' ').trim();
  if (line.length <= MAX_REMOTE_TEXT) return line;
  return `${line.slice(0, MAX_REMOTE_TEXT)}... (${line.length - MAX_REMOTE_TEXT} more characters)`;
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

/**
 * The HTTP status the server answered with, from the client's error (@libsql/client wraps the
 * HttpServerError, which carries it, as the cause; by type, never from the message text).
 */
function httpStatus(e: unknown): string | undefined {
  for (let c = e as { status?: unknown; cause?: unknown } | undefined, depth = 0; c && depth < 5; c = c.cause as typeof c, depth++) {
    if (typeof c.status === 'number') return String(c.status);
  }
  return undefined;
}
