import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../core/agent.js';
import { computeChanges } from '../core/changes/index.js';
import { OverlayFs } from '../core/overlay/index.js';
import { liveRuns, liveServer, listSessions } from './sessions.js';

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
      return agent.fs instanceof OverlayFs ? computeChanges(agent.fs.changes).length : undefined;
    } finally {
      agent.close();
    }
  } catch {
    return undefined;
  }
}

/** True while some `run` of this session database is alive. */
export function sessionInUse(database: string): boolean {
  for (const s of listSessions()) if (s.database === database && (liveRuns(s.id).length || liveServer(s.id))) return true;
  return false;
}
