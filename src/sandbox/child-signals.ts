import type { ChildProcess } from 'node:child_process';

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGINT', 'SIGQUIT'];

/**
 * Runs a sandboxed command's process to its end, passing on the signals agentfs receives. A
 * terminal's Ctrl-C / Ctrl-\ already reach the command (same process group): those are passed on
 * only when there is no terminal; the others always are.
 */
export function untilExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const tty = process.stdin.isTTY === true;
    const handlers = new Map<NodeJS.Signals, () => void>();
    for (const sig of FORWARDED) {
      const h = () => {
        if ((sig === 'SIGINT' || sig === 'SIGQUIT') && tty) return;
        try {
          child.kill(sig);
        } catch {
          /* already gone */
        }
      };
      handlers.set(sig, h);
      process.on(sig, h);
    }
    const done = () => {
      for (const [sig, h] of handlers) process.removeListener(sig, h);
    };
    child.on('error', (e) => {
      done();
      reject(e);
    });
    child.on('exit', (code, signal) => {
      done();
      resolve({ code, signal });
    });
  });
}
