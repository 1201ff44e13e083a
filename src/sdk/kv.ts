import type { KvEntry, KvStore } from '../core/kv/index.js';

/**
 * The agent's key-value store (`agent.kv`), with agentfs-sdk's method names. Values are any
 * JSON-serialisable data; `list(prefix)` returns `{ key, value }` in key order.
 */
export class AgentKv {
  private readonly core: KvStore;

  constructor(core: KvStore) {
    this.core = core;
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    return this.core.get(key) as T | undefined;
  }

  async set(key: string, value: unknown): Promise<void> {
    this.core.set(key, value);
  }

  /** Resolves to whether the key existed. */
  async delete(key: string): Promise<boolean> {
    return this.core.delete(key);
  }

  async has(key: string): Promise<boolean> {
    return this.core.has(key);
  }

  async list(prefix = ''): Promise<{ key: string; value: unknown }[]> {
    return this.core.list(prefix).map((e) => ({ key: e.key, value: e.value }));
  }

  /** Value plus created_at/updated_at (Unix seconds). */
  async entry(key: string): Promise<KvEntry | undefined> {
    return this.core.entry(key);
  }
}
