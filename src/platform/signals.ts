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

/** Signals caught for a child that is about to be spawned: see catchSignals. */
export interface SignalCatcher {
  /** Passes on what was caught meanwhile, then every signal until stop(). */
  forwardTo(child: ChildProcess): void;
  /** Removes the handlers: call it once the child has exited (or failed to start). */
  stop(): void;
}

/**
 * Catches the signals from now on, for a child spawned next: meanwhile a signal never ends this
 * process (its exit is the child's to decide). The handlers must be in place before the spawn,
 * because the child can run, and be seen running (its first line of output), before the code
 * after spawn() does: a SIGINT sent then found no handler and killed us instead of the child.
 * What arrives before forwardTo is passed on then, once per signal, in the order it came.
 */
export function catchSignals(signals: readonly NodeJS.Signals[], options: ForwardOptions = {}): SignalCatcher {
  let child: ChildProcess | null = null;
  const early: NodeJS.Signals[] = [];
  const pass = (signal: NodeJS.Signals): void => {
    if (options.pass && !options.pass(signal)) return;
    if (!child) {
      if (!early.includes(signal)) early.push(signal);
      return;
    }
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  };
  for (const s of signals) process.on(s, pass);
  return {
    forwardTo(c) {
      child = c;
      for (const s of early.splice(0)) pass(s);
    },
    stop() {
      for (const s of signals) process.off(s, pass);
    },
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
 * Spawns the child with start() and waits for it to exit, passing the signals on meanwhile, from
 * before the spawn (catchSignals); rejects with the spawn error if it could not start.
 */
export function untilExit(start: () => ChildProcess, signals: readonly NodeJS.Signals[], options: ForwardOptions = {}): Promise<ChildExit> {
  const caught = catchSignals(signals, options);
  let child: ChildProcess;
  try {
    child = start();
  } catch (e) {
    caught.stop();
    return Promise.reject(e);
  }
  return new Promise((resolve, reject) => {
    child.on('error', (e) => {
      caught.stop();
      reject(e);
    });
    child.on('exit', (code, signal) => {
      caught.stop();
      resolve({ code, signal });
    });
    caught.forwardTo(child);
  });
}

/** A shell's exit status for how a child ended: its code, or 128 + the number of the signal that killed it. */
export function exitStatus(exit: ChildExit): number {
  if (exit.code !== null) return exit.code;
  if (exit.signal === null) return 1;
  return 128 + ((constants.signals as Record<string, number>)[exit.signal] ?? 0);
}
