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
export function databasePath(target: AgentTarget, cwd?: string): string {
  // the current directory is asked for only when needed: an absolute path works from anywhere
  if (target.path) return isAbsolute(target.path) ? target.path : resolve(cwd ?? currentDir(), target.path);
  if (!target.id) throw new StoreError('usage', 'an agent id or a database path is required');
  validateId(target.id);
  return join(resolve(cwd ?? currentDir()), AGENT_DIR, `${target.id}.db`);
}

/** process.cwd(), or one clear line where the current directory cannot be named. */
export function currentDir(): string {
  try {
    return process.cwd();
  } catch (e) {
    throw new StoreError('usage', cwdProblem(e));
  }
}

/** What is wrong with the current directory, from the error process.cwd() raised. */
export function cwdProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ERANGE' || code === 'ENAMETOOLONG') {
    return 'the current directory\'s path is longer than PATH_MAX (4096 bytes): run agentfs from a shorter path, or name the database by an absolute path';
  }
  if (code === 'ENOENT') return 'the current directory no longer exists (it was removed): cd to an existing directory';
  return `the current directory cannot be read: ${(e as Error)?.message ?? String(e)}`;
}
