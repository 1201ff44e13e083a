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

/** Signals caught for the whole life of a command that runs a child: see catchSignals. */
export interface SignalCatcher {
  /** The first signal that came before the child was spawned (then it should not be). */
  readonly early: NodeJS.Signals | undefined;
  /** Passes on what was caught before, then every signal while the child runs. */
  forwardTo(child: ChildProcess): void;
  /** Removes the handlers: call it at the very end, once the child is gone and cleaned up after. */
  stop(): void;
}

/**
 * Catches the signals from now until stop(), for a command that sets up, runs a child, and
 * cleans up after it (exec mounts and unmounts, record finishes its call, run serves its overlay):
 * meanwhile no signal ends this process midway, which would leave a mount, a session or a call
 * behind. While the child runs, they are passed on to it (options.pass), and its exit decides
 * ours. Before it is spawned they are kept (early: the command should not start); after it
 * exited they are ignored. The handlers go in before the spawn because the child can print, and
 * be signalled through us, before the code after spawn() runs.
 */
export function catchSignals(signals: readonly NodeJS.Signals[], options: ForwardOptions = {}): SignalCatcher {
  let child: ChildProcess | null = null;
  const early: NodeJS.Signals[] = [];
  const send = (signal: NodeJS.Signals): void => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  };
  const handler = (signal: NodeJS.Signals): void => {
    // before the child, even a terminal's Ctrl-C is ours to act on: it did not reach a child
    if (!child) {
      if (!early.includes(signal)) early.push(signal);
    } else if (!options.pass || options.pass(signal)) send(signal);
  };
  for (const s of signals) process.on(s, handler);
  return {
    get early() {
      return early[0];
    },
    forwardTo(c) {
      child = c;
      for (const s of early) send(s);
    },
    stop() {
      for (const s of signals) process.off(s, handler);
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

/** Runs fn with the signals caught throughout (catchSignals), and the handlers removed after. */
export async function withCaughtSignals<T>(
  signals: readonly NodeJS.Signals[],
  options: ForwardOptions,
  fn: (caught: SignalCatcher) => Promise<T>,
): Promise<T> {
  const caught = catchSignals(signals, options);
  try {
    return await fn(caught);
  } finally {
    caught.stop();
  }
}

/**
 * Spawns the child with start() and waits for it to exit, the caught signals passed on to it;
 * rejects with the spawn error if it could not start. A signal caught before means the command
 * is not started: it ends as if that signal had killed it.
 */
export function untilExit(start: () => ChildProcess, caught: SignalCatcher): Promise<ChildExit> {
  if (caught.early) return Promise.resolve({ code: null, signal: caught.early });
  let child: ChildProcess;
  try {
    child = start();
  } catch (e) {
    return Promise.reject(e);
  }
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal }));
    caught.forwardTo(child);
  });
}

/** A shell's exit status for how a child ended: its code, or 128 + the number of the signal that killed it. */
export function exitStatus(exit: ChildExit): number {
  if (exit.code !== null) return exit.code;
  if (exit.signal === null) return 1;
  return 128 + ((constants.signals as Record<string, number>)[exit.signal] ?? 0);
}

/**
 * Ends the process now with status, its caught signals still caught. A command that caught them to
 * its end (catchSignals, never stopped) ends this way: a natural exit first closes Node's signal
 * handlers and then tears down for some milliseconds, during which a signal ended us instead.
 */
export function exitWithSignalsCaught(status: number): never {
  process.exit(status);
}
