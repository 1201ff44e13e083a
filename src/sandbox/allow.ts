import { existsSync, realpathSync } from 'node:fs';
import { userHome } from '../core/home.js';
import { isAbsolute, join, resolve } from 'node:path';

/** Home-directory places the usual tools (and the agent CLIs) write to. */
const HOME_DEFAULTS = ['.cache', '.npm', '.config', '.local', '.claude', '.claude.json', '.codex', '.gemini', '.aider'];

export function defaultAllows(home = userHome()): string[] {
  return ['/tmp', ...HOME_DEFAULTS.map((d) => join(home, d))];
}

/**
 * What is wrong with a user-given --allow path, or undefined. `/` (however spelt) would make the
 * whole system writable; a path that does not exist is a typo or a mistake, not a wish. (A missing
 * default allow, like ~/.codex, is simply skipped.)
 */
export function allowProblem(p: string): string | undefined {
  if (p === '') return '--allow: empty path';
  const abs = isAbsolute(p) ? p : resolve(p);
  if (!existsSync(abs)) return `--allow ${p}: no such file or directory`;
  if (realpathSync(abs) === '/') {
    return `--allow ${p}: allowing writes to / would make the whole system writable and defeat the sandbox; allow the directories the command needs instead`;
  }
  return undefined;
}

/** Existing, absolute, symlink-resolved writable paths (a symlink must not widen what is writable). */
export function resolveAllows(paths: readonly string[]): string[] {
  const out = new Set<string>();
  for (const p of paths) {
    const abs = isAbsolute(p) ? p : resolve(p);
    if (!existsSync(abs)) continue;
    out.add(realpathSync(abs));
  }
  return [...out];
}
