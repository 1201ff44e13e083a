/**
 * What the CLI does when its reader goes away (`agentfs fs cat a big | head -c1`): Node ignores
 * SIGPIPE, so a write to a closed pipe raises EPIPE, which used to surface as an "Unhandled 'error'
 * event" stack trace. We end the way a C tool would: killed by SIGPIPE (status 141 in a shell),
 * quietly. Installed once for every command; a command that must tidy up first (record) can
 * take the event over.
 */

type Handler = (stream: 'stdout' | 'stderr') => void;

let handler: Handler = dieOfSigpipe;
let installed = false;

export function installPipeHandling(): void {
  if (installed) return;
  installed = true;
  for (const name of ['stdout', 'stderr'] as const) {
    process[name].on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') handler(name);
      else throw e;
    });
  }
}

/** Replaces what happens on a closed output (until restored with the returned function). */
export function onOutputClosed(fn: Handler): () => void {
  const before = handler;
  handler = fn;
  return () => {
    handler = before;
  };
}

/** Terminates this process by SIGPIPE, as a tool that does not ignore it would die. */
export function dieOfSigpipe(): never {
  // Node sets SIGPIPE to "ignore"; adding and removing a listener makes libuv restore the default.
  const noop = () => {};
  process.on('SIGPIPE', noop);
  process.off('SIGPIPE', noop);
  process.kill(process.pid, 'SIGPIPE');
  process.exit(128 + 13); // not reached where signals work
}
