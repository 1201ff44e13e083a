import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCE = join(ROOT, 'native', 'sandbox', 'launcher.c');
const BINARY = join(ROOT, 'native', 'sandbox', 'build', 'agentfs-sandbox');

/**
 * Path of the namespace launcher (native/sandbox/launcher.c), compiled with the system C
 * compiler when missing or older than its source (scripts/setup.sh builds it on set-up).
 */
export function launcherPath(): string {
  const fresh = existsSync(BINARY) && (!existsSync(SOURCE) || statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs);
  if (fresh) return BINARY;
  if (!existsSync(SOURCE)) throw new Error(`the sandbox launcher is missing (${BINARY}); run \`npm run setup\``);
  mkdirSync(dirname(BINARY), { recursive: true });
  const r = spawnSync('cc', ['-O2', '-Wall', '-o', BINARY, SOURCE], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot build the sandbox launcher: ${(r.stderr || r.error?.message || '').trim()}`);
  return BINARY;
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
