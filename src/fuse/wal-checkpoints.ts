/**
 * A mounted agent's WAL checkpoints run on a thread of the addon (native/checkpointer.h) instead
 * of inside its commits. SQLite checkpoints in the commit that takes the WAL past 1,000 frames:
 * it copies them into the database file and syncs both files while every request behind that
 * commit waits (a 64 MiB write through the mount: COMMIT 12.5 ms each, 412 of ~860 ms). The
 * thread keeps the same cadence, off the requests' path; the writer's own automatic checkpoint
 * stays as a backstop far beyond it (the thread stuck, or refused its connection), and the writer
 * starts a long WAL over itself.
 * AGENTFS_BACKGROUND_CHECKPOINTS=0 leaves checkpoints to the commits.
 */
import type { Store } from '../store/index.js';
import { traceTarget, writeTrace } from '../trace.js';
import { loadBinding, type CheckpointerHandle } from './binding.js';

/** SQLite's default automatic checkpoint, kept by the thread. */
const CHECKPOINT_FRAMES = 1000;
/**
 * Commits paused this long, the thread checkpoints what is left under CHECKPOINT_FRAMES: an idle
 * mount's database file holds everything (the CLI reading beside it, a copy of the file).
 */
const IDLE_MS = 1000;
/** The writer checkpoints in its commit past this many frames (~40 MiB of WAL). */
const BACKSTOP_FRAMES = 10000;
/**
 * A WAL this long (~16 MiB) is started over by the writer once the thread's passes have caught up
 * (or it is twice that long), while the thread waits for it: the WAL's bound (~33 MiB and a pass
 * of the thread). The writer waits a moment for readers of older snapshots (RESTART_WAIT_MS),
 * longer once the WAL is twice that long. A restarted WAL file is cut back to WAL_KEEP_BYTES.
 */
const RESTART_FRAMES = 4000;
const RESTART_WAIT_MS = 5;
const RESTART_WAIT_LONG_MS = 500;
const WAL_KEEP_BYTES = 4 << 20;
/**
 * Commits paused this long, a WAL file longer than WAL_KEEP_BYTES is emptied: a reader's long
 * snapshot had kept every restart from happening, and its 390 MB stayed on disk until the next
 * write. Tried again as long while a reader or a checkpoint under way refuses it.
 */
const IDLE_TRUNCATE_MS = 3000;

/** What the mount tells the checkpoints. */
export interface WalCheckpoints {
  /**
   * Near a full disk the commits checkpoint themselves, as SQLite does by default: a WAL left
   * to grow while the thread runs behind takes room the files then lack (a 24 MB disk held
   * 6.4 MB of files instead of 9.9, and kept its 14 MB WAL after they were deleted).
   */
  lowSpace(on: boolean): void;
}

/**
 * Starts the thread for store (a writable file). Problems go to report, and commits checkpoint
 * as before; undefined when there is no thread.
 */
export function checkpointInBackground(store: Store, report: (e: unknown) => void): WalCheckpoints | undefined {
  if (store.readOnly || store.path === ':memory:' || process.env.AGENTFS_BACKGROUND_CHECKPOINTS === '0') return undefined;
  const native = loadBinding();
  let thread: CheckpointerHandle;
  try {
    thread = native.walCheckpointer(store.path, CHECKPOINT_FRAMES, RESTART_FRAMES, IDLE_MS);
  } catch (e) {
    report(e);
    return undefined;
  }
  let low = false;
  store.setAutoCheckpoint(BACKSTOP_FRAMES);
  store.limitWal(WAL_KEEP_BYTES);
  const idle = setTimeout(() => {
    if (store.isClosed || store.walBytes() <= WAL_KEEP_BYTES) return;
    let done = false;
    try {
      done = store.restartWal(0, true);
    } catch {
      /* a busy or full disk: tried again */
    }
    if (!done) idle.refresh();
  }, IDLE_TRUNCATE_MS);
  idle.unref();
  store.onEndWrite(() => {
    idle.refresh();
    if (low) return;
    const frames = native.walCheckpointerKick(thread);
    if (frames > 0 && !store.isClosed) {
      try {
        store.restartWal(frames >= 2 * RESTART_FRAMES ? RESTART_WAIT_LONG_MS : RESTART_WAIT_MS);
      } catch (e) {
        report(e);
      }
    }
  });
  // before the store's closing checkpoint, which must not meet the thread's
  store.onClose(() => {
    clearTimeout(idle);
    const { runs, maxLog, error } = native.walCheckpointerStop(thread);
    if (error) report(new Error(`background checkpoint: ${error}`));
    if (traceTarget()) writeTrace([`background checkpoints: ${runs} runs, WAL up to ${maxLog} frames`]);
  });
  return {
    lowSpace(on: boolean): void {
      if (on === low || store.isClosed) return;
      low = on;
      store.setAutoCheckpoint(on ? CHECKPOINT_FRAMES : BACKSTOP_FRAMES);
      if (on) {
        try {
          store.restartWal(RESTART_WAIT_MS);
        } catch {
          /* a commit checkpoints it soon */
        }
      }
    },
  };
}
