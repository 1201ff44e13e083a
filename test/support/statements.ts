import type { Store } from '../../src/store/index.js';

/** Statements run on the store's connection while fn runs (exec()s and prepared statements). */
export function countStatements(store: Store, fn: () => void): string[] {
  const seen: string[] = [];
  const db = store.db as unknown as { exec(sql: string): void };
  const exec = db.exec;
  db.exec = function (sql: string) {
    seen.push(sql);
    return exec.call(this, sql);
  };
  const proto = Object.getPrototypeOf(store.db.prepare('SELECT 1')) as Record<string, (...a: unknown[]) => unknown>;
  const saved = { run: proto.run!, get: proto.get!, all: proto.all!, iterate: proto.iterate! };
  for (const m of ['run', 'get', 'all', 'iterate'] as const) {
    proto[m] = function (this: unknown, ...a: unknown[]) {
      seen.push(m);
      return saved[m].apply(this, a);
    };
  }
  try {
    fn();
  } finally {
    db.exec = exec;
    Object.assign(proto, saved);
  }
  return seen;
}
