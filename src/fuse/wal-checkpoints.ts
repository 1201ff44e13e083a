/**
 * A mounted agent's WAL checkpoints run on a thread of the addon (native/checkpointer.h) instead
 * of inside its commits. SQLite checkpoints in the commit that takes the WAL past 1,000 frames:
 * it copies them into the database file and syncs both files while every request behind that
 * commit waits (a 64 MiB write through the mount: COMMIT 12.5 ms each, 412 of ~860 ms). The
 * thread keeps the same cadence, off the requests' path; the writer's own automatic checkpoint
 * stays as a backstop far beyond it (the thread stuck, or refused its connection).
 * AGENTFS_BACKGROUND_CHECKPOINTS=0 leaves checkpoints to the commits.
 */
import type { Store } from '../store/index.js';
import { traceTarget, writeTrace } from '../trace.js';
import { loadBinding } from './binding.js';

/** SQLite's default automatic checkpoint, kept by the thread. */
const CHECKPOINT_FRAMES = 1000;
/** The writer checkpoints in its commit past this many frames (~40 MiB of WAL). */
const BACKSTOP_FRAMES = 10000;

/** Starts the thread for store (a writable file); problems go to report, and commits checkpoint as before. */
export function checkpointInBackground(store: Store, report: (e: unknown) => void): void {
  if (store.readOnly || store.path === ':memory:' || process.env.AGENTFS_BACKGROUND_CHECKPOINTS === '0') return;
  const native = loadBinding();
  let thread;
  try {
    thread = native.walCheckpointer(store.path, CHECKPOINT_FRAMES);
  } catch (e) {
    report(e);
    return;
  }
  store.setAutoCheckpoint(BACKSTOP_FRAMES);
  store.onEndWrite(() => native.walCheckpointerKick(thread));
  // before the store's closing checkpoint, which must not meet the thread's
  store.onClose(() => {
    const { runs, maxLog, error } = native.walCheckpointerStop(thread);
    if (error) report(new Error(`background checkpoint: ${error}`));
    if (traceTarget()) writeTrace([`background checkpoints: ${runs} runs, WAL up to ${maxLog} frames`]);
  });
}
