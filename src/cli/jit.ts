/**
 * How V8 compiles the JavaScript of a process that serves a FUSE mount (`agentfs mount`, `exec`,
 * `run`): TurboFan optimizes each hot function without inlining its callees.
 *
 * Why: a fresh server optimizes its request paths during its first seconds of traffic, on a
 * background thread that takes a core from the client and from the server's own thread (two
 * cores here). With inlining, the dispatchers that call every handler (FuseServer.serveInOrder,
 * the create and write paths) compile to 25-40 ms each, and each new kind of request, or a change
 * of an object shape they inlined, discards them to be compiled again: 840-890 ms of compiling in
 * the first pass of the mount bench's workload, 220-370 ms in each of the next two, 115 in the
 * fourth. Without inlining: 415, 224, 114, 54 ms. The server's steady-state JavaScript costs the
 * same (V8's own and optimized-code time per unit of SQLite time: 1.32-1.41 without, 1.36-1.37
 * with), and a fresh server's first `git clone` of the bench's repository took ~60 ms less in 4
 * of 5 alternated pairs. No TurboFan at all (`--no-opt`) compiles nothing but runs the
 * steady state ~20% slower (LoadIC and call builtins in place of optimized code).
 *
 * Set at run time, before the server starts, for this process only: the SDK never sets it in its
 * users' processes, nor do the other commands (`serve nfs` decodes XDR in JavaScript, where
 * inlining pays). `AGENTFS_V8_INLINING=1` keeps V8's default (to compare).
 */
import { setFlagsFromString } from 'node:v8';

let set = false;

/** Turns TurboFan's inlining off for the rest of this process (once; see above). */
export function compileForServing(): void {
  if (set || process.env.AGENTFS_V8_INLINING === '1') return;
  set = true;
  setFlagsFromString('--no-turbo-inlining');
}
