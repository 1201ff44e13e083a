import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Agent, META } from '../core/agent.js';
import { CallReader } from '../core/tools/index.js';
import { JournalPages } from '../core/journal/index.js';
import { Store, AGENT_DIR } from '../store/index.js';
import { resolveDatabase } from '../sandbox/index.js';
import { listSessions } from '../sandbox/sessions.js';

/** Where an agent shown by the UI comes from. */
export interface AgentSource {
  /** URL-safe key, unique within the server */
  key: string;
  /** the name shown: agent id, session id or file name */
  label: string;
  kind: 'agent' | 'session' | 'file';
  database: string;
}

/**
 * One agent database, opened read-only on first use. Queries go through `store`; the files, diff
 * and kv go through an Agent on a second read-only connection, reopened when another process
 * committed (its overlay caches nodes and whiteouts). Results are cached per data_version.
 */
export class AgentHandle {
  readonly source: AgentSource;
  private storeRef: Store | undefined;
  private agentRef: { agent: Agent; version: number; at: number } | undefined;
  private cache = new Map<string, { version: number; at: number; value: unknown }>();
  /** device:inode of the file the store opened (a database deleted or replaced since is stale) */
  private identity: string | undefined;
  private schema = 0;

  constructor(source: AgentSource) {
    this.source = source;
  }

  get store(): Store {
    if (!this.storeRef || this.storeRef.isClosed) {
      this.identity = fileIdentity(this.source.database);
      this.storeRef = Store.open({ path: this.source.database }, { readOnly: true, neverWrite: true });
      this.schema = this.storeRef.schemaVersion();
    }
    return this.storeRef;
  }

  /**
   * The database file was deleted or replaced since it was opened (the open one shows old data),
   * written since an open that leaves no trace (Store.changedOnDisk), or its schema changed (a writer added tables that read-only TEMP stand-ins would hide).
   */
  stale(): boolean {
    if (!this.storeRef || this.storeRef.isClosed) return false;
    if (fileIdentity(this.source.database) !== this.identity || this.storeRef.changedOnDisk()) return true;
    try {
      return this.storeRef.schemaVersion() !== this.schema;
    } catch {
      return true;
    }
  }

  get calls(): CallReader {
    return new CallReader(this.store);
  }

  get journal(): JournalPages {
    return new JournalPages(this.store);
  }

  /** Changes whenever another process commits to the database. */
  version(): number {
    return this.store.dataVersion();
  }

  /**
   * fn's value, computed again only after a commit elsewhere, or after maxAgeMs (the base directory
   * may change unseen); never more often than every minAgeMs (scans of a busy agent's journal).
   */
  cached<T>(key: string, fn: () => T, maxAgeMs = Infinity, minAgeMs = 0): T {
    const v = this.version();
    const hit = this.cache.get(key);
    const now = Date.now();
    if (hit && ((hit.version === v && now - hit.at < maxAgeMs) || now - hit.at < minAgeMs)) return hit.value as T;
    const value = fn();
    if (this.cache.size > 64) this.cache.clear();
    this.cache.set(key, { version: v, at: now, value });
    return value;
  }

  /** The agent (filesystem, overlay, kv), fresh after commits elsewhere or after 5 s (the base may change). */
  agent(): Agent {
    const v = this.version();
    const now = Date.now();
    const cur = this.agentRef;
    if (cur && cur.version === v && now - cur.at < 5000) return cur.agent;
    if (cur) cur.agent.close();
    this.agentRef = undefined;
    const agent = Agent.open({ path: this.source.database }, { readOnly: true, neverWrite: true, journal: false });
    this.agentRef = { agent, version: v, at: now };
    return agent;
  }

  /** An agent of the caller's own (who closes it): for reads that outlive a request's turn. */
  openAgent(): Agent {
    return Agent.open({ path: this.source.database }, { readOnly: true, neverWrite: true, journal: false });
  }

  base(): string | undefined {
    return this.store.getMeta(META.base);
  }

  /** File size of the database and its WAL. */
  size(): number {
    let n = 0;
    for (const f of [this.source.database, `${this.source.database}-wal`]) {
      try {
        n += statSync(f).size;
      } catch {
        /* no WAL */
      }
    }
    return n;
  }

  close(): void {
    this.agentRef?.agent.close();
    this.agentRef = undefined;
    this.storeRef?.close();
    this.storeRef = undefined;
    this.cache.clear();
  }
}

/**
 * The agents a server shows: the ones named on the command line, or (none named) every
 * `.agentfs/*.db` under cwd and every `agentfs run` session, looked up again on each listing so
 * agents created meanwhile appear.
 */
export class AgentSet {
  private readonly named: AgentSource[] | undefined;
  private readonly cwd: string;
  private readonly handles = new Map<string, AgentHandle>();

  constructor(args: string[], cwd = process.cwd()) {
    this.cwd = cwd;
    this.named = args.length ? uniqueKeys(args.map((a) => namedSource(a, cwd))) : undefined;
  }

  sources(): AgentSource[] {
    if (this.named) return this.named;
    const out: AgentSource[] = [];
    const dir = join(this.cwd, AGENT_DIR);
    if (existsSync(dir)) {
      for (const f of readdirSync(dir).sort()) {
        if (f.endsWith('.db')) out.push({ key: f.slice(0, -3), label: f.slice(0, -3), kind: 'agent', database: join(dir, f) });
      }
    }
    for (const s of listSessions()) {
      if (existsSync(s.database)) out.push({ key: s.id, label: s.id, kind: 'session', database: s.database });
    }
    return uniqueKeys(out);
  }

  /** The handle of an agent by key (undefined when there is no such agent now). */
  get(key: string): AgentHandle | undefined {
    const src = this.sources().find((s) => s.key === key);
    let h = this.handles.get(key);
    if (h && (!src || h.source.database !== src.database || h.stale())) {
      // close the old file, or a deleted database's space stays in use while the server runs
      h.close();
      this.handles.delete(key);
      h = undefined;
    }
    if (!src) return undefined;
    if (!h) {
      h = new AgentHandle(src);
      this.handles.set(key, h);
    }
    return h;
  }

  /** Handles already opened (for live updates). */
  opened(): AgentHandle[] {
    return [...this.handles.values()];
  }

  close(): void {
    for (const h of this.handles.values()) h.close();
    this.handles.clear();
  }
}

function fileIdentity(file: string): string | undefined {
  try {
    const st = statSync(file);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

function namedSource(arg: string, cwd: string): AgentSource {
  const database = resolveDatabase(arg, cwd);
  const isSession = listSessions().some((s) => s.id === arg && resolve(s.database) === database);
  const label = arg.includes('/') || arg.endsWith('.db') ? basename(arg).replace(/\.db$/, '') : arg;
  return { key: label, label, kind: isSession ? 'session' : arg.includes('/') || arg.endsWith('.db') ? 'file' : 'agent', database };
}

/** Keys made unique (a session and an agent may share a name) and URL-safe. */
function uniqueKeys(sources: AgentSource[]): AgentSource[] {
  const seen = new Set<string>();
  const dbs = new Set<string>();
  const out: AgentSource[] = [];
  for (const s of sources) {
    if (dbs.has(s.database)) continue;
    dbs.add(s.database);
    const base = s.key.replace(/[^A-Za-z0-9._-]/g, '_') || 'agent';
    let key = base;
    for (let i = 2; seen.has(key); i++) key = `${base}-${i}`;
    seen.add(key);
    out.push({ ...s, key });
  }
  return out;
}
