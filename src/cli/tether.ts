/**
 * Starting a command that dies with us (`agentfs record`): a SIGKILL of the recorder used to
 * leave its command running as an orphan. The command is started through native/tether (a few
 * lines of C: PR_SET_PDEATHSIG, then exec in place), which Node cannot do itself between fork
 * and exec. Where no C compiler built it, the command is spawned directly (and is not tethered).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { locateNativeTool } from '../platform/native-tool.js';

/** The tether binary (built, prebuilt or compiled now); null where none can be had. */
function tetherPath(): string | null {
  return locateNativeTool({ name: 'agentfs-tether', source: 'tether/tether.c' }).path;
}

export interface TetheredExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** the command could not be started (ENOENT: not found; EACCES...: found but not runnable) */
  error?: NodeJS.ErrnoException;
}

/**
 * Spawns argv with stdin inherited and stdout/stderr piped (child.stdout/child.stderr), killed
 * by the kernel if this process dies. `exit` resolves once it ended and its pipes closed.
 */
export function spawnTethered(argv: readonly string[], env: NodeJS.ProcessEnv): { child: ChildProcess; exit: Promise<TetheredExit> } {
  const tether = process.platform === 'linux' ? tetherPath() : null;
  if (!tether) {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['inherit', 'pipe', 'pipe'], env });
    const exit = new Promise<TetheredExit>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    return { child, exit };
  }
  // fd 3: where the tether names the errno of a failed exec (closed unread by a successful one)
  const child = spawn(tether, [String(process.pid), '--', ...argv], { stdio: ['inherit', 'pipe', 'pipe', 'pipe'], env });
  const report: Buffer[] = [];
  (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => report.push(d));
  const exit = new Promise<TetheredExit>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => {
      const errno = Buffer.concat(report).toString().trim();
      if (!errno) return resolve({ code, signal });
      const error = Object.assign(new Error(`spawn ${argv[0]} ${errno}`), { code: errno, syscall: `spawn ${argv[0]}`, path: argv[0] });
      resolve({ code, signal, error });
    });
  });
  return { child, exit };
}
