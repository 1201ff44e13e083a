import { spawn, type ChildProcess } from 'node:child_process';
import { CLI } from './cli.js';

export interface NfsServe {
  port: number;
  pid: number;
  child: ChildProcess;
  /** what the server wrote to stderr so far */
  stderr(): string;
  /** SIGTERM, then waits for the exit; resolves with the exit code */
  stop(): Promise<number | null>;
}

/** Starts `agentfs serve nfs ID --port 0 --json` and waits for its first line. */
export async function startNfs(id: string, cwd: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<NfsServe> {
  const child = spawn(process.execPath, [CLI, 'serve', 'nfs', id, '--port', '0', '--json', ...extra], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const first = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve nfs did not start: ${err}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve nfs exited with ${code}: ${err}`));
    });
  });
  const info = JSON.parse(first) as { port: number; pid: number };
  return {
    port: info.port,
    pid: child.pid!,
    child,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** The libnfs URL of a path inside the export (libnfs needs a directory part: //file). */
export function nfsUrl(port: number, path: string): string {
  return `nfs://127.0.0.1/${path.startsWith('/') ? path : `/${path}`}?version=3&nfsport=${port}&mountport=${port}`;
}
