/**
 * An agent's WAL checkpoints run on a thread of the addon (native/checkpointer.h) instead of
 * inside its commits, for a mount, a sandbox run and an SDK agent. SQLite checkpoints in the
 * commit that takes the WAL past 1,000 frames: it copies them into the database file and syncs
 * both files while every request behind that commit waits (a 64 MiB write through the mount:
 * COMMIT 12.5 ms each, 412 of ~860 ms; an SDK writeFile of 4 KiB: ~18 of ~78 µs on average). The
 * thread keeps the same cadence, off the writer's path; the writer's own automatic checkpoint
 * stays as a backstop far beyond it (the thread stuck, or refused its connection), and the writer
 * starts a long WAL over itself.
 * AGENTFS_BACKGROUND_CHECKPOINTS=0 leaves checkpoints to the commits.
 */
import type { Store } from '../store/index.js';
import { traceTarget, writeTrace } from '../trace.js';
import { loadBinding, type CheckpointerHandle } from '../fuse/binding.js';

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

/**
 * Commits made by single statements (Store.autocommit: an SDK writeFile, kv set, tool record) kick
 * the thread once per this many, and once more when they pause (the event loop's next turn): a
 * kick per commit woke the thread for every ~75 µs write, and on two cores that cost more than
 * the checkpoints it moved (SDK writeFile 0.92x of inline checkpoints, against 0.76x kicked every
 * 16th). The thread counts the WAL's frames itself, so a kick is only a prompt to look.
 */
const AUTOCOMMIT_KICKS = 16;
/** With watchSpace: free space under this makes the commits checkpoint themselves again (see lowSpace). */
const LOW_SPACE_BYTES = 256 << 20;
/** ... looked at no more often than this */
const SPACE_POLL_MS = 1000;

/** What the mount tells the checkpoints. */
export interface WalCheckpoints {
  /**
   * Near a full disk the commits checkpoint themselves, as SQLite does by default: a WAL left
   * to grow while the thread runs behind takes room the files then lack (a 24 MB disk held
   * 6.4 MB of files instead of 9.9, and kept its 14 MB WAL after they were deleted).
   */
  lowSpace(on: boolean): void;
}

export interface CheckpointOptions {
  /**
   * Watch the free space of the database's file system (statfs, at most once a second, at a
   * kick) and call lowSpace as it crosses LOW_SPACE_BYTES: for a writer with no watch of its own
   * (an SDK agent; a mount's group commit watches the space it writes into).
   */
  watchSpace?: boolean;
  /**
   * The WAL file a restart leaves (journal_size_limit; default WAL_KEEP_BYTES). A writer of many
   * small commits keeps the whole WAL (a restart's bound and a pass): a WAL cut back at each
   * restart grows again block by block, and under durability 'full' each commit's fsync then
   * writes the file's new size too. It is emptied all the same once the commits pause.
   */
  keepWalBytes?: number;
}

/**
 * Starts the thread for store (a writable file). Problems go to report, and commits checkpoint
 * as before; undefined when there is no thread (an in-memory or read-only store, the addon not
 * loadable here, the thread refused).
 */
export function checkpointInBackground(store: Store, report: (e: unknown) => void, options: CheckpointOptions = {}): WalCheckpoints | undefined {
  if (store.readOnly || store.path === ':memory:' || process.env.AGENTFS_BACKGROUND_CHECKPOINTS === '0') return undefined;
  let native: ReturnType<typeof loadBinding>;
  let thread: CheckpointerHandle;
  try {
    native = loadBinding();
    thread = native.walCheckpointer(store.path, CHECKPOINT_FRAMES, RESTART_FRAMES, IDLE_MS);
  } catch (e) {
    report(e);
    return undefined;
  }
  let low = false;
  store.setAutoCheckpoint(BACKSTOP_FRAMES);
  const keep = options.keepWalBytes ?? WAL_KEEP_BYTES;
  store.limitWal(keep);
  const idle = setTimeout(() => {
    if (store.isClosed || store.walBytes() <= Math.min(keep, WAL_KEEP_BYTES)) return;
    let done = false;
    try {
      done = store.restartWal(0, true);
    } catch {
      /* a busy or full disk: tried again */
    }
    if (!done) idle.refresh();
  }, IDLE_TRUNCATE_MS);
  idle.unref();
  let spaceAt = 0;
  const kick = (): void => {
    idle.refresh();
    if (options.watchSpace) {
      const now = Date.now();
      if (now - spaceAt >= SPACE_POLL_MS) {
        spaceAt = now;
        checkpoints.lowSpace(store.hostFreeBytes() < LOW_SPACE_BYTES);
      }
    }
    if (low) return;
    const frames = native.walCheckpointerKick(thread);
    if (frames > 0 && !store.isClosed) {
      try {
        store.restartWal(frames >= 2 * RESTART_FRAMES ? RESTART_WAIT_LONG_MS : RESTART_WAIT_MS);
      } catch (e) {
        report(e);
      }
    }
  };
  let unkicked = 0;
  let pauseKick = false;
  const kickAtPause = (): void => {
    pauseKick = false;
    if (unkicked > 0 && !store.isClosed) {
      unkicked = 0;
      kick();
    }
  };
  store.onEndWrite(() => {
    unkicked = 0;
    kick();
  });
  store.onAutocommit(() => {
    if (++unkicked >= AUTOCOMMIT_KICKS) {
      unkicked = 0;
      kick();
    } else if (!pauseKick) {
      pauseKick = true;
      setImmediate(kickAtPause);
    }
  });
  // before the store's closing checkpoint, which must not meet the thread's
  store.onClose(() => {
    clearTimeout(idle);
    const { runs, maxLog, error } = native.walCheckpointerStop(thread);
    if (error) report(new Error(`background checkpoint: ${error}`));
    if (traceTarget()) writeTrace([`background checkpoints: ${runs} runs, WAL up to ${maxLog} frames`]);
  });
  const checkpoints: WalCheckpoints = {
    lowSpace(on: boolean): void {
      if (on === low || store.isClosed) return;
      low = on;
      store.setAutoCheckpoint(on ? CHECKPOINT_FRAMES : BACKSTOP_FRAMES);
      // a WAL kept long for the thread's restarts would hold room the files lack
      store.limitWal(on ? Math.min(keep, WAL_KEEP_BYTES) : keep);
      if (on) {
        try {
          store.restartWal(RESTART_WAIT_MS);
        } catch {
          /* a commit checkpoints it soon */
        }
      }
    },
  };
  return checkpoints;
}
