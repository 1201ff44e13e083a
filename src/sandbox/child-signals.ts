import { catchSignals, passToCommand, withCaughtSignals, type SignalCatcher } from '../platform/signals.js';

/**
 * What a sandboxed run passes on to its command. A terminal's Ctrl-C / Ctrl-\ already reach the
 * command (same process group): those are passed on only when there is no terminal; the others
 * always are.
 */
const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGINT', 'SIGQUIT'];

/** The run's signals, caught from now until stop() (catchSignals). */
export function catchSandboxSignals(): SignalCatcher {
  return catchSignals(FORWARDED, { pass: passToCommand() });
}

/** Runs fn with the run's signals caught throughout (set-up, command, clean-up). */
export function withSandboxSignals<T>(fn: (caught: SignalCatcher) => Promise<T>): Promise<T> {
  return withCaughtSignals(FORWARDED, { pass: passToCommand() }, fn);
}
