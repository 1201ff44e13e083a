import type { Store } from '../../store/index.js';
import { KvError } from './errors.js';
import { storedText } from '../stored-text.js';
import { stringifyValue } from './json.js';

/** entries list() reads a page at a time */
const LIST_PAGE = 256;

/** Rows a page of `limit` entries reads: the `after` key itself, then limit (-1: no limit). */
function rowsFor(limit: number): number {
  return Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) + 1 : -1;
}

export { KvError } from './errors.js';
export { checkJsonText, MAX_JSON_DEPTH } from './json.js';

export interface KvEntry {
  key: string;
  value: unknown;
  /** Unix seconds */
  created_at: number | null;
  /** Unix seconds */
  updated_at: number | null;
}

export interface KvTextEntry {
  key: string;
  /** the value's JSON text, at most maxChars */
  text: string;
  /** characters in the whole text */
  length: number;
  created_at: number | null;
  updated_at: number | null;
}

/**
 * The agent's key-value state in the spec table `kv_store`: values are JSON text, times are Unix
 * seconds, written exactly as agentfs-sdk writes them so either side reads the other's values.
 */
export class KvStore {
  private readonly store: Store;

  constructor(store: Store) {
    this.store = store;
  }

  /** The value stored under key, or undefined when there is none. */
  get(key: string): unknown {
    checkKey(key);
    const row = this.store.stmt('SELECT CAST(value AS BLOB) AS value FROM kv_store WHERE key = ?').get(key) as { value: unknown } | undefined;
    return row ? decode(valueText(row.value, key)) : undefined;
  }

  /** The value and its times, or undefined. */
  entry(key: string): KvEntry | undefined {
    checkKey(key);
    const row = this.store.stmt('SELECT CAST(key AS BLOB) AS key, CAST(value AS BLOB) AS value, created_at, updated_at FROM kv_store WHERE key = ?').get(key) as
      | StoredRow
      | undefined;
    return row ? toEntry(textRow(row)) : undefined;
  }

  has(key: string): boolean {
    checkKey(key);
    return this.store.stmt('SELECT 1 FROM kv_store WHERE key = ?').get(key) !== undefined;
  }

  /** Stores any JSON-serialisable value; created_at is kept on update, updated_at moves. */
  set(key: string, value: unknown): void {
    checkKey(key);
    const text = encode(key, value);
    const now = Math.floor(Date.now() / 1000);
    const upsert = this.store.stmt(
      `INSERT INTO kv_store (key, value, created_at, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
    );
    // one statement, its own commit (and a wait for a busy writer like any transaction's)
    this.store.autocommit(() => upsert.run(key, text, now, now));
  }

  /** Removes key; returns whether it existed. */
  delete(key: string): boolean {
    checkKey(key);
    const del = this.store.stmt('DELETE FROM kv_store WHERE key = ?');
    return this.store.autocommit(() => del.run(key)).changes > 0;
  }

  /**
   * Entries whose key starts with prefix (all when empty), in key order. Unlike a LIKE match this
   * is case-sensitive and treats `%`/`_` literally; the range scan uses the primary-key index.
   */
  list(prefix = ''): KvEntry[] {
    if (typeof prefix !== 'string') throw new KvError('EINVAL', 'kv prefix must be a string');
    const out: KvEntry[] = [];
    for (let after = ''; ; ) {
      const got = this.page(prefix, after, LIST_PAGE);
      out.push(...got);
      if (got.length < LIST_PAGE) return out;
      after = got[got.length - 1]!.key;
    }
  }

  /** At most limit entries with the prefix after key `after` (exclusive), in key order: one page. */
  page(prefix = '', after = '', limit = 200): KvEntry[] {
    const out: KvEntry[] = [];
    const from = after > prefix ? after : prefix;
    // all() of as many rows as the loop can use (`after` itself, then limit): a statement left
    // mid-iteration keeps its read snapshot, and once another process commits every write of
    // this connection is refused as locked
    const rows = this.store
      .stmt('SELECT CAST(key AS BLOB) AS key, CAST(value AS BLOB) AS value, created_at, updated_at FROM kv_store WHERE key >= ? ORDER BY key LIMIT ?')
      .all(from, rowsFor(limit)) as StoredRow[];
    for (const stored of rows) {
      const row = textRow(stored);
      if (!row.key.startsWith(prefix) || out.length >= limit) break;
      if (after && row.key <= after) continue;
      out.push(toEntry(row));
    }
    return out;
  }

  /**
   * page() for viewers: each value as its JSON text, cut at maxChars, with its full length (a
   * value another program stored may be megabytes, or nested too deep to parse and print back).
   */
  pageText(prefix = '', after = '', limit = 200, maxChars = 65536): KvTextEntry[] {
    const out: KvTextEntry[] = [];
    const from = after > prefix ? after : prefix;
    const rows = this.store
      .stmt('SELECT key, substr(value, 1, ?) AS text, length(value) AS length, created_at, updated_at FROM kv_store WHERE key >= ? ORDER BY key LIMIT ?')
      .all(maxChars, from, rowsFor(limit)) as KvTextEntry[];
    for (const row of rows) {
      if (!row.key.startsWith(prefix) || out.length >= limit) break;
      if (after && row.key <= after) continue;
      out.push({ ...row, length: Number(row.length) });
    }
    return out;
  }

  /** Number of keys. */
  count(): number {
    return Number((this.store.stmt('SELECT COUNT(*) AS n FROM kv_store').get() as { n: number }).n);
  }
}

interface RawRow {
  key: string;
  value: string;
  created_at: number | bigint | null;
  updated_at: number | bigint | null;
}

/** A row as read: key and value CAST AS BLOB (see stored-text.ts). */
interface StoredRow {
  key: unknown;
  value: unknown;
  created_at: number | bigint | null;
  updated_at: number | bigint | null;
}

function textRow(row: StoredRow): RawRow {
  const key = storedText(row.key);
  if (key === null) throw new KvError('EILSEQ', 'a kv key is not valid UTF-8 (written by another program or damaged)');
  return { ...row, key, value: valueText(row.value, key) };
}

function valueText(value: unknown, key: string): string {
  if (value === null) return 'null';
  const text = storedText(value);
  if (text === null) throw new KvError('EILSEQ', `the value of kv key ${JSON.stringify(key)} is not valid UTF-8 (written by another program or damaged)`);
  return text;
}

function toEntry(row: RawRow): KvEntry {
  return {
    key: row.key,
    value: decode(row.value),
    created_at: row.created_at === null ? null : Number(row.created_at),
    updated_at: row.updated_at === null ? null : Number(row.updated_at),
  };
}

function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new KvError('EINVAL', 'kv key must be a non-empty string');
  // stored as UTF-8: a lone surrogate would become U+FFFD and two keys one
  if (/\p{Cs}/u.test(key)) throw new KvError('EILSEQ', 'kv key is not valid Unicode (a lone surrogate)');
}

function encode(key: string, value: unknown): string {
  return stringifyValue(key, value);
}

/** Values are JSON text by the spec; a foreign writer's non-JSON text is returned as the string it is. */
function decode(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
