import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCE = join(ROOT, 'native', 'sandbox', 'launcher.c');
/** built on set-up in a clone (scripts/setup.sh), or here on first use */
const LOCAL = join(ROOT, 'native', 'sandbox', 'build', 'agentfs-sandbox');
/** shipped in the npm package (scripts/prebuild.sh), next to the addon's prebuild */
const PREBUILT = join(ROOT, 'native', 'prebuilds', `${process.platform}-${process.arch}`, 'agentfs-sandbox');

/** An installed package (npm gives every file the install time, so mtimes say nothing there). */
const INSTALLED = ROOT.split(sep).includes('node_modules');

/**
 * Path of the namespace launcher (native/sandbox/launcher.c): a local build not older than its
 * source, else the package's prebuild (in a clone: only if not older than the source either),
 * else it is compiled with the system C compiler (a clone whose launcher.c changed, a platform
 * with no prebuild).
 */
export function launcherPath(): string {
  const source = existsSync(SOURCE) ? statSync(SOURCE).mtimeMs : 0;
  if (existsSync(LOCAL) && statSync(LOCAL).mtimeMs >= source) return LOCAL;
  if (existsSync(PREBUILT) && (INSTALLED || statSync(PREBUILT).mtimeMs >= source)) return PREBUILT;
  if (!source) throw new Error(`the sandbox launcher is missing (${PREBUILT}); run \`npm run setup\``);
  mkdirSync(dirname(LOCAL), { recursive: true });
  const r = spawnSync('cc', ['-O2', '-Wall', '-o', LOCAL, SOURCE], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot build the sandbox launcher: ${(r.stderr || r.error?.message || '').trim()}`);
  return LOCAL;
}

/**
 * Asks the launcher whether it can create its namespaces here (`--check`), so that `agentfs run`
 * stops with one clear line, having created nothing, where user namespaces are switched off.
 */
export function checkNamespaces(launcher: string): void {
  const r = spawnSync(launcher, ['--check'], { encoding: 'utf8' });
  if (r.status === 0) return;
  const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim().replace(/^agentfs-sandbox: /, '');
  throw new NamespaceError(
    `user namespaces are switched off or blocked here (${why}); agentfs run needs them: enable them (sysctl user.max_user_namespaces=15000, and kernel.unprivileged_userns_clone=1 where that setting exists; in a container, allow unshare in its seccomp profile)`,
  );
}

export class NamespaceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NamespaceError';
  }
}
export interface LaunchSpec {
  binds: [string, string][];
  writable: string[];
  hide: string[];
  workdir: string;
  argv: string[];
}

export function launcherArgs(spec: LaunchSpec): string[] {
  const args: string[] = [];
  for (const [src, dst] of spec.binds) args.push('--bind', src, dst);
  for (const p of spec.writable) args.push('--rw', p);
  for (const p of spec.hide) args.push('--hide', p);
  args.push('--chdir', spec.workdir, '--', ...spec.argv);
  return args;
}
