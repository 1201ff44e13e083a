/**
 * How V8 compiles the JavaScript of a process that serves a FUSE mount (`agentfs mount`, `exec`,
 * `run`): TurboFan optimizes each hot function without inlining its callees.
 *
 * Why: a fresh server optimizes its request paths during its first seconds of traffic, on a
 * background thread that takes a core from the client and from the server's own thread (two
 * cores here). With inlining, the dispatchers that call every handler (FuseServer.serveInOrder,
 * the create and write paths) compiled to 25-40 ms each, and each new kind of request, or a
 * change of an object shape they inlined, discarded them to be compiled again: 840-890 ms of
 * compiling in the first pass of the mount bench's workload, 220-370 ms in each of the next two.
 * Without (and one small decoder per request kind, requests.ts): 506-523, 196-317, 102-147 ms.
 * The steady state costs the same (V8's and optimized code's samples per SQLite sample:
 * 1.32-1.41 without, 1.36-1.37 with; warm mounts' `tar x` and `git clone` within 2.5% in paired
 * rounds). No TurboFan at all (`--no-opt`) compiles nothing but runs the steady state ~20%
 * slower (LoadIC and call builtins in place of optimized code). ARCHITECTURE.md, FUSE section.
 *
 * Set at run time, before the server starts, for this process only: the SDK never sets it in its
 * users' processes, nor do the other commands (`serve nfs`, whose XDR codecs are JavaScript, was
 * not measured without it). `AGENTFS_V8_INLINING=1` keeps V8's default (to compare).
 */
import { setFlagsFromString } from 'node:v8';

let set = false;

/** Turns TurboFan's inlining off for the rest of this process (once; see above). */
export function compileForServing(): void {
  if (set || process.env.AGENTFS_V8_INLINING === '1') return;
  set = true;
  setFlagsFromString('--no-turbo-inlining');
}
