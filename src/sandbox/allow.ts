import { existsSync, realpathSync } from 'node:fs';
import { userHome } from '../core/home.js';
import { isAbsolute, join, resolve } from 'node:path';

/** Home-directory places the usual tools (and the agent CLIs) write to. */
const HOME_DEFAULTS = ['.cache', '.npm', '.config', '.local', '.claude', '.claude.json', '.codex', '.gemini', '.aider'];

export function defaultAllows(home = userHome()): string[] {
  return ['/tmp', ...HOME_DEFAULTS.map((d) => join(home, d))];
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
