import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../core/agent.js';
import { computeChanges } from '../core/changes/index.js';
import { OverlayFs } from '../core/overlay/index.js';
import { databasePath, targetFromArg } from '../store/index.js';
import { liveRuns, liveServer, listSessions, loadSession, sessionsDir } from './sessions.js';

export interface PsRow {
  session: string;
  /** pid of a live run, or undefined for a session with none */
  pid?: number;
  command?: string[];
  base: string;
  database: string;
  started: string;
  /** number of changes against the base (undefined when the database cannot be read) */
  changes?: number;
  serving: boolean;
}

/** Sessions and their live runs, newest first. */
export function listRuns(): PsRow[] {
  const rows: PsRow[] = [];
  for (const s of listSessions()) {
    const changes = countChanges(s.database);
    const runs = liveRuns(s.id);
    const serving = liveServer(s.id) !== undefined;
    if (!runs.length) rows.push({ session: s.id, base: s.base, database: s.database, started: s.createdAt, changes, serving });
    for (const r of runs) {
      rows.push({ session: s.id, pid: r.pid, command: r.command, base: s.base, database: s.database, started: r.startedAt, changes, serving });
    }
  }
  return rows.sort((a, b) => (a.started < b.started ? 1 : a.started > b.started ? -1 : 0));
}

function countChanges(database: string): number | undefined {
  if (!existsSync(database)) return undefined;
  try {
    const agent = Agent.open({ path: database }, { readOnly: true });
    try {
      return agent.fs instanceof OverlayFs ? computeChanges(agent.fs).length : undefined;
    } finally {
      agent.close();
    }
  } catch {
    return undefined;
  }
}

/**
 * Database of an agent id, path, or run session: `.agentfs/<id>.db` under cwd when it exists,
 * else the database the run registry knows for that session id.
 */
export function resolveDatabase(arg: string): string {
  const target = targetFromArg(arg);
  const local = databasePath(target);
  if (target.path || existsSync(local)) return local;
  const session = loadSession(arg);
  if (session) return session.database;
  // a session whose record is damaged still has its database where run keeps them
  const kept = join(sessionsDir(), `${arg}.db`);
  return target.id !== undefined && existsSync(kept) ? kept : local;
}

/** True while some `run` of this session database is alive. */
export function sessionInUse(database: string): boolean {
  for (const s of listSessions()) if (s.database === database && (liveRuns(s.id).length || liveServer(s.id))) return true;
  return false;
}
