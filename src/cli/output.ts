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
      else outputFailed(name, e);
    });
  }
}

/**
 * Output that cannot be written for another reason (`> /dev/full`: ENOSPC, EIO): one line and
 * status 1, as `ls > /dev/full` says "write error", not a stack trace.
 */
function outputFailed(name: 'stdout' | 'stderr', e: NodeJS.ErrnoException): never {
  if (name === 'stdout') {
    try {
      process.stderr.write(`agentfs: cannot write to standard output: ${e.code ?? ''}${e.code ? ': ' : ''}${describe(e)}\n`);
    } catch {
      /* nowhere left to say it */
    }
  }
  process.exit(1);
}

function describe(e: NodeJS.ErrnoException): string {
  // "ENOSPC: no space left on device, write" -> "no space left on device"
  return e.message.replace(/^[A-Z]+: /, '').replace(/, write$/, '');
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
