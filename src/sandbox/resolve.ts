import { existsSync } from 'node:fs';
import { databasePath, looksLikePath, validateId, type AgentTarget } from '../store/index.js';
import { join } from 'node:path';
import { loadSession, sessionsDir } from './sessions.js';

export interface ResolvedAgent {
  /** what Store.open / Agent.open take: `{ id }` keeps "no such agent 'ID'" for a missing agent */
  target: AgentTarget;
  /** the database file (absolute), whether or not it exists */
  database: string;
  /** how the argument was read */
  kind: 'path' | 'agent' | 'session';
}

/**
 * The one reading of an agent argument, for every command that takes one (like the reference
 * CLI's single `resolve`):
 *  1. a path (contains '/', ends in `.db`, or is `.`/`..`): that database file;
 *  2. an id whose `.agentfs/<ID>.db` exists under cwd: that agent;
 *  3. an id the run registry knows (`$AGENTFS_HOME/sessions/<ID>.json`): the session's database;
 *  4. otherwise the id as it is, so opening it says "no such agent 'ID'".
 * An invalid id is refused (EBADID) before anything is looked up.
 */
export function resolveAgent(arg: string, cwd?: string): ResolvedAgent {
  if (looksLikePath(arg)) return { target: { path: arg }, database: databasePath({ path: arg }, cwd), kind: 'path' };
  validateId(arg);
  const local = databasePath({ id: arg }, cwd);
  if (existsSync(local)) return { target: { path: local }, database: local, kind: 'agent' };
  const session = loadSession(arg);
  if (session) return { target: { path: session.database }, database: session.database, kind: 'session' };
  // a session whose record is damaged still has its database where run keeps them
  const kept = join(sessionsDir(), `${arg}.db`);
  if (existsSync(kept)) return { target: { path: kept }, database: kept, kind: 'session' };
  return { target: { id: arg }, database: local, kind: 'agent' };
}

/** The database file an agent argument names (see resolveAgent). */
export function resolveDatabase(arg: string, cwd?: string): string {
  return resolveAgent(arg, cwd).database;
}
