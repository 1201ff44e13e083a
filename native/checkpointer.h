// WAL checkpoints on a thread of their own, for a writer that must not wait for them (the FUSE
// server: a checkpoint in its connection's commit copied every frame to the database file and
// synced both files while the requests behind it waited; 64 MiB written: ~330 of ~860 ms).
// The writer turns its own automatic checkpoints (nearly) off and kicks this thread after each
// commit; the thread checkpoints (PASSIVE: it never blocks the writer or readers) once at least
// `min_frames` frames are not yet in the database file, as SQLite's own automatic checkpoint
// would have, from a connection of the addon's SQLite (open-file-description locks: sqlite_ofd.h),
// and the frames left under that once the commits have paused for `idle_ms`. A WAL found
// `restart_frames` long, once the passes have caught up, goes to the writer to start over (only a
// writer can), and the thread makes no pass until the writer has taken it.
#pragma once

#include <node_api.h>

// Adds walCheckpointer, walCheckpointerKick and walCheckpointerStop to the addon's exports.
void checkpointer_register(napi_env env, napi_value exports);
