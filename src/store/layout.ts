import type Database from 'libsql';
import { SCHEMA_VERSION } from './schema.js';

type Db = InstanceType<typeof Database>;

/** What an existing database looks like, so we can read older layouts and migrate them. */
export interface Layout {
  /** fs_config schema_version, if recorded */
  version: string | undefined;
  /** reasons the layout is older than SPEC v0.4 (empty when current) */
  outdated: string[];
  /** written by a newer schema than we know */
  newer: boolean;
  /** tool_calls has the `status` column (SDK layout) rather than the spec text's layout */
  toolCallsHasStatus: boolean;
  hasTable(name: string): boolean;
}

export const INODE_V04_COLUMNS = ['rdev', 'atime_nsec', 'mtime_nsec', 'ctime_nsec'] as const;

export function columnsOf(db: Db, table: string): string[] {
  return (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((r) => r.name);
}

export function detectLayout(db: Db): Layout {
  const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
  const outdated: string[] = [];
  const inodeCols = tables.has('fs_inode') ? columnsOf(db, 'fs_inode') : [];
  const missing = INODE_V04_COLUMNS.filter((c) => !inodeCols.includes(c));
  if (missing.length) outdated.push(`fs_inode lacks ${missing.join(', ')}`);
  let version: string | undefined;
  if (tables.has('fs_config')) {
    const row = db.prepare("SELECT value FROM fs_config WHERE key = 'schema_version'").get() as { value: string } | undefined;
    version = row?.value;
  }
  const newer = version !== undefined && compareVersions(version, SCHEMA_VERSION) > 0;
  if (version !== undefined && compareVersions(version, SCHEMA_VERSION) < 0) outdated.push(`schema_version ${version}`);
  const toolCallsHasStatus = tables.has('tool_calls') ? columnsOf(db, 'tool_calls').includes('status') : true;
  return { version, outdated, newer, toolCallsHasStatus, hasTable: (n) => tables.has(n) };
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}
