import { AgentfsError } from '../errors.js';
import { spawnSync } from 'node:child_process';
import { locateNativeTool } from '../platform/native-tool.js';

/** Path of the namespace launcher (native/sandbox/launcher.c), built or prebuilt. */
export function launcherPath(): string {
  const found = locateNativeTool({ name: 'agentfs-sandbox', source: 'sandbox/launcher.c' });
  if (found.path === null) throw new AgentfsError('unsupported', found.why);
  return found.path;
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

/** This host cannot make the sandbox's namespaces. */
export class NamespaceError extends AgentfsError {
  constructor(message: string) {
    super('unsupported', message);
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
