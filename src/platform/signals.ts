/**
 * Signal handling for the commands that keep running (mount, serve, ui, timeline --follow, exec,
 * record, run), in the two ways they need it: stop gracefully, or pass the signals on to a child
 * and wait for it. Neutral ground, so that the CLI, the sandbox and MCP share one copy.
 */
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';

/** What a service stops on: Ctrl-C, kill(1), and the terminal going away. */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface StopOptions {
  /** the signals that stop (default STOP_SIGNALS) */
  signals?: readonly NodeJS.Signals[];
  /**
   * A second signal while stopping: 'default' (the default) removes the handlers at the first one,
   * so the next has its usual effect and ends a stop that hangs; 'ignore' keeps them until the
   * returned function is called, for a stop that must not be cut short (an unmount).
   */
  again?: 'default' | 'ignore';
}

/**
 * Calls stop at the first of the signals, once. Returns the function that removes the handlers:
 * call it when the work ends by itself too, or the process would keep catching the signals.
 */
export function onStopSignal(stop: (signal: NodeJS.Signals) => void, options: StopOptions = {}): () => void {
  const signals = options.signals ?? STOP_SIGNALS;
  let stopped = false;
  const remove = (): void => {
    for (const s of signals) process.off(s, handler);
  };
  function handler(signal: NodeJS.Signals): void {
    if (stopped) return;
    stopped = true;
    if (options.again !== 'ignore') remove();
    stop(signal);
  }
  for (const s of signals) process.on(s, handler);
  return remove;
}

/** A promise of the first of the signals (see onStopSignal), and the function that removes the handlers. */
export function untilStopSignal(options: StopOptions = {}): { signal: Promise<NodeJS.Signals>; remove: () => void } {
  let remove!: () => void;
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    remove = onStopSignal(resolve, options);
  });
  return { signal, remove };
}

export interface ForwardOptions {
  /**
   * Whether a signal is passed on when it arrives (default: always). One that is not is still
   * caught, so it does not end this process: e.g. Ctrl-C, which the terminal sends to the child
   * itself (same process group).
   */
  pass?: (signal: NodeJS.Signals) => boolean;
}

/**
 * Passes the signals this process receives on to child while it runs; meanwhile a signal never
 * ends this process (its exit is the child's to decide). Returns the function that stops
 * forwarding: call it once the child has exited (or failed to start).
 */
export function forwardSignals(child: ChildProcess, signals: readonly NodeJS.Signals[], options: ForwardOptions = {}): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    if (options.pass && !options.pass(signal)) return;
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  };
  for (const s of signals) process.on(s, handler);
  return () => {
    for (const s of signals) process.off(s, handler);
  };
}

/**
 * Which signals exec, record and run pass on to their command: all of them, except that a
 * terminal's Ctrl-C / Ctrl-\ (SIGINT, SIGQUIT) already reach the command (same process group)
 * and are not sent twice. Without a terminal (`kill -INT`, a supervisor) they are passed on too.
 */
export function passToCommand(): (signal: NodeJS.Signals) => boolean {
  const tty = process.stdin.isTTY === true;
  return (signal) => !(tty && (signal === 'SIGINT' || signal === 'SIGQUIT'));
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Waits for child to exit, passing the signals on meanwhile (forwardSignals); rejects with the
 * spawn error if it could not start.
 */
export function untilExit(child: ChildProcess, signals: readonly NodeJS.Signals[], options: ForwardOptions = {}): Promise<ChildExit> {
  return new Promise((resolve, reject) => {
    const done = forwardSignals(child, signals, options);
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

/** A shell's exit status for how a child ended: its code, or 128 + the number of the signal that killed it. */
export function exitStatus(exit: ChildExit): number {
  if (exit.code !== null) return exit.code;
  if (exit.signal === null) return 1;
  return 128 + ((constants.signals as Record<string, number>)[exit.signal] ?? 0);
}
