// See checkpointer.h.
#include "checkpointer.h"

#include "sqlite_ofd.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

namespace {

// Where the wal-index (the -shm file, native byte order) keeps the last valid frame of the WAL
// (WalIndexHdr.mxFrame) and how many of them are in the database file (WalCkptInfo.nBackfill):
// https://www.sqlite.org/walformat.html
const off_t SHM_MX_FRAME = 16;
const off_t SHM_N_BACKFILL = 96;

struct Checkpointer {
  std::string path;
  uint32_t min_frames = 1000;
  // a WAL this long after a checkpoint should start over (walCheckpointerKick says so)
  uint32_t restart_frames = 4000;
  // commits quiet this long: the frames left under min_frames go in too (0: never)
  uint32_t idle_ms = 1000;
  std::atomic<uint32_t> long_wal{0};  // its length in frames, until told
  sqlite3* db = nullptr;
  int shm = -1;
  std::mutex mu;
  std::condition_variable cv;
  bool kicked = false;
  bool stopping = false;
  bool stopped = false;
  std::thread thread;
  std::atomic<uint64_t> runs{0};
  std::atomic<uint64_t> max_log{0};  // the longest WAL a checkpoint met, in frames
  std::string error;  // the first failure (guarded by mu)
};

// Frames of the WAL not yet copied to the database; 0 when the wal-index cannot be read.
uint32_t pending(Checkpointer* c) {
  if (c->shm < 0) return 0;  // opened at start or never (see Start)
  uint32_t mx = 0, backfill = 0;
  if (pread(c->shm, &mx, 4, SHM_MX_FRAME) != 4 || pread(c->shm, &backfill, 4, SHM_N_BACKFILL) != 4) return 0;
  return mx > backfill ? mx - backfill : 0;
}

void note_error(Checkpointer* c, const std::string& what) {
  std::lock_guard<std::mutex> lock(c->mu);
  if (c->error.empty()) c->error = what;
}

// Syncs the database file through the thread's own connection: a descriptor of the file opened
// and closed here would drop the POSIX locks libsql's connections hold on it (sqlite_ofd.cc).
// A failure is left to the writer's restart, whose own sync reports it.
void sync_database(Checkpointer* c) {
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(c->db, "main", SQLITE_FCNTL_FILE_POINTER, &file) == SQLITE_OK && file && file->pMethods) {
    file->pMethods->xSync(file, SQLITE_SYNC_NORMAL);
  }
}

// A PASSIVE checkpoint; frames a reader's snapshot still needs stay in the WAL. True when it
// found the WAL long enough for the writer to start it over.
bool checkpoint(Checkpointer* c) {
  int log = 0, done = 0;
  int rc = sqlite3_wal_checkpoint_v2(c->db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
  c->runs++;
  if (rc == SQLITE_OK) {
    if ((uint64_t)log > c->max_log) c->max_log = (uint64_t)log;
    // the WAL starts over only when a writer begins after a checkpoint that left nothing
    // behind, which a stream of commits never lets happen: the writer is told to restart it
    if (log >= 0 && (uint32_t)log >= c->restart_frames) {
      // The writer's restart copies what the passes left (the commits made during them) and
      // syncs the database file, while the requests behind it wait. A pass under a stream of
      // commits syncs nothing (SQLite syncs only a checkpoint that reaches the WAL's end), so
      // the pages copied since the last restart are synced here first, and while more than a
      // pass's worth is left and the WAL is under twice the length, another pass catches up.
      sync_database(c);
      uint32_t left = pending(c);
      if (left < c->min_frames || (uint32_t)log >= 2 * c->restart_frames) {
        c->long_wal = (uint32_t)log;
        return true;
      }
    }
  } else if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
    // busy: another checkpoint runs (a second mount, the CLI); the next kick tries again
    note_error(c, sqlite3_errmsg(c->db));
  }
  return false;
}

void run(Checkpointer* c) {
  // frames under min_frames wait for the commits to pause: a mount left idle has its whole WAL
  // in the database file (readers beside it, a crash's recovery, a copy of the file)
  bool owed = false;
  int idle_tries = 0;
  for (;;) {
    bool idle = false;
    {
      std::unique_lock<std::mutex> lock(c->mu);
      auto woken = [c] { return c->kicked || c->stopping; };
      if (owed && c->idle_ms > 0) {
        idle = !c->cv.wait_for(lock, std::chrono::milliseconds(c->idle_ms), woken);
      } else {
        c->cv.wait(lock, woken);
      }
      if (c->stopping) break;
      c->kicked = false;
    }
    if (!idle) idle_tries = 0;
    uint32_t waiting = pending(c);
    owed = waiting > 0;
    if (waiting == 0 || (!idle && waiting < c->min_frames)) continue;
    bool long_wal = checkpoint(c);
    // a reader's snapshot holds frames back: an idle pass is tried a few times, then it waits
    // for the next commit
    owed = pending(c) > 0 && (!idle || ++idle_tries < 3);
    if (long_wal) {
      // the writer restarts the WAL after its next commit, which needs the checkpoint lock this
      // thread would take again at once for the commits made during its pass (a restart never
      // got it while a fast stream kicked the thread throughout: a 400 MiB WAL). The kicks so far
      // are dropped, and Kick wakes the thread only once the writer has taken the length.
      std::lock_guard<std::mutex> lock(c->mu);
      c->kicked = false;
    }
  }
  sqlite3_close(c->db);
  c->db = nullptr;
  if (c->shm >= 0) sqlite_ofd_close(c->shm);
  c->shm = -1;
}

void stop(Checkpointer* c) {
  {
    std::lock_guard<std::mutex> lock(c->mu);
    if (c->stopped) return;
    c->stopped = true;
    c->stopping = true;
  }
  c->cv.notify_one();
  if (c->thread.joinable()) c->thread.join();
}

void finalize(napi_env, void* data, void*) {
  Checkpointer* c = static_cast<Checkpointer*>(data);
  stop(c);
  delete c;
}

Checkpointer* get(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < want) return nullptr;
  void* data = nullptr;
  if (napi_get_value_external(env, argv[0], &data) != napi_ok) {
    napi_throw_type_error(env, nullptr, "not a checkpointer");
    return nullptr;
  }
  return static_cast<Checkpointer*>(data);
}

// walCheckpointer(path, minFrames, restartFrames, idleMs): starts the thread, its connection open
// (throws if it cannot).
napi_value Start(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  size_t argc = 4;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  size_t len = 0;
  if (argc < 4 || napi_get_value_string_utf8(env, argv[0], nullptr, 0, &len) != napi_ok) {
    napi_throw_type_error(env, nullptr, "walCheckpointer(path, minFrames, restartFrames, idleMs)");
    return nullptr;
  }
  std::string path(len, '\0');
  napi_get_value_string_utf8(env, argv[0], &path[0], len + 1, &len);
  double min = 1000, restart = 4000, idle = 1000;
  napi_get_value_double(env, argv[1], &min);
  napi_get_value_double(env, argv[2], &restart);
  napi_get_value_double(env, argv[3], &idle);
  if (!sqlite_ofd_locks()) {
    napi_throw_error(env, nullptr, "the SQLite VFS does not allow open-file-description locks");
    return nullptr;
  }
  Checkpointer* c = new Checkpointer();
  c->path = path;
  c->min_frames = min >= 1 ? (uint32_t)min : 1;
  c->restart_frames = restart >= 1 ? (uint32_t)restart : 1;
  c->idle_ms = idle >= 1 ? (uint32_t)idle : 0;
  int rc = sqlite3_open_v2(path.c_str(), &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  // A first read opens the WAL (a checkpoint on a connection that has read nothing does nothing).
  if (rc == SQLITE_OK) {
    sqlite3_busy_timeout(c->db, 5000);  // it may meet a writer's WAL recovery
    rc = sqlite3_exec(c->db, "PRAGMA synchronous = NORMAL; SELECT 1 FROM sqlite_master LIMIT 1", nullptr, nullptr, nullptr);
    sqlite3_busy_timeout(c->db, 0);
  }
  // the wal-index too, now: the server starts it before its mount, and the path may lead through
  // that mount later (a database inside its own mountpoint: the server would wait on itself)
  // named after the file SQLite opened, a symlink resolved (the link's own -shm does not exist,
  // and the thread then never found frames waiting)
  if (rc == SQLITE_OK) {
    const char* file = sqlite3_db_filename(c->db, "main");
    std::string shm = std::string(file && *file ? file : path.c_str()) + "-shm";
    c->shm = sqlite_ofd_open(shm.c_str(), O_RDONLY | O_CLOEXEC, 0);
  }
  if (rc != SQLITE_OK) {
    std::string msg = std::string("cannot open the database for checkpoints: ") + (c->db ? sqlite3_errmsg(c->db) : "out of memory");
    sqlite3_close(c->db);
    delete c;
    napi_throw_error(env, nullptr, msg.c_str());
    return nullptr;
  }
  try {
    c->thread = std::thread(run, c);
  } catch (const std::system_error& e) {
    sqlite3_close(c->db);
    delete c;
    napi_throw_error(env, nullptr, (std::string("cannot start the checkpoint thread: ") + e.what()).c_str());
    return nullptr;
  }
  napi_value ext;
  napi_create_external(env, c, finalize, nullptr, &ext);
  return ext;
}

// walCheckpointerKick(c): a commit happened; checkpoint if enough frames wait. Returns the WAL's
// length in frames once after a checkpoint found it at least restartFrames long (the writer
// should restart it), else 0.
napi_value Kick(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Checkpointer* c = get(env, info, 1, argv);
  if (!c) return nullptr;
  // a long WAL goes to the writer, which restarts it before the thread's next pass (run)
  uint32_t long_wal = c->long_wal.exchange(0);
  bool wake = false;
  if (long_wal == 0) {
    std::lock_guard<std::mutex> lock(c->mu);
    if (!c->stopping && !c->kicked) c->kicked = wake = true;
  }
  if (wake) c->cv.notify_one();
  napi_value out;
  napi_create_uint32(env, long_wal, &out);
  return out;
}

// walCheckpointerStop(c): waits for a checkpoint under way, closes the connection; {runs, maxLog, error?}
napi_value Stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Checkpointer* c = get(env, info, 1, argv);
  if (!c) return nullptr;
  stop(c);
  napi_value o, v;
  napi_create_object(env, &o);
  napi_create_double(env, (double)c->runs.load(), &v);
  napi_set_named_property(env, o, "runs", v);
  napi_create_double(env, (double)c->max_log.load(), &v);
  napi_set_named_property(env, o, "maxLog", v);
  if (!c->error.empty()) {
    napi_create_string_utf8(env, c->error.c_str(), c->error.size(), &v);
    napi_set_named_property(env, o, "error", v);
  }
  return o;
}

}  // namespace

void checkpointer_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"walCheckpointer", nullptr, Start, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"walCheckpointerKick", nullptr, Kick, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"walCheckpointerStop", nullptr, Stop, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
