import { isAbsolute, join, resolve } from 'node:path';
import { StoreError } from './errors.js';

export const AGENT_DIR = '.agentfs';
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface AgentTarget {
  /** agent id: the database is `.agentfs/<id>.db` under `cwd` */
  id?: string;
  /** explicit database file */
  path?: string;
}

/** True when a CLI argument names a database file rather than an agent id. */
export function looksLikePath(arg: string): boolean {
  return arg.includes('/') || arg.endsWith('.db') || arg === '.' || arg === '..';
}

/** True for a name `validateId` accepts. */
export function isValidId(id: string): boolean {
  return ID_RE.test(id) && !id.endsWith('.db');
}

export function validateId(id: string): void {
  if (!isValidId(id)) {
    throw new StoreError(
      'usage',
      `invalid agent id '${id}': use letters, digits, '.', '_' and '-' (at most 128, not starting with a dot)`,
    );
  }
}

/** Database path for an id or path; ids live in `.agentfs/` under cwd. */
export function databasePath(target: AgentTarget, cwd = process.cwd()): string {
  if (target.path) return isAbsolute(target.path) ? target.path : resolve(cwd, target.path);
  if (!target.id) throw new StoreError('usage', 'an agent id or a database path is required');
  validateId(target.id);
  return join(resolve(cwd), AGENT_DIR, `${target.id}.db`);
}
