/**
 * Upgrades databases of older AgentFS layouts (e.g. SPEC v0.2: fs_inode without rdev and the
 * *_nsec columns) to SPEC v0.4 in place: additive steps only (the spec's own columns with their
 * defaults, missing spec tables and indexes, config rows), all in one transaction, idempotent.
 * Planning opens the file query-only, so a dry run, a foreign file or a corrupt file is never
 * modified.
 */
import { existsSync } from 'node:fs';
import { throwOpenProblem } from './access.js';
import { StoreError } from './errors.js';
import { columnsOf, detectLayout, INODE_V04_COLUMNS } from './layout.js';
import { databasePath, type AgentTarget } from './locate.js';
import { DEFAULT_CHUNK_SIZE, EXTENSION_TABLES, REQUIRED_TABLES, SCHEMA_VERSION, SPEC_TABLES } from './schema.js';
import { noSuchAgent, openDatabase, Store, type Db } from './store.js';
import { checkSqliteHeader } from './sqlite-file.js';

export interface MigrationStep {
  description: string;
  sql: string;
  params?: (string | number)[];
}

export interface MigrationResult {
  file: string;
  /** schema_version before (undefined when it was not recorded) */
  from: string | undefined;
  to: string;
  steps: MigrationStep[];
  /** false for a dry run or when there was nothing to do */
  applied: boolean;
}


function objectName(ddl: string): { kind: 'table' | 'index'; name: string } {
  const m = /CREATE\s+(TABLE|INDEX)\s+IF\s+NOT\s+EXISTS\s+(\w+)/i.exec(ddl);
  if (!m) throw new Error(`unexpected DDL: ${ddl.slice(0, 60)}`);
  return { kind: m[1]!.toLowerCase() as 'table' | 'index', name: m[2]! };
}

/** The steps that bring `db` to SPEC v0.4 (empty when it is current). */
export function planMigration(db: Db): MigrationStep[] {
  const steps: MigrationStep[] = [];
  const objects = new Set(
    (db.prepare("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'index')").all() as { type: string; name: string }[]).map(
      (r) => `${r.type}:${r.name}`,
    ),
  );
  const inodeCols = columnsOf(db, 'fs_inode');
  for (const c of INODE_V04_COLUMNS) {
    if (!inodeCols.includes(c)) {
      steps.push({ description: `add column fs_inode.${c} (default 0)`, sql: `ALTER TABLE fs_inode ADD COLUMN ${c} INTEGER NOT NULL DEFAULT 0` });
    }
  }
  for (const ddl of [...SPEC_TABLES, ...EXTENSION_TABLES]) {
    const o = objectName(ddl);
    if (!objects.has(`${o.kind}:${o.name}`)) steps.push({ description: `create ${o.kind} ${o.name}`, sql: ddl });
  }
  const config = new Map(
    (db.prepare('SELECT key, value FROM fs_config').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]),
  );
  if (!config.has('chunk_size')) {
    steps.push({
      description: `record chunk_size ${DEFAULT_CHUNK_SIZE} in fs_config`,
      sql: "INSERT INTO fs_config (key, value) VALUES ('chunk_size', ?)",
      params: [String(DEFAULT_CHUNK_SIZE)],
    });
  }
  const root = db.prepare('SELECT ino FROM fs_inode WHERE ino = 1').get();
  if (!root) {
    const now = Math.floor(Date.now() / 1000);
    steps.push({
      description: 'create the root directory (inode 1)',
      sql: 'INSERT INTO fs_inode (ino, mode, nlink, uid, gid, size, atime, mtime, ctime) VALUES (1, ?, 2, 0, 0, 0, ?, ?, ?)',
      params: [0o040755, now, now, now],
    });
  }
  if (config.get('schema_version') !== SCHEMA_VERSION) {
    steps.push({
      description: `set schema_version ${config.get('schema_version') ?? '(none)'} -> ${SCHEMA_VERSION}`,
      sql: "INSERT OR REPLACE INTO fs_config (key, value) VALUES ('schema_version', ?)",
      params: [SCHEMA_VERSION],
    });
  }
  return steps;
}

/** Opens an existing file for inspection only, refusing anything that is not an AgentFS database. */
function inspect(file: string): { db: Db; version: string | undefined } {
  if (!existsSync(file)) throw new StoreError('not-found', `no such database ${file}`);
  checkSqliteHeader(file);
  // read-only as the viewers open it (also on a read-only file system, where SQLite cannot make a -shm)
  const db = openDatabase(file, true);
  try {
    let tables: Set<string>;
    try {
      tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
      const check = db.prepare('PRAGMA quick_check').all() as Record<string, string>[];
      const first = check[0] ? Object.values(check[0])[0] : 'ok';
      if (first !== 'ok') throw new StoreError('corrupt', String(first));
    } catch (e) {
      if (e instanceof StoreError) throw e;
      throwOpenProblem(file, e, false);
      throw new StoreError('corrupt', `${file} is corrupt or not a database: ${(e as Error).message}`);
    }
    const missing = REQUIRED_TABLES.filter((t) => !tables.has(t));
    if (missing.length) throw new StoreError('foreign', `${file} is a SQLite database but not an AgentFS database (no ${missing.join(', ')} table)`);
    const layout = detectLayout(db);
    if (layout.newer) throw new StoreError('schema', `${file} has schema version ${layout.version}, newer than this agentfs supports (${SCHEMA_VERSION})`);
    return { db, version: layout.version };
  } catch (e) {
    db.close();
    throw e;
  }
}

/** Upgrades a database in place (or with dryRun only reports the steps). */
export function migrateDatabase(target: AgentTarget, options: { dryRun?: boolean } = {}): MigrationResult {
  const file = databasePath(target);
  if (!existsSync(file)) throw noSuchAgent(target, file);
  const { db, version } = inspect(file);
  let steps: MigrationStep[];
  try {
    steps = planMigration(db);
  } finally {
    db.close();
  }
  const result: MigrationResult = { file, from: version, to: SCHEMA_VERSION, steps, applied: false };
  if (options.dryRun || steps.length === 0) return result;
  const store = Store.open({ path: file }, { allowOldLayout: true });
  try {
    store.transaction(() => {
      // re-plan inside the write lock: another process may have migrated meanwhile
      for (const step of planMigration(store.db)) store.db.prepare(step.sql).run(...(step.params ?? []));
    });
  } finally {
    store.close();
  }
  result.applied = true;
  return result;
}
