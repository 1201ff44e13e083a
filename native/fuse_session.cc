// agentfs_native: a libfuse 3 low-level (inode-based) session driven from JavaScript.
//
// Threading model: native threads run the FUSE loop (loop::run: one leader thread reads and serves,
// large reads go to other threads; reader.h answers the read-only requests). Every other request is decoded
// into a Req, queued, and the JS thread is woken through a napi_threadsafe_function (one wake
// per burst, not per request). JS drains the whole queue in one call, serves the requests against the
// FileSystem, and answers each one by calling a reply function below with the request id.
// After such a request the leader offers its role to the JS thread, which then reads the client's
// next requests itself for a while (drainSpin, loop::lead) and hands it back before its event loop.
// libfuse replies are thread-safe (a writev on /dev/fuse), so replying from the JS thread is fine
// and the loop thread never waits for JavaScript.
#include <fuse_lowlevel.h>
#include <node_api.h>

#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <sys/uio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

// The request format (enum Op, struct Req, pack_<op>, REQ_LAYOUT), generated from
// native/requests.json by scripts/gen-requests.mjs together with its TypeScript side.
#include "requests.h"
// The native read path (lookup, getattr, readdir, read, readlink, statfs from SQLite on this side).
#include "host_files.h"
#include "reader.h"
#include "reply_buffers.h"
#include "trial.h"
#include "utf8.h"
#include "host_stat.h"
#include "checkpointer.h"
#include "reply_writer.h"
#include "dirents.h"

Req* new_req(fuse_req_t req, int op) {
  Req* r = new Req();
  r->op = op;
  r->req = req;
  if (req) {
    const fuse_ctx* ctx = fuse_req_ctx(req);
    r->uid = ctx->uid;
    r->gid = ctx->gid;
    r->pid = ctx->pid;
  }
  return r;
}

namespace {

namespace loop {
struct State;
}

// A cache invalidation to send to the kernel (from the notifier thread, see Session).
struct Notice {
  bool entry;  // true: inval_entry(parent=ino, name); false: inval_inode(ino, off, len)
  uint64_t ino;
  int64_t off, len;
  std::string name;
};

struct Session {
  fuse_session* se = nullptr;
  // Invalidations go out from their own thread: the kernel may hold a directory lock while it
  // waits for a reply that only the JS thread can give, so JS must never block on a notify.
  std::thread notifier;
  std::mutex nmu;
  std::condition_variable ncv;
  std::deque<Notice> notices;
  bool notifier_stop = false;
  std::thread thread;
  std::mutex mu;
  std::vector<Req*> queue;
  // queue.size(), read without the lock: opens are answered natively only while few events wait
  // (events_full)
  std::atomic<size_t> queue_len{0};
  // opens left to JavaScript because the queue was full of events (AGENTFS_FUSE_STATS)
  std::atomic<uint64_t> opens_throttled{0};
  std::atomic<bool> wake_pending{false};
  std::atomic<uint64_t> queued{0};  // requests ever queued (drainSpin watches it)
  std::atomic<uint64_t> woke{0};    // of them, those queued as JavaScript's to answer (loop::worker)
  napi_threadsafe_function tsfn = nullptr;
  std::string mountpoint;
  bool destroyed = false;
  bool unrefed = false;
  std::atomic<bool> loop_done{false};
  // negotiated at init
  unsigned max_write = 1 << 20;
  unsigned max_readahead = 1 << 20;
  bool writeback = false;
  bool readdirplus = true;
  bool expire_only = false;  // the kernel can expire an entry without unhashing it
  // The session's I/O goes through killpriv_writev (AGENTFS_FUSE_KILLPRIV=0: not), and the INIT
  // reply, not written yet, is to carry FUSE_HANDLE_KILLPRIV.
  bool killpriv_io = false;
  std::atomic<bool> killpriv_pending{false};
  // Replies written from the client's CPU (reply_writer.h); needs the custom I/O. Its counts are
  // kept here once it is gone, for AGENTFS_FUSE_STATS.
  ReplyWriter* replies = nullptr;
  bool replies_on = false;
  ReplyWriter::Counts replies_counts;
  // Reads answered here (reader.h) while JavaScript has no write transaction open: what it
  // wrote but has not committed yet is visible only to its own connection.
  Reader* reader = nullptr;
  std::string reader_error;
  std::atomic<bool> writing{false};
  // An overlay's files that are exactly host files, answered from the host (host_files.h).
  HostFiles* host = nullptr;
  // An overlay's delta, read as `reader` reads a mount's database: GETATTR of its regular files
  // (HostFiles::add_delta) under the same rule (no write transaction open in JavaScript).
  Reader* delta = nullptr;
  // Read-only opens being answered natively right now, and a hold that sends new ones to
  // JavaScript: JavaScript must count every native open before it changes or frees what the open
  // saw (an unlink through the mount, another process's rm), so before it acts it stops new native
  // opens (writing or holding), waits for those in flight (their OPENED is queued by then) and
  // runs the queued events (see wait_opens).
  std::atomic<int> opens_inflight{0};
  std::atomic<bool> holding{false};
  // Inside a write transaction, read-only opens of files it has not touched are answered here
  // too, until JavaScript is about to remove a name (unlink, rmdir, rename: closeOpens): from
  // then to the transaction's end they go to JavaScript, which has counted every one before. A
  // removal outside a transaction closes them for the one it is about to open (reset only when a
  // transaction ends).
  std::atomic<bool> opens_closed{false};
  // A hold's end is announced here (await_hold); waits counts the requests that waited for one.
  std::mutex hold_mu;
  std::condition_variable hold_cv;
  std::atomic<uint64_t> hold_waits{0};
  // The change watcher's last check found no other process's commit: the database readers may
  // keep their snapshots across requests (Reader::renew). Another writer's WAL starts over only
  // when no reader holds a snapshot of it, which snapshots held back to back never allow (its
  // WAL grew 3-5x beside a read loop), so they are not kept while another process writes.
  std::atomic<bool> outside_quiet{true};
  // Every request being answered natively right now: a hold waits for them too, so that what
  // they handed to the kernel from the database as it was before another process's commit is
  // known (Reader::take_known) by the time JavaScript invalidates it.
  std::atomic<int> reads_inflight{0};
  // Inodes JavaScript changed in its open write transaction, with their attributes as of its last
  // change (sent after each one): the kernel asks for a directory's after every create or unlink
  // in it (default_permissions), and for a file's before a chown (tar x: after its write), and
  // GETATTR of them is answered here meanwhile. A change JavaScript makes without sending them
  // drops them (forgetAttrs), as does a read time it notes (atimePending). Emptied when the
  // transaction ends (committed, they are in the database; rolled back, they never were).
  std::mutex changed_mu;
  std::unordered_map<uint64_t, struct stat> changed_attrs;
  std::atomic<uint64_t> changed_served{0};  // GETATTRs answered from changed_attrs
  std::atomic<uint64_t> made_absent_served{0};  // an overlay's LOOKUPs answered by made_absent
  // Names JavaScript's open write transaction added (created, made, linked, renamed to; the key is
  // the parent's 8 bytes and the name), and any it removed or moved away without naming the inode
  // it held (which is touched otherwise, and keeps the name's lookups from the database too): any
  // other name is as the database has committed it, so a LOOKUP of one is answered here
  // meanwhile, absent (a create's LOOKUP of its new name, each file of a write burst) or present
  // when the transaction did not touch its inode (each name `rm -rf` removes from a directory it
  // did not list lately), while these go to JavaScript. Emptied with changed_attrs.
  std::unordered_set<std::string> changed_names;
  // Directories JavaScript made in its open write transaction (mkdir): every name in one was added
  // by it, so a LOOKUP of a name not in changed_names is answered here as absent, without the
  // database, which does not have the directory yet (before, it went to JavaScript: each file
  // `tar x` or `git clone` writes into a directory it just made is looked up first). Dropped when
  // JavaScript changes one without sending its attributes (forgetAttrs: removed, moved); emptied
  // with changed_attrs. An overlay's is mapped to the host directory its names would come from
  // (made_absent checks the host there); a mount's, or an overlay's that shows no base, to "".
  std::unordered_map<uint64_t, std::string> made_dirs;
  // Every inode JavaScript's open write transaction changed, as it said (changedAttrs,
  // forgetAttrs, madeDir, a stored access time) or as queued to it (note_stale): any other inode
  // is as the database has it, and GETATTR of one is answered from there meanwhile (a directory
  // the last group changed, asked for after a new group began with another file's request).
  // Emptied with changed_attrs.
  std::unordered_set<uint64_t> touched;
  // Directories being listed natively now, and by how many requests (under changed_mu). Before
  // JavaScript changes a name in one it waits for their replies (changingDir), so a listing the
  // database served never reaches the kernel after the change's reply (it would bring back a
  // name just removed, as a dentry the kernel keeps for the entry timeout).
  std::unordered_map<uint64_t, int> listing_dirs;
  double attr_timeout = 1;
  // The loop's threads and who reads /dev/fuse (loop::State); freed by destroy, after the loop.
  loop::State* lead = nullptr;
};

// Requests queued for JavaScript (every session's) and not answered yet; one that answers with
// attributes counts until its reply is written (answered_attrs). See atime_moved. (Requests a
// destroyed session never answered stay counted: that only costs needless invalidations.)
std::atomic<int> g_js_out{0};

// Request ids handed to JS: slots of one table, touched only on the JS thread.
std::vector<fuse_req_t> g_slots;
std::vector<uint32_t> g_free;

uint32_t slot_put(fuse_req_t r) {
  if (!g_free.empty()) {
    uint32_t id = g_free.back();
    g_free.pop_back();
    g_slots[id] = r;
    return id;
  }
  g_slots.push_back(r);
  return (uint32_t)(g_slots.size() - 1);
}

fuse_req_t slot_take(uint32_t id) {
  if (id >= g_slots.size()) return nullptr;
  fuse_req_t r = g_slots[id];
  if (!r) return nullptr;
  g_slots[id] = nullptr;
  g_free.push_back(id);
  return r;
}

void enqueue(Session* s, Req* r) {
  if (r->req) g_js_out.fetch_add(1);  // before JavaScript can see it (see atime_moved)
  {
    std::lock_guard<std::mutex> lock(s->mu);
    s->queue.push_back(r);
    s->queue_len.store(s->queue.size(), std::memory_order_relaxed);
  }
  s->queued.fetch_add(1, std::memory_order_release);
  s->woke.fetch_add(1, std::memory_order_relaxed);
  if (!s->wake_pending.exchange(true)) {
    napi_call_threadsafe_function(s->tsfn, nullptr, napi_tsfn_nonblocking);
  }
}

// An event JavaScript must count before the requests queued after it, but need not act on now
// (a file opened or released natively, an access time a native read moved): it waits for the next
// request that wakes the JS thread (each file `cat` reads would otherwise wake it up to three
// times), for a full queue, or for JavaScript's timer (QUIET_DRAIN_MS in src/fuse/server.ts).
const size_t QUIET_MAX = 4096;
void enqueue_quiet(Session* s, Req* r) {
  size_t n;
  {
    std::lock_guard<std::mutex> lock(s->mu);
    s->queue.push_back(r);
    n = s->queue.size();
    s->queue_len.store(n, std::memory_order_relaxed);
  }
  s->queued.fetch_add(1, std::memory_order_release);
  if (n >= QUIET_MAX && !s->wake_pending.exchange(true)) {
    napi_call_threadsafe_function(s->tsfn, nullptr, napi_tsfn_nonblocking);
  }
}

Session* sess(fuse_req_t req) { return static_cast<Session*>(fuse_req_userdata(req)); }

// Events waiting for JavaScript past which opens are no longer answered natively. A native open
// queues an event for JavaScript to count (and its release another) and returns at once, so
// parallel threads opening and closing files without end queued them faster than JavaScript
// counted them (~5 us each): the queue, and the batches JavaScript took from it, grew by ~300 MB
// a round of 16 threads x 50,000 opens (a hostile pass). Past this many, an open waits for
// JavaScript like any request JavaScript answers, and the client's pace becomes JavaScript's.
// AGENTFS_FUSE_EVENTS_MAX sets it (tests).
size_t events_max() {
  static const size_t max = [] {
    const char* v = getenv("AGENTFS_FUSE_EVENTS_MAX");
    long n = v ? strtol(v, nullptr, 10) : 0;
    return n > 0 ? (size_t)std::min(n, 1L << 30) : (size_t)65536;
  }();
  return max;
}

bool events_full(Session* s) {
  if (s->queue_len.load(std::memory_order_relaxed) < events_max()) return false;
  s->opens_throttled.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// The kernel gets ino's attributes in this reply, or is about to drop them (Reader::sent_attrs).
void note_sent(fuse_req_t req, uint64_t ino, uint32_t mode) {
  Session* s = sess(req);
  if (s->reader && ino) s->reader->sent_attrs(ino, mode);
}
void note_stale(Session* s, uint64_t ino) {
  if (!s->reader && !s->delta) return;
  if (s->reader) s->reader->stale_attrs(ino);
  // what JavaScript sent of it is about to change: it sends them again after (a safety net for a
  // change whose handler would not)
  std::lock_guard<std::mutex> lock(s->changed_mu);
  s->changed_attrs.erase(ino);
  s->touched.insert(ino);
}

// A read moved ino's access time (a native one, counted in own_native, or JavaScript's) while
// another request that hands the kernel attributes may be in flight: that one may have read the
// row before the time moved and reach the kernel after the read's reply, which only marks the
// cached atime stale, and the kernel would keep the old time for the attribute timeout.
// Invalidating the inode moves its attr_version past every request sent before, so the kernel
// drops what those bring. The pending time was noted before this runs (with a lock, then the
// fence): a request counted too late to be seen here looks for it after counting and finds it.
void atime_moved(Session* s, uint64_t ino, int own_native) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (s->reads_inflight.load() <= own_native && g_js_out.load() <= 0) return;
  if (!s->reader && s->host) {  // an overlay's delta inode: the kernel knows it by its own numbers
    for (uint64_t shown : s->host->shown_as(ino)) fuse_lowlevel_notify_inval_inode(s->se, shown, -1, 0);
    return;
  }
  fuse_lowlevel_notify_inval_inode(s->se, ino, -1, 0);
}

// The database readers' snapshots (Reader::renew, Reader::idle): kept across requests only while
// JavaScript neither writes nor holds, and no other process writes (Session::outside_quiet).
void renew_readers(Session* s, bool hold) {
  hold = hold && s->outside_quiet.load();
  if (s->reader) s->reader->renew(hold);
  if (s->delta) s->delta->renew(hold);
}
void readers_idle(Session* s) {
  if (s->reader) s->reader->idle();
  if (s->delta) s->delta->idle();
}

// A request the native reader could answer that meets a hold waits for its end, then is answered
// here, rather than going to JavaScript: the hold lasts one synchronous turn of JavaScript's loop
// (the change watcher's check), which could not start on the request before then anyway, and a
// cold READ served there cost ~10 ms against ~1 here (2 of a 64 MiB read's 64 met one). Bounded:
// past it the request goes to JavaScript as before. Never called with a request counted in flight
// (reads_inflight, opens_inflight): the hold waits for those.
constexpr auto HOLD_WAIT = std::chrono::milliseconds(20);
void await_hold(Session* s) {
  if (!s->reader || !s->holding.load()) return;
  s->hold_waits.fetch_add(1, std::memory_order_relaxed);
  std::unique_lock<std::mutex> lock(s->hold_mu);
  s->hold_cv.wait_for(lock, HOLD_WAIT, [s] { return !s->holding.load(); });
}

// One request on the native reader, counted while it runs (Session::reads_inflight); reader is
// null when it may not answer now (something uncommitted on the JavaScript side, or a hold).
// wait: a hold met first is waited for (await_hold); false when the caller counts the request
// in flight already.
struct NativeCall {
  Session* s;
  Reader* reader = nullptr;
  explicit NativeCall(Session* session, bool wait = true) : s(session) {
    if (!s->reader) return;
    if (wait) await_hold(s);
    s->reads_inflight.fetch_add(1);  // before the flags are read (see wait_reads)
    if (!s->writing.load() && !s->holding.load()) reader = s->reader;
  }
  ~NativeCall() {
    if (s->reader) s->reads_inflight.fetch_sub(1);
  }
};
int64_t fh_of(fuse_file_info* fi) { return fi ? (int64_t)fi->fh : -1; }

// ---- low-level operations: decode and queue ------------------------------------------------

// Names are stored as UTF-8 text and handed to JavaScript as strings; converting bytes that are
// not UTF-8 would turn each bad byte into U+FFFD and two names into one file. Such names are
// refused here, before any conversion, with EILSEQ (the check RFC 3629 asks: no overlong forms,
// no surrogates, nothing above U+10FFFF). The core applies the rest of the name rules.
bool utf8_ok(const char* p) { return utf8_valid(reinterpret_cast<const unsigned char*>(p), strlen(p)); }

// Replies EILSEQ (and returns true) when a name is not UTF-8.
bool refuse_name(fuse_req_t req, const char* a, const char* b = nullptr) {
  if (utf8_ok(a) && (!b || utf8_ok(b))) return false;
  fuse_reply_err(req, EILSEQ);
  return true;
}

// ---- FUSE_HANDLE_KILLPRIV ----------------------------------------------------------------------
//
// The server drops set-id bits itself (core/fs/set-id.ts: a write or truncate by a caller without
// privilege, any chown), so the kernel need not: told so (FUSE_HANDLE_KILLPRIV), it sends no
// GETATTR before each chown (one a file in `tar x`) nor a SETATTR of the mode before a write to a
// set-id file. libfuse 3.14 takes the capability in ll_init but never puts the flag into its INIT
// reply (fixed in 3.17), so the reply is amended on its way out, through libfuse's
// custom I/O: the session's reads and writes are the plain system calls otherwise.
ssize_t killpriv_read(int fd, void* buf, size_t len, void*) { return read(fd, buf, len); }

ssize_t killpriv_writev(int fd, struct iovec* iov, int count, void* userdata) {
  Session* s = static_cast<Session*>(userdata);
  if (s->killpriv_pending.load(std::memory_order_relaxed) && count >= 2 && iov[0].iov_len == sizeof(fuse_out_header) &&
      iov[1].iov_len >= offsetof(fuse_init_out, flags) + sizeof(uint32_t)) {
    // the first reply after ll_init is INIT's (no other request is served before it)
    s->killpriv_pending = false;
    auto* out = static_cast<fuse_out_header*>(iov[0].iov_base);
    if (out->error == 0) static_cast<fuse_init_out*>(iov[1].iov_base)->flags |= FUSE_HANDLE_KILLPRIV;
  }
  // a notice (unique 0) has no client waiting for it, and an entry's may block on a directory lock
  ssize_t res;
  if (s->replies && count >= 1 && iov[0].iov_len >= sizeof(fuse_out_header) &&
      static_cast<fuse_out_header*>(iov[0].iov_base)->unique != 0 && s->replies->write(fd, iov, count, &res))
    return res;
  return writev(fd, iov, count);
}

void ll_init(void* userdata, fuse_conn_info* conn) {
  Session* s = static_cast<Session*>(userdata);
  if (s->max_write) conn->max_write = s->max_write;
  conn->max_readahead = s->max_readahead;
  conn->max_background = 64;
  conn->congestion_threshold = 48;
  conn->time_gran = 1;  // nanosecond timestamps
  if (conn->capable & FUSE_CAP_ASYNC_READ) conn->want |= FUSE_CAP_ASYNC_READ;
  if (conn->capable & FUSE_CAP_CACHE_SYMLINKS) conn->want |= FUSE_CAP_CACHE_SYMLINKS;
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  if (s->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) conn->want |= FUSE_CAP_WRITEBACK_CACHE;
  else conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  if (!s->readdirplus) conn->want &= ~(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
  s->expire_only = (conn->capable & FUSE_CAP_EXPIRE_ONLY) != 0;
  // O_TRUNC comes with the open, which truncates (one round trip instead of open + setattr).
  if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
  s->killpriv_pending = s->killpriv_io && (conn->capable & FUSE_CAP_HANDLE_KILLPRIV) != 0;
  // libfuse 3.17 on sends the flag itself when wanted (its default): only when JavaScript is told
  if (s->killpriv_pending) conn->want |= FUSE_CAP_HANDLE_KILLPRIV;
  else conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
  enqueue(s, pack_init(nullptr, conn->max_write, conn->proto_major, conn->proto_minor,
                       (conn->want & FUSE_CAP_WRITEBACK_CACHE) != 0, (conn->want & FUSE_CAP_READDIRPLUS) != 0,
                       s->killpriv_pending.load()));
}

std::string name_key(uint64_t parent, const char* name) {
  std::string k(reinterpret_cast<const char*>(&parent), sizeof parent);
  k += name;
  return k;
}

// JavaScript's open write transaction has not changed this name (Session::changed_names); *made:
// it made the directory (Session::made_dirs), so the name is absent (for an overlay, unless the
// host has it in *base).
bool name_unchanged(Session* s, fuse_ino_t parent, const char* name, bool* made, std::string* base = nullptr) {
  std::lock_guard<std::mutex> lock(s->changed_mu);
  if (!s->writing.load(std::memory_order_acquire) || s->changed_names.count(name_key(parent, name)) != 0) return false;
  auto it = s->made_dirs.find(parent);
  *made = it != s->made_dirs.end();
  if (*made && base) *base = it->second;
  return true;
}

// LOOKUP in an overlay (Session::delta) of a name in a directory JavaScript's open write
// transaction made (mkdir) and did not add: absent, unless the host has it. The directory was
// made where the merged view showed nothing, so its names are its own, and a base entry only if
// the host has made the same directory since (then merged: JavaScript's to answer). Each file
// `tar x` or `git clone` makes is looked up first. Not cached by the kernel.
bool made_absent(Session* s, fuse_req_t req, fuse_ino_t parent, const char* name) {
  // every LOOKUP the host files declined passes here: no lock, no key, outside a transaction
  if (!s->delta || s->reader || !s->writing.load(std::memory_order_relaxed) || s->holding.load()) return false;
  size_t len = strlen(name);
  if (len == 0 || len > NAME_MAX || !strcmp(name, ".") || !strcmp(name, "..")) return false;
  bool made = false;
  std::string base;
  if (!name_unchanged(s, parent, name, &made, &base) || !made) return false;
  if (!base.empty() && !s->host->absent_beneath(base, name)) return false;
  s->made_absent_served.fetch_add(1, std::memory_order_relaxed);
  fuse_reply_err(req, ENOENT);
  return true;
}

bool changed_in_group(void* ctx, uint64_t ino);

void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (refuse_name(req, name)) return;
  Session* s = sess(req);
  if (s->host && (s->host->lookup(req, parent, name) || made_absent(s, req, parent, name))) return;
  {
    NativeCall n(s);
    if (n.reader) {
      if (n.reader->lookup(req, parent, name)) return;
    } else if (bool made = false; s->reader && !s->holding.load() && name_unchanged(s, parent, name, &made)) {
      // in a write transaction: the database's answer holds for a name the transaction did not
      // change, and with its attributes for an inode it did not touch (a linked one's count
      // moved). In a directory the transaction made, a name it did not add is absent.
      if (made) {
        if (s->reader->absent(req, name)) return;
      } else if (s->reader->lookup_unchanged(req, parent, name, Reader::Stale{changed_in_group, s})) {
        return;
      }
    }
  }
  enqueue(s, pack_lookup(req, parent, name));
}

void ll_forget(fuse_req_t req, fuse_ino_t, uint64_t) { fuse_reply_none(req); }
void ll_forget_multi(fuse_req_t req, size_t, fuse_forget_data*) { fuse_reply_none(req); }

// What JavaScript's open write transaction did to an inode: changed it and sent its attributes
// (*st filled), changed it otherwise, or not at all (the database's row is current).
enum class Touch { sent, changed, untouched };
Touch touch_of(Session* s, fuse_ino_t ino, struct stat* st) {
  std::lock_guard<std::mutex> lock(s->changed_mu);
  if (!s->writing.load(std::memory_order_acquire)) return Touch::changed;  // not known here: JavaScript's
  auto it = s->changed_attrs.find(ino);
  if (it != s->changed_attrs.end()) {
    *st = it->second;
    return Touch::sent;
  }
  return s->touched.count(ino) ? Touch::changed : Touch::untouched;
}

// GETATTR of an overlay's delta file (Session::delta), counted as the reader's requests are.
bool delta_getattr(Session* s, fuse_req_t req, fuse_ino_t ino) {
  uint64_t d = 0;
  if (!s->delta || !s->host->delta_of(ino, &d)) return false;
  s->reads_inflight.fetch_add(1);  // before the flags are read (see wait_reads)
  bool ok = !s->writing.load() && !s->holding.load() && s->delta->getattr_as(req, d, ino);
  s->reads_inflight.fetch_sub(1);
  return ok;
}

// GETATTR in an overlay (Session::delta) of a node whose attributes JavaScript's open write
// transaction sent after changing it (Session::changed_attrs, by overlay number): a directory
// after each create or mkdir in it (`tar x` in `run`: one a file). Only those: which
// delta rows the transaction changed otherwise is not known here by overlay number.
bool sent_getattr(Session* s, fuse_req_t req, fuse_ino_t ino) {
  if (!s->delta || s->holding.load()) return false;
  struct stat st;
  if (touch_of(s, ino, &st) != Touch::sent) return false;
  s->changed_served.fetch_add(1, std::memory_order_relaxed);
  fuse_reply_attr(req, &st, s->attr_timeout);
  return true;
}

void ll_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Session* s = sess(req);
  if (s->host && (s->host->getattr(req, ino) || delta_getattr(s, req, ino) || sent_getattr(s, req, ino))) return;
  NativeCall n(s);
  if (n.reader) {
    if (n.reader->getattr(req, ino)) return;
  } else if (s->reader && !s->holding.load()) {
    struct stat st;
    Touch t = touch_of(s, ino, &st);
    if (t == Touch::sent) {
      s->changed_served.fetch_add(1, std::memory_order_relaxed);
      note_sent(req, ino, st.st_mode);
      fuse_reply_attr(req, &st, s->attr_timeout);
      return;
    }
    if (t == Touch::untouched && s->reader->getattr(req, ino)) return;
  }
  enqueue(s, pack_getattr(req, ino, fh_of(fi)));
}

void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* a, int to_set, fuse_file_info* fi) {
  note_stale(sess(req), ino);
  enqueue(sess(req), pack_setattr(req, ino, to_set, fh_of(fi), a->st_mode, a->st_uid, a->st_gid, a->st_size,
                                  a->st_atim.tv_sec, a->st_atim.tv_nsec, a->st_mtim.tv_sec, a->st_mtim.tv_nsec));
}

// Inside a write transaction (NativeCall gave no reader): an inode the transaction did not touch
// is as the database has it (no other process commits while it is open), so a file's data is
// read and a read-only open answered from there (Reader::read, Reader::open: every change of a
// file's data or size touches it as its request arrives, note_stale). A directory the transaction
// did not touch has the entries the database shows, for every change of a name touches its directory
// before it is made (create, mkdir, mknod, symlink, link, unlink, rmdir, rename: changingDir) and
// a moved directory itself (its '..'). So such a directory is opened and listed from the
// database; a readdirplus lists an entry whose inode the transaction changed without its
// attributes (Reader::Stale), and the kernel asks for them (GETATTR: touch_of). An opendir needs
// no Listing: a change drops the kernel's cached listing itself (fuse_dir_changed).
Reader* group_reader(Session* s, fuse_ino_t ino) {
  if (!s->reader || s->holding.load()) return nullptr;
  struct stat st;
  return touch_of(s, ino, &st) == Touch::untouched ? s->reader : nullptr;
}

void ll_readlink(fuse_req_t req, fuse_ino_t ino) {
  Session* s = sess(req);
  if (NativeCall n(s); Reader* r = n.reader ? n.reader : group_reader(s, ino)) {
    if (r->readlink(req, ino)) return;
  }
  enqueue(s, pack_readlink(req, ino));
}

void ll_mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  if (refuse_name(req, name)) return;
  enqueue(sess(req), pack_mknod(req, parent, name, mode, rdev));
}

void ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  if (refuse_name(req, name)) return;
  enqueue(sess(req), pack_mkdir(req, parent, name, mode));
}

void ll_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (refuse_name(req, name)) return;
  enqueue(sess(req), pack_unlink(req, parent, name));
}

void ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (refuse_name(req, name)) return;
  enqueue(sess(req), pack_rmdir(req, parent, name));
}

void ll_symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  if (refuse_name(req, name, link)) return;
  enqueue(sess(req), pack_symlink(req, parent, name, link));
}

void ll_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
               unsigned int flags) {
  if (refuse_name(req, name, newname)) return;
  enqueue(sess(req), pack_rename(req, parent, name, newparent, newname, flags));
}

void ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  if (refuse_name(req, newname)) return;
  note_stale(sess(req), ino);
  enqueue(sess(req), pack_link(req, ino, newparent, newname));
}

void ll_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Session* s = sess(req);
  bool full = (s->host || s->reader) && events_full(s);
  if (!full && s->host && s->host->open(req, ino, fi)) return;
  if (!full && s->reader) {
    await_hold(s);  // before it is counted: the hold waits for the opens counted
    // counted before the flags are read (both sequentially consistent): whoever sets writing or
    // holding then either sees this open in flight and waits for its OPENED, or it sees the flag
    s->opens_inflight.fetch_add(1);
    bool served;
    {
      NativeCall n(s, false);
      // in a write transaction: a file it did not touch is as the database has it, unless a
      // removal of a name may free it before JavaScript counts this open (opens_closed)
      Reader* r = n.reader ? n.reader : s->opens_closed.load() ? nullptr : group_reader(s, ino);
      served = r && r->open(req, ino, fi);
    }
    s->opens_inflight.fetch_sub(1);
    if (served) return;
  }
  if (fi->flags & O_TRUNC) note_stale(s, ino);
  enqueue(s, pack_open(req, ino, fi->flags));
}

// After writing or holding was set: the native opens that did not see it have finished, their
// OPENED events queued (an open takes microseconds and never waits for JavaScript).
void wait_opens(Session* s) {
  while (s->opens_inflight.load() > 0) std::this_thread::yield();
}
void wait_reads(Session* s) {
  while (s->reads_inflight.load() > 0) std::this_thread::yield();
}

void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Session* s = sess(req);
  if (fi && (fi->fh & HOST_FH) && s->host && s->host->read(req, ino, size, off, fi)) return;
  {
    NativeCall n(s);
    // in a write transaction: the data of a file it did not touch is the database's
    Reader* r = n.reader ? n.reader : group_reader(s, ino);
    if (r && r->read(req, ino, size, off)) return;
  }
  enqueue(s, pack_read(req, ino, fh_of(fi), size, off));
}

void ll_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  note_stale(sess(req), ino);
  enqueue(sess(req), pack_write(req, ino, fh_of(fi), off, fi->flags, fi->writepage, buf, size));
}

void ll_release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (fi && (fi->fh & NATIVE_FH)) {  // opened natively: JavaScript counts the release
    Session* s = sess(req);
    if ((fi->fh & HOST_FH) && s->host) {
      s->host->release(ino, fi);  // queues RELEASED (on_release)
    } else {
      enqueue_quiet(s, pack_released(nullptr, ino));
    }
    fuse_reply_err(req, 0);
    return;
  }
  enqueue(sess(req), pack_release(req, ino, fh_of(fi), fi->flags));
}

void ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
  enqueue(sess(req), pack_fsync(req, ino, fh_of(fi), datasync != 0));
}

// A native listing of dir in flight (Session::listing_dirs): counted unless, inside a write
// transaction, the transaction touched dir since the caller looked (then JavaScript lists it).
struct Listing {
  Session* s;
  uint64_t dir;
  bool on = false;
  Listing(Session* session, uint64_t d) : s(session), dir(d) {
    std::lock_guard<std::mutex> lock(s->changed_mu);
    if (s->writing.load() && (s->touched.count(dir) || s->changed_attrs.count(dir))) return;
    s->listing_dirs[dir]++;
    on = true;
  }
  ~Listing() {
    if (!on) return;
    std::lock_guard<std::mutex> lock(s->changed_mu);
    auto it = s->listing_dirs.find(dir);
    if (--it->second == 0) s->listing_dirs.erase(it);
  }
};
bool changed_in_group(void* ctx, uint64_t ino) {
  struct stat st;
  return touch_of(static_cast<Session*>(ctx), ino, &st) != Touch::untouched;
}

// OPENDIR of an overlay's directory living in the delta (copied up, or made in the session) whose
// listing the kernel may keep: its delta row read as delta_getattr reads one (no write
// transaction open here), the key checked and the open answered by HostFiles::open_delta_dir.
bool delta_opendir(Session* s, fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  uint64_t d = 0;
  if (!s->delta || !s->host->delta_dir_of(ino, &d)) return false;
  s->reads_inflight.fetch_add(1);  // before the flags are read (see wait_reads)
  int64_t sec = 0, nsec = 0;
  bool ok = !s->writing.load() && !s->holding.load() && s->delta->dir_mtime(d, &sec, &nsec) && s->host->open_delta_dir(req, ino, fi, sec, nsec);
  s->reads_inflight.fetch_sub(1);
  return ok;
}

void ll_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Session* s = sess(req);
  if (s->host && (s->host->opendir(req, ino, fi) || delta_opendir(s, req, ino, fi))) return;
  {
    NativeCall n(s);
    Reader* r = n.reader ? n.reader : group_reader(s, ino);
    if (r && r->opendir(req, ino, fi)) return;
  }
  enqueue(s, pack_opendir(req, ino, fi->flags));
}

void ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Session* s = sess(req);
  if (s->host && s->host->readdir(req, ino, size, off, false)) return;
  {
    NativeCall n(s);
    Reader* r = n.reader ? n.reader : group_reader(s, ino);
    if (Listing l(s, ino); l.on && r && r->readdir(req, ino, size, off, false)) return;
  }
  enqueue(s, pack_readdir(req, ino, fh_of(fi), size, off));
}

void ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Session* s = sess(req);
  if (s->host && s->host->readdir(req, ino, size, off, true)) return;
  {
    NativeCall n(s);
    Listing l(s, ino);
    if (!l.on) {
    } else if (n.reader) {
      if (n.reader->readdir(req, ino, size, off, true)) return;
    } else if (Reader* r = group_reader(s, ino); r && r->readdir(req, ino, size, off, true, Reader::Stale{changed_in_group, s})) {
      return;
    }
  }
  enqueue(s, pack_readdirplus(req, ino, fh_of(fi), size, off));
}

void ll_releasedir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (fi && (fi->fh & NATIVE_FH)) {  // opened natively, with no state kept for it
    fuse_reply_err(req, 0);
    return;
  }
  enqueue(sess(req), pack_releasedir(req, ino, fh_of(fi)));
}

void ll_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
  enqueue(sess(req), pack_fsyncdir(req, ino, fh_of(fi), datasync != 0));
}

void ll_statfs(fuse_req_t req, fuse_ino_t ino) {
  Session* s = sess(req);
  if (NativeCall n(s); n.reader && n.reader->statfs(req)) return;
  enqueue(s, pack_statfs(req, ino));
}

void ll_access(fuse_req_t req, fuse_ino_t ino, int mask) { enqueue(sess(req), pack_access(req, ino, mask)); }

void ll_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  if (refuse_name(req, name)) return;
  enqueue(sess(req), pack_create(req, parent, name, mode, fi->flags));
}

void ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length, fuse_file_info* fi) {
  note_stale(sess(req), ino);
  enqueue(sess(req), pack_fallocate(req, ino, fh_of(fi), mode, offset, length));
}

fuse_lowlevel_ops make_ops() {
  fuse_lowlevel_ops o;
  memset(&o, 0, sizeof o);
  o.init = ll_init;
  o.lookup = ll_lookup;
  o.forget = ll_forget;
  o.forget_multi = ll_forget_multi;
  o.getattr = ll_getattr;
  o.setattr = ll_setattr;
  o.readlink = ll_readlink;
  o.mknod = ll_mknod;
  o.mkdir = ll_mkdir;
  o.unlink = ll_unlink;
  o.rmdir = ll_rmdir;
  o.symlink = ll_symlink;
  o.rename = ll_rename;
  o.link = ll_link;
  o.open = ll_open;
  o.read = ll_read;
  o.write = ll_write;
  o.release = ll_release;
  o.fsync = ll_fsync;
  o.opendir = ll_opendir;
  o.readdir = ll_readdir;
  o.readdirplus = ll_readdirplus;
  o.releasedir = ll_releasedir;
  o.fsyncdir = ll_fsyncdir;
  o.statfs = ll_statfs;
  o.access = ll_access;
  o.create = ll_create;
  o.fallocate = ll_fallocate;
  // xattrs, locks, lseek, copy_file_range: left NULL, so libfuse answers ENOSYS and
  // the kernel falls back to its generic behaviour (local locks, zero-filling, plain copies).
  return o;
}

const fuse_lowlevel_ops g_ops = make_ops();

// ---- N-API helpers --------------------------------------------------------------------------

#define CHECK(call)                                                                 \
  do {                                                                              \
    if ((call) != napi_ok) {                                                        \
      napi_throw_error(env, nullptr, "agentfs_native: N-API call failed: " #call); \
      return nullptr;                                                               \
    }                                                                               \
  } while (0)

napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

napi_value str(napi_env env, const std::string& s) {
  napi_value v;
  napi_create_string_utf8(env, s.data(), s.size(), &v);
  return v;
}

bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return false;
  for (size_t i = argc; i < want; i++) napi_get_undefined(env, &argv[i]);
  return true;
}

double get_num(napi_env env, napi_value v, double dflt = 0) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return dflt;
  return d;
}

bool get_bool(napi_env env, napi_value v) {
  bool b = false;
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_boolean) napi_get_value_bool(env, v, &b);
  else if (t == napi_number) b = get_num(env, v) != 0;
  return b;
}

std::string get_str(napi_env env, napi_value v) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok) return std::string();
  std::string s(len, '\0');
  napi_get_value_string_utf8(env, v, &s[0], len + 1, &len);
  return s;
}

// A Float64Array argument: pointer to its first element and its length.
const double* get_f64(napi_env env, napi_value v, size_t* len) {
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &off) != napi_ok || type != napi_float64_array) {
    return nullptr;
  }
  *len = length;
  return static_cast<const double*>(data);
}

// Attributes travel as 15 doubles: ino mode nlink uid gid size rdev blksize blocks
// atime_s atime_ns mtime_s mtime_ns ctime_s ctime_ns.
const size_t ATTR_LEN = 15;

void fill_stat(const double* a, struct stat* st) {
  memset(st, 0, sizeof *st);
  st->st_ino = (ino_t)a[0];
  st->st_mode = (mode_t)a[1];
  st->st_nlink = (nlink_t)a[2];
  st->st_uid = (uid_t)a[3];
  st->st_gid = (gid_t)a[4];
  st->st_size = (off_t)a[5];
  st->st_rdev = (dev_t)a[6];
  st->st_blksize = (blksize_t)a[7];
  st->st_blocks = (blkcnt_t)a[8];
  st->st_atim.tv_sec = (time_t)a[9];
  st->st_atim.tv_nsec = (long)a[10];
  st->st_mtim.tv_sec = (time_t)a[11];
  st->st_mtim.tv_nsec = (long)a[12];
  st->st_ctim.tv_sec = (time_t)a[13];
  st->st_ctim.tv_nsec = (long)a[14];
}

void fill_entry(const double* a, double entry_timeout, double attr_timeout, fuse_entry_param* e) {
  memset(e, 0, sizeof *e);
  e->ino = (fuse_ino_t)a[0];
  e->generation = 0;
  fill_stat(a, &e->attr);
  e->entry_timeout = entry_timeout;
  e->attr_timeout = attr_timeout;
}

// attrs: the reply carries attributes; the caller calls answered_attrs once it is written.
fuse_req_t take_req(napi_env env, napi_value v, bool attrs = false) {
  double id = get_num(env, v, -1);
  fuse_req_t r = id >= 0 ? slot_take((uint32_t)id) : nullptr;
  if (!r) napi_throw_error(env, nullptr, "agentfs_native: unknown or already answered request id");
  else if (!attrs) g_js_out.fetch_sub(1);
  return r;
}
void answered_attrs() { g_js_out.fetch_sub(1); }

napi_value ret_int(napi_env env, int res) { return num(env, res); }

// ---- the JS side of the queue ---------------------------------------------------------------

// [op, id, uid, gid, pid, ...arguments], the arguments laid out as REQ_LAYOUT says for the op.
napi_value req_to_js(napi_env env, Req* r) {
  const char* layout = REQ_LAYOUT[r->op];
  napi_value arr;
  napi_create_array_with_length(env, 5 + strlen(layout), &arr);
  uint32_t i = 0;
  napi_set_element(env, arr, i++, num(env, r->op));
  napi_set_element(env, arr, i++, num(env, r->req ? (double)slot_put(r->req) : -1));
  napi_set_element(env, arr, i++, num(env, r->uid));
  napi_set_element(env, arr, i++, num(env, r->gid));
  napi_set_element(env, arr, i++, num(env, r->pid));
  int ni = 0, si = 0;
  for (const char* k = layout; *k; k++) {
    napi_value v;
    switch (*k) {
      case 'n': v = num(env, r->nums[ni++]); break;
      case 'b': napi_get_boolean(env, r->nums[ni++] != 0, &v); break;
      case 's': v = str(env, r->strs[si++]); break;
      default:  // 'd': bytes
        v = request_bytes_to_js(env, r->data);
    }
    napi_set_element(env, arr, i++, v);
  }
  return arr;
}

// The queued requests as JavaScript arrays (freed here).
napi_value batch_to_js(napi_env env, std::vector<Req*>& batch) {
  napi_value arr;
  napi_create_array_with_length(env, batch.size(), &arr);
  for (size_t i = 0; i < batch.size(); i++) {
    napi_set_element(env, arr, (uint32_t)i, req_to_js(env, batch[i]));
    delete batch[i];
  }
  batch.clear();
  return arr;
}

void call_js(napi_env env, napi_value js_cb, void* context, void*) {
  if (!env) return;
  Session* s = static_cast<Session*>(context);
  std::vector<Req*> batch;
  s->wake_pending.store(false);
  {
    std::lock_guard<std::mutex> lock(s->mu);
    batch.swap(s->queue);
    s->queue_len.store(0, std::memory_order_relaxed);
  }
  if (batch.empty()) return;
  napi_value arr = batch_to_js(env, batch);
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, js_cb, 1, &arr, nullptr);
}

// The loop of a session: one thread at a time reads /dev/fuse (the leader) and serves what it
// reads itself, so a sequential client's requests stay on one warm thread, as in libfuse's
// single-threaded loop (bindfs's). libfuse's worker threads all sleep in read() and the kernel wakes
// the one that waited longest: a client's requests alternated between threads, often across CPUs,
// and on a VM each wake-up of a halted CPU cost more than a natively served request (a second
// `grep -r` of 5,000 files: OPEN 34 us, RELEASE 29 us a request; here 15 and 8).
//
// After a request answered here the leader looks for the client's next one for a while (yielding
// the CPU) before it sleeps in poll() (grep -r on an overlay: 1.1 s without, 0.41 s with).
// After a request handed to JavaScript it sleeps at once: JavaScript answers, and its own thread
// looks for the next request (drainSpin). AGENTFS_FUSE_SPIN_US as for drainSpin.
//
// A large read (the kernel's readahead keeps several in flight) hands the leader's role to
// another thread before it is served, so reads from SQLite or the host's files run side by side
// (a cold sequential read of 64 MiB took twice as long on one thread).
namespace loop {

// The kernel's request header and read arguments (include/uapi/linux/fuse.h; stable ABI).
struct InHeader {
  uint32_t len, opcode;
  uint64_t unique, nodeid;
  uint32_t uid, gid, pid;
  uint16_t total_extlen, padding;
};
struct ReadIn {
  uint64_t fh, offset;
  uint32_t size, read_flags;
};
constexpr uint32_t OP_READ = 15;
constexpr uint32_t OP_OPEN = 14;
constexpr uint32_t LARGE_READ = 64 * 1024;
constexpr int MAX_THREADS = 4;

struct State {
  Session* s = nullptr;
  long spin_us = 200;
  // The JS thread may take the leader's role (js_lead; AGENTFS_FUSE_JS_LEAD=0 turns it off): see
  // offer() and lead().
  bool js_lead = true;
  std::mutex mu;
  std::condition_variable cv;
  bool leading = false;  // some thread holds the leader's role (the JS thread too)
  bool offered = false;  // the role waits for the JS thread (offer); no native thread takes it
  bool js_leading = false;
  bool done = false;
  int idle = 0;          // threads waiting for the role
  int res = 0;
  std::vector<std::thread> threads;
  fuse_buf js_buf{};     // the JS thread's request buffer while it leads
  // requests from a client's parallel threads keep the queue full: each is served beside the next
  // rather than before it (serves_beside), until a read finds the queue empty
  std::atomic<bool> burst{false};
  // changes of sending thread among back-to-back requests that start a burst (AGENTFS_FUSE_BURST; 0: never)
  int burst_changes = 2;
  std::atomic<uint64_t> burst_served{0};  // requests served beside the next for a burst (AGENTFS_FUSE_STATS)
  // whether handing a burst's requests on pays, tried on the traffic (serves_beside): every
  // interval within a burst up to 10 ms counts, since a burst ends where the queue is found empty
  // (queue_empty: rest). Only those under 1 ms counted, a thread preempted now and then when
  // handing on (2 CPUs, 64 client threads) went uncounted, and trials kept handing on where it
  // was 10-35% slower. AGENTFS_FUSE_BURST_TRIAL=0 hands them on without trials.
  Trial burst_trial{10000000};
  bool burst_tried = true;
  // requests being served on the native threads: a queue found empty while some are is no rest
  // of the client's (their replies bring its next requests), so that interval counts
  std::atomic<int> serving{0};
  ~State() { free(js_buf.mem); }
};

// How long a leader that handed a request to JavaScript keeps the role for the JS thread: it
// takes it once it has answered (drainSpin), usually within tens of microseconds; a JS thread
// busy longer (a commit, a large write) leaves the role to the native threads again.
constexpr auto OFFER_WAIT = std::chrono::microseconds(250);

// Whether a request should be served beside the next ones rather than before them.
bool large(const fuse_buf& b) {
  if (b.flags & FUSE_BUF_IS_FD) return true;  // spliced: its header not in memory yet
  if (b.size < sizeof(InHeader)) return false;
  const InHeader* h = static_cast<const InHeader*>(b.mem);
  // tests: an OPEN the reader delays (AGENTFS_FUSE_TEST_DELAY_MS's third number) waits beside the
  // next requests, so that one of them (an unlink) can reach JavaScript meanwhile
  static const bool open_delayed = [] {
    const char* v = getenv("AGENTFS_FUSE_TEST_DELAY_MS");
    const char* third = v ? strchr(v, ',') : nullptr;
    third = third ? strchr(third + 1, ',') : nullptr;
    return third && strtol(third + 1, nullptr, 10) > 0;
  }();
  if (open_delayed && h->opcode == OP_OPEN) return true;
  if (h->opcode != OP_READ || b.size < sizeof(InHeader) + sizeof(ReadIn)) return false;
  return reinterpret_cast<const ReadIn*>(h + 1)->size >= LARGE_READ;
}

void worker(State* st);

// Requests read in a row, each found already queued, and how often the thread that sent one
// changed (the header's pid is the sending thread's): a client's parallel threads keep the queue
// full and change at almost every request; one thread's read-ahead, asynchronous RELEASE and
// FORGET batches come back to back too, but from that one thread (or the kernel, pid 0).
struct Backlog {
  int changes = 0;
  uint32_t last_pid = 0;
  void reset() { changes = 0; last_pid = 0; }
  void read(const fuse_buf& b) {
    if (b.flags & FUSE_BUF_IS_FD || b.size < sizeof(InHeader)) return;
    uint32_t pid = static_cast<const InHeader*>(b.mem)->pid;
    if (pid == 0) return;
    if (last_pid != 0 && pid != last_pid) changes++;
    last_pid = pid;
  }
};

// Whether the request just read is served beside the next ones rather than before them (the
// leader's role handed on first): a large one, or one of a burst from parallel threads, while a
// trial on the traffic says that pays (trial.h). One thread serving a burst of parallel lstats in
// turn kept them waiting on each other on a VM whose idle vCPUs halt at once (`agentfs run`'s
// first git status of 7,000 files: GETATTR 154 us at the median, against 75 in fuse-overlayfs,
// which serves them side by side). On a VM with a paravirtual MMU, where a round trip between
// threads on two CPUs costs 17.5 us, the hand-off (a futex wake a request) made that git status
// 11% slower than serving in turn (236 ms against 212, 8 of 8 paired rounds), and a second thread
// reading the device beside the leader for the whole burst gained nothing either (both CPUs busy).
bool serves_beside(State* st, const fuse_buf& b, Backlog& backlog) {
  if (large(b)) return true;
  if (st->burst_changes <= 0) return false;
  backlog.read(b);
  if (!st->burst.load(std::memory_order_relaxed)) {
    if (backlog.changes < st->burst_changes) return false;
    st->burst.store(true, std::memory_order_relaxed);
  }
  // timed as it is read: the mean interval between a burst's requests is what either way gives
  if (st->burst_tried) {
    if (!st->burst_trial.offer(Trial::now_ns())) return false;  // a turn in turn, or its verdict
  }
  st->burst_served.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// A read found the queue empty: the run of back-to-back requests, and any burst, is over. Read
// before it is written: the leader spins here between requests, and a store each turn would
// take the line from the other threads every time.
void queue_empty(State* st, Backlog& backlog) {
  backlog.reset();
  if (st->burst.load(std::memory_order_relaxed)) {
    st->burst.store(false, std::memory_order_relaxed);
    // the gap to the next burst is the client's when nothing is being served: otherwise part of it
    // is the server's (handing on, the reader finds the queue empty while the others still serve,
    // and trials left out that wait kept handing on where serving in turn was faster: 4 of 18)
    if (st->burst_tried && st->serving.load(std::memory_order_relaxed) == 0) st->burst_trial.rest();
  }
}

// After a request handed to JavaScript the leader offers its role to the JS thread (under
// st->mu): the client's next request then wakes only the thread that answers it, as in a
// single-threaded server (bindfs). Handing each request from a leader thread to the JS thread
// cost a second wake-up, and on 2 cores three runnable threads (client, leader, a spinning JS
// thread) took turns: a RELEASE served in 3 us of JavaScript took 50 us in the kernel's count.
// True when the JS thread took the role (or the session ended); false when it did not come for
// it in time and this thread leads again.
bool offer(State* st, std::unique_lock<std::mutex>& lock) {
  st->leading = false;
  st->offered = true;
  if (st->cv.wait_for(lock, OFFER_WAIT, [st] { return st->js_leading || !st->offered || st->done; })) return true;
  st->offered = false;
  st->leading = true;
  return false;
}

// Gives the leader's role up (under st->mu), waking or starting a thread to take it.
void hand_off(State* st, std::unique_lock<std::mutex>&) {
  st->leading = false;
  if (st->idle > 0) {
    st->cv.notify_one();
  } else if ((int)st->threads.size() + 1 < MAX_THREADS) {
    try {
      st->threads.emplace_back(worker, st);
    } catch (const std::system_error&) {
      // no thread to be had (RLIMIT_NPROC, a cgroup's pids.max): this one takes the role back
      // once its read is served, and the session goes on with the threads it has
    }
  }
  // else: the next thread done with its request takes it
}

void worker(State* st) {
  fuse_session* se = st->s->se;
  fuse_buf fbuf;
  memset(&fbuf, 0, sizeof fbuf);
  pollfd p{fuse_session_fd(se), POLLIN, 0};
  bool answered = false;  // the last request this thread served was answered here
  bool spinning = false;  // waiting for the next request, until spin_until
  Backlog backlog;
  std::chrono::steady_clock::time_point spin_until;
  std::unique_lock<std::mutex> lock(st->mu);
  for (;;) {
    st->idle++;
    st->cv.wait(lock, [st] { return (!st->leading && !st->offered) || st->done; });
    st->idle--;
    if (st->done) break;
    st->leading = true;
    lock.unlock();
    for (;;) {  // leading
      if (fuse_session_exited(se)) {
        lock.lock();
        st->done = true;
        break;
      }
      // The device is non-blocking (set in run below): a request already queued is read with no
      // poll before it, one system call a request less while a client keeps the queue full
      // (`agentfs run`'s git status, its lstats from parallel threads: 259 -> 220 ms). After a
      // request answered here the leader spins on the read itself for spin_us, yielding the CPU.
      int res = fuse_session_receive_buf(se, &fbuf);
      if (res == -EAGAIN) {
        queue_empty(st, backlog);
        auto now = std::chrono::steady_clock::now();
        if (answered && st->spin_us > 0 && !spinning) {
          spinning = true;
          spin_until = now + std::chrono::microseconds(st->spin_us);
        }
        if (spinning && now < spin_until) {
          std::this_thread::yield();
          continue;
        }
        spinning = false;
        answered = false;  // slept: the next EAGAIN spins only after a request answered here
        // about to sleep: the readers let their snapshots go (a checkpoint may restart the WAL)
        readers_idle(st->s);
        poll(&p, 1, -1);  // unmounted: POLLERR, and the read says so
        continue;
      }
      spinning = false;
      if (res == -EINTR) continue;
      if (res <= 0) {
        lock.lock();
        st->done = true;
        st->res = res;
        break;
      }
      bool handed = serves_beside(st, fbuf, backlog);
      if (handed) {
        lock.lock();
        hand_off(st, lock);
        lock.unlock();
      }
      uint64_t before = st->s->woke.load(std::memory_order_relaxed);
      st->serving.fetch_add(1, std::memory_order_relaxed);
      fuse_session_process_buf(se, &fbuf);
      st->serving.fetch_sub(1, std::memory_order_relaxed);
      answered = st->s->woke.load(std::memory_order_relaxed) == before;
      if (handed) {
        lock.lock();
        break;  // back to waiting for the role
      }
      if (!answered && st->js_lead) {
        lock.lock();
        if (offer(st, lock)) break;  // the JS thread leads now: back to waiting for the role
        lock.unlock();
      }
    }
    if (st->done) {
      st->cv.notify_all();
      break;
    }
  }
  lock.unlock();
  free(fbuf.mem);
}

void set_nonblocking(State* st);

// Runs the session's loop on this thread and the ones it starts; returns once all have ended.
int run(Session* s) {
  State& st = *s->lead;
  // only the leader reads the device, and it polls before it sleeps (worker, lead)
  set_nonblocking(&st);
  worker(&st);
  // the others are waiting for the role or serving a request; done wakes them all
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    st.cv.notify_all();
    threads.swap(st.threads);
  }
  for (auto& t : threads) t.join();
  fuse_session_reset(s->se);
  return st.res < 0 ? st.res : 0;
}

State* make_state(Session* s) {
  State* st = new State();
  st->s = s;
  const char* env = getenv("AGENTFS_FUSE_SPIN_US");
  st->spin_us = env ? std::max(0L, strtol(env, nullptr, 10)) : 200;
  const char* burst = getenv("AGENTFS_FUSE_BURST");
  // a value that is no number keeps the default (it turned bursts off: strtol's 0)
  char* burst_end = nullptr;
  long burst_n = burst ? strtol(burst, &burst_end, 10) : 0;
  if (burst && burst_end != burst && *burst_end == 0) st->burst_changes = (int)std::min(std::max(0L, burst_n), 1000000L);
  const char* tried = getenv("AGENTFS_FUSE_BURST_TRIAL");
  st->burst_tried = !(tried && strcmp(tried, "0") == 0);
  const char* lead = getenv("AGENTFS_FUSE_JS_LEAD");
  st->js_lead = st->spin_us > 0 && !(lead && strcmp(lead, "0") == 0);
  return st;
}

// ---- the JS thread as the leader (drainSpin) ---------------------------------------------------

// The device's reads return EAGAIN when no request is queued (set by loop::run): a leader polls
// before it sleeps, and a request that is gone by the time it reads (its caller was killed) keeps
// no thread in read().
void set_nonblocking(State* st) {
  int fd = fuse_session_fd(st->s->se);
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

// Takes the role if the leader offered it (under st->mu).
bool take(State* st) {
  if (st->js_leading) return true;
  if (!st->offered || st->done) return false;
  st->offered = false;
  st->leading = true;
  st->js_leading = true;
  st->cv.notify_all();
  return true;
}

// Gives the role back to the native threads (under st->mu).
void give_back(State* st) {
  if (!st->js_leading) return;
  st->js_leading = false;
  st->leading = false;
  st->cv.notify_all();
}

// The longest the JS thread serves requests natively in a row before it returns to its event
// loop (its timers: the group commit, the quiet events).
constexpr auto LEAD_MAX = std::chrono::milliseconds(2);

// Leading on the JS thread: reads and serves requests until one is queued for JavaScript (woke
// moved past `woke0`) or none came for `us` microseconds. Requests answered natively are answered
// here, inline. Returns with the role given back unless a request for JavaScript was queued.
void lead(State* st, uint64_t woke0, long us) {
  Session* s = st->s;
  fuse_session* se = s->se;
  auto now = std::chrono::steady_clock::now();
  auto until = now + std::chrono::microseconds(us);
  const auto last = now + LEAD_MAX;
  Backlog backlog;
  while (s->woke.load(std::memory_order_acquire) == woke0) {
    if (std::chrono::steady_clock::now() >= std::min(until, last) || fuse_session_exited(se)) break;
    // read, yielding the CPU when none is queued, as the native leader after a request it
    // answered: sleeping in ppoll() instead cost every request a wake-up and made create+write
    // 2.5x slower here, and a poll() before each read one system call more
    int res = fuse_session_receive_buf(se, &st->js_buf);
    if (res == -EAGAIN) {
      queue_empty(st, backlog);
      std::this_thread::yield();
    }
    if (res == -EAGAIN || res == -EINTR) continue;
    if (res <= 0) {  // unmounted or aborted: the loop ends
      std::lock_guard<std::mutex> lock(st->mu);
      give_back(st);
      st->done = true;
      st->res = res;
      st->cv.notify_all();
      return;
    }
    if (serves_beside(st, st->js_buf, backlog)) {
      // readahead's reads (and a burst's) go side by side on the native threads; this one is served here
      {
        std::lock_guard<std::mutex> lock(st->mu);
        give_back(st);
      }
      st->serving.fetch_add(1, std::memory_order_relaxed);
      fuse_session_process_buf(se, &st->js_buf);
      st->serving.fetch_sub(1, std::memory_order_relaxed);
      return;
    }
    st->serving.fetch_add(1, std::memory_order_relaxed);
    fuse_session_process_buf(se, &st->js_buf);
    st->serving.fetch_sub(1, std::memory_order_relaxed);
    until = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  }
  if (s->woke.load(std::memory_order_acquire) != woke0) return;
  std::lock_guard<std::mutex> lock(st->mu);
  give_back(st);
}

}  // namespace loop

void loop_main(Session* s) {
  int res = loop::run(s);
  s->loop_done.store(true);
  enqueue(s, pack_exit(nullptr, res));
  napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
}

void notifier_main(Session* s) {
  std::unique_lock<std::mutex> lock(s->nmu);
  for (;;) {
    s->ncv.wait(lock, [s] { return s->notifier_stop || !s->notices.empty(); });
    if (s->notifier_stop) return;
    Notice n = std::move(s->notices.front());
    s->notices.pop_front();
    lock.unlock();
    // Expiring (not invalidating) keeps a directory that is some process's cwd reachable:
    // the next access looks the name up again instead of finding it unhashed.
    if (n.entry && s->expire_only)
      fuse_lowlevel_notify_expire_entry(s->se, n.ino, n.name.c_str(), n.name.size(), FUSE_LL_EXPIRE_ONLY);
    else if (n.entry)
      fuse_lowlevel_notify_inval_entry(s->se, n.ino, n.name.c_str(), n.name.size());
    else fuse_lowlevel_notify_inval_inode(s->se, n.ino, n.off, n.len);
    lock.lock();
  }
}

void post_notice(Session* s, Notice n) {
  {
    std::lock_guard<std::mutex> lock(s->nmu);
    if (!s->notifier.joinable()) {
      try {
        s->notifier = std::thread(notifier_main, s);
      } catch (const std::system_error&) {
        // no thread to be had now (RLIMIT_NPROC, pids.max): the notice waits in the queue, and
        // the next one tries again; crashing would leave a dead mount
      }
    }
    s->notices.push_back(std::move(n));
  }
  s->ncv.notify_one();
}

void stop_notifier(Session* s) {
  {
    std::lock_guard<std::mutex> lock(s->nmu);
    s->notifier_stop = true;
  }
  s->ncv.notify_one();
  if (s->notifier.joinable()) s->notifier.join();
}

void finalize_session(napi_env, void* data, void*) {
  Session* s = static_cast<Session*>(data);
  // Only reached once JS dropped the handle; a session still running keeps its thread.
  if (s->destroyed) delete s;
}

Session* get_session(napi_env env, napi_value v) {
  void* data = nullptr;
  if (napi_get_value_external(env, v, &data) != napi_ok || !data) {
    napi_throw_type_error(env, nullptr, "agentfs_native: expected a session handle");
    return nullptr;
  }
  return static_cast<Session*>(data);
}

napi_value named(napi_env env, napi_value obj, const char* key) {
  napi_value v = nullptr;
  napi_get_named_property(env, obj, key, &v);
  return v;
}

// options.reader: {path, chunkSize, sql: {lookup, inode, page, names, entries, chunks, read, readlink, parent, space, inodes,
// storedBlocks?, storedBlocksMinSize?}, statfs?,
// uid, gid, entryTimeout, attrTimeout, negativeTimeout, atimes}. A reader that cannot open leaves
// every request to JavaScript (readerStats says why).
ReaderConfig reader_config(napi_env env, napi_value o) {
  ReaderConfig c;
  c.path = get_str(env, named(env, o, "path"));
  c.chunk_size = (int64_t)get_num(env, named(env, o, "chunkSize"), 0);
  napi_value q = named(env, o, "sql");
  c.sql.lookup = get_str(env, named(env, q, "lookup"));
  c.sql.inode = get_str(env, named(env, q, "inode"));
  c.sql.page = get_str(env, named(env, q, "page"));
  c.sql.names = get_str(env, named(env, q, "names"));
  c.sql.entries = get_str(env, named(env, q, "entries"));
  c.sql.chunks = get_str(env, named(env, q, "chunks"));
  c.sql.read = get_str(env, named(env, q, "read"));
  c.sql.readlink = get_str(env, named(env, q, "readlink"));
  c.sql.parent = get_str(env, named(env, q, "parent"));
  c.sql.space = get_str(env, named(env, q, "space"));
  c.sql.inodes = get_str(env, named(env, q, "inodes"));
  c.sql.stored_blocks = get_str(env, named(env, q, "storedBlocks"));
  c.sql.stored_blocks_min = (int64_t)get_num(env, named(env, q, "storedBlocksMinSize"), 0);
  napi_value sf = named(env, o, "statfs");
  napi_valuetype sft = napi_undefined;
  if (sf) napi_typeof(env, sf, &sft);
  if (sft == napi_object && !c.sql.space.empty() && !c.sql.inodes.empty()) {
    c.statfs.on = true;
    c.statfs.block_size = get_num(env, named(env, sf, "blockSize"), 4096);
    c.statfs.free_inodes = get_num(env, named(env, sf, "freeInodes"), 0);
    c.statfs.name_max = get_num(env, named(env, sf, "nameMax"), 255);
  }
  c.uid = (int64_t)get_num(env, named(env, o, "uid"), -1);
  c.gid = (int64_t)get_num(env, named(env, o, "gid"), -1);
  c.entry_timeout = get_num(env, named(env, o, "entryTimeout"), 1);
  c.attr_timeout = get_num(env, named(env, o, "attrTimeout"), 1);
  c.negative_timeout = get_num(env, named(env, o, "negativeTimeout"), 0);
  c.atimes = get_bool(env, named(env, o, "atimes"));
  c.listing_max_age = get_num(env, named(env, o, "listingMaxAge"), 0);
  c.keep_cache = get_bool(env, named(env, o, "keepCache"));
  napi_value later = named(env, o, "openLater");
  napi_valuetype lt = napi_undefined;
  if (later) napi_typeof(env, later, &lt);
  c.open_later = lt != napi_boolean || get_bool(env, later);
  if (const char* d = getenv("AGENTFS_FUSE_TEST_DELAY_MS")) {
    char* end = nullptr;
    c.getattr_delay_ms = (int)std::max(0L, strtol(d, &end, 10));
    if (end && *end == ',') c.read_delay_ms = (int)std::max(0L, strtol(end + 1, &end, 10));
    if (end && *end == ',') c.open_delay_ms = (int)std::max(0L, strtol(end + 1, nullptr, 10));
  }
  return c;
}

void open_reader(napi_env env, napi_value o, Session* s) {
  ReaderConfig c = reader_config(env, o);
  s->attr_timeout = c.attr_timeout;
  s->reader = Reader::open(c, &s->reader_error);
  if (s->reader) {
    s->reader->on_atime = [s](uint64_t ino, Ts t) {
      enqueue_quiet(s, pack_atime(nullptr, ino, t.sec, t.nsec));
      atime_moved(s, ino, 1);  // (queued first: a request JavaScript takes after it sees the time)
    };
    s->reader->on_open = [s](uint64_t ino, int flags) { enqueue_quiet(s, pack_opened(nullptr, ino, flags)); };
  }
}

// options.hostFiles: {attrTimeout, entryTimeout, negativeTimeout, uid, gid, baseFd?, basePrefix?} (uid/gid -1: the host's). An
// overlay's files that are exactly host files, registered by JavaScript (hostAdd), are then
// answered from the host.
void open_host_files(napi_env env, napi_value o, Session* s) {
  HostFilesConfig c;
  c.attr_timeout = get_num(env, named(env, o, "attrTimeout"), 1);
  c.uid = (int64_t)get_num(env, named(env, o, "uid"), -1);
  c.gid = (int64_t)get_num(env, named(env, o, "gid"), -1);
  c.listing_max_age = get_num(env, named(env, o, "listingMaxAge"), 0);
  c.entry_timeout = get_num(env, named(env, o, "entryTimeout"), 1);
  c.negative_timeout = get_num(env, named(env, o, "negativeTimeout"), 0);
  napi_value hidden = named(env, o, "hiddenDirs");
  uint32_t nh = 0;
  if (hidden && napi_get_array_length(env, hidden, &nh) == napi_ok) {
    for (uint32_t i = 0; i < nh; i++) {
      napi_value v;
      napi_get_element(env, hidden, i, &v);
      c.hidden_dirs.push_back(get_str(env, v));
    }
  }
  c.base_fd = (int)get_num(env, named(env, o, "baseFd"), -1);
  c.base_dev = (int64_t)get_num(env, named(env, o, "baseDev"), -1);
  napi_value settled = named(env, o, "settledListings");
  c.settled_listings = settled && get_bool(env, settled);
  if (!s->reader) s->attr_timeout = c.attr_timeout;  // sent_getattr's
  napi_value pre = named(env, o, "basePrefix");
  napi_valuetype pt = napi_undefined;
  if (pre && napi_typeof(env, pre, &pt) == napi_ok && pt == napi_string) c.base_prefix = get_str(env, pre);
  else c.base_fd = -1;
  s->host = new HostFiles(c);
  s->host->on_open = [s](uint64_t ino, int flags) { enqueue_quiet(s, pack_opened(nullptr, ino, flags)); };
  s->host->on_release = [s](uint64_t ino) { enqueue_quiet(s, pack_released(nullptr, ino)); };
  s->host->on_listed = [s](uint64_t dir, uint64_t ino, uint32_t mode, const std::string& name) {
    enqueue_quiet(s, pack_listed(nullptr, dir, ino, (mode_t)mode, name.c_str()));
  };
  s->host->on_dir_key = [s](uint64_t ino, int64_t sec, int64_t nsec, int64_t epoch) {
    enqueue_quiet(s, pack_dirkey(nullptr, ino, sec, nsec, epoch));
  };
  s->host->on_stale_attrs = [s](uint64_t ino) { fuse_lowlevel_notify_inval_inode(s->se, ino, -1, 0); };
  // options.hostFiles.delta: as options.reader, for the overlay's delta (Session::delta); one that
  // cannot open leaves those requests to JavaScript
  napi_value d = named(env, o, "delta");
  napi_valuetype dt = napi_undefined;
  if (d && napi_typeof(env, d, &dt) == napi_ok && dt == napi_object) s->delta = Reader::open(reader_config(env, d), &s->reader_error);
}

// mount(mountpoint, fuseArgs: string[], options: {maxWrite, maxReadahead, writeback, readdirplus, reader?, hostFiles?}, onBatch)
napi_value Mount(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return nullptr;
  std::string mountpoint = get_str(env, argv[0]);
  std::vector<std::string> args{"agentfs"};
  uint32_t nargs = 0;
  napi_get_array_length(env, argv[1], &nargs);
  for (uint32_t i = 0; i < nargs; i++) {
    napi_value v;
    napi_get_element(env, argv[1], i, &v);
    args.push_back(get_str(env, v));
  }
  Session* s = new Session();
  s->mountpoint = mountpoint;
  napi_value v;
  if (napi_get_named_property(env, argv[2], "maxWrite", &v) == napi_ok) s->max_write = (unsigned)get_num(env, v, s->max_write);
  if (napi_get_named_property(env, argv[2], "maxReadahead", &v) == napi_ok) s->max_readahead = (unsigned)get_num(env, v, s->max_readahead);
  if (napi_get_named_property(env, argv[2], "writeback", &v) == napi_ok) s->writeback = get_bool(env, v);
  if (napi_get_named_property(env, argv[2], "readdirplus", &v) == napi_ok) {
    napi_valuetype t;
    napi_typeof(env, v, &t);
    if (t != napi_undefined) s->readdirplus = get_bool(env, v);
  }

  if (napi_get_named_property(env, argv[2], "reader", &v) == napi_ok) {
    napi_valuetype t;
    napi_typeof(env, v, &t);
    if (t == napi_object) open_reader(env, v, s);
  }
  if (napi_get_named_property(env, argv[2], "hostFiles", &v) == napi_ok) {
    napi_valuetype t;
    napi_typeof(env, v, &t);
    if (t == napi_object) open_host_files(env, v, s);
  }
  // READs answered here build their replies in pooled buffers: touch them now, off any request's path
  if (s->reader || s->host) reply_buffers::warm(reply_buffers::WARM);

  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(&a[0]);
  fuse_args fargs = FUSE_ARGS_INIT((int)cargs.size(), cargs.data());
  s->se = fuse_session_new(&fargs, &g_ops, sizeof g_ops, s);
  fuse_opt_free_args(&fargs);
  if (!s->se) {
    delete s->reader;
    delete s->delta;
    delete s->host;
    delete s;
    napi_throw_error(env, "EINVAL", "cannot create the FUSE session (bad mount options?)");
    return nullptr;
  }
  napi_value name;
  napi_create_string_utf8(env, "agentfs-fuse", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[3], nullptr, name, 0, 1, nullptr, nullptr, s, call_js, &s->tsfn) != napi_ok) {
    fuse_session_destroy(s->se);
    delete s->reader;
    delete s->delta;
    delete s->host;
    delete s;
    napi_throw_error(env, nullptr, "agentfs_native: cannot create the request queue");
    return nullptr;
  }
  errno = 0;
  if (fuse_session_mount(s->se, mountpoint.c_str()) != 0) {
    int err = errno ? errno : EIO;
    napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);
    fuse_session_destroy(s->se);
    delete s->reader;
    delete s->delta;
    delete s->host;
    delete s;
    std::string msg = "cannot mount on " + mountpoint + ": " + strerror(err);
    napi_throw_error(env, "EMOUNT", msg.c_str());
    return nullptr;
  }
  const char* killpriv = getenv("AGENTFS_FUSE_KILLPRIV");
  if (!(killpriv && strcmp(killpriv, "0") == 0)) {
    const fuse_custom_io io{killpriv_writev, killpriv_read, nullptr, nullptr};
    // refused: the INIT reply goes out as libfuse makes it, and the kernel drops set-id bits itself
    s->killpriv_io = fuse_session_custom_io(s->se, &io, fuse_session_fd(s->se)) == 0;
  }
  if (s->killpriv_io) s->replies = ReplyWriter::start();
  s->replies_on = s->replies != nullptr;
  s->lead = loop::make_state(s);
  try {
    s->thread = std::thread(loop_main, s);
  } catch (const std::system_error& e) {
    delete s->lead;
    delete s->replies;
    fuse_session_unmount(s->se);
    napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);
    fuse_session_destroy(s->se);
    delete s->reader;
    delete s->delta;
    delete s->host;
    delete s;
    std::string msg = std::string("cannot start the FUSE loop's thread: ") + strerror(e.code().value());
    napi_throw_error(env, "EMOUNT", msg.c_str());
    return nullptr;
  }
  napi_value handle;
  CHECK(napi_create_external(env, s, finalize_session, nullptr, &handle));
  return handle;
}

// destroy(handle): after the EXIT event: join the loop thread and free the session.
napi_value Destroy(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s || s->destroyed) return nullptr;
  if (s->thread.joinable()) s->thread.join();
  delete s->lead;  // the loop has ended, and JavaScript leads no more (drainSpin checks loop_done)
  s->lead = nullptr;
  stop_notifier(s);
  if (s->replies) {  // nothing writes to the device any more: the loop and the notifier have ended
    s->replies_counts = s->replies->counts();
    delete s->replies;
    s->replies = nullptr;
  }
  delete s->reader;  // the loop, its only user, has ended
  s->reader = nullptr;
  delete s->delta;
  s->delta = nullptr;
  delete s->host;
  s->host = nullptr;
  fuse_session_unmount(s->se);  // closes the device fd; a no-op unmount once the kernel let go
  fuse_session_destroy(s->se);
  s->se = nullptr;
  s->destroyed = true;
  return nullptr;
}

// exit(handle): ask the loop to stop after the current request (used after an unmount).
napi_value Exit(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s || s->destroyed || !s->se) return nullptr;
  fuse_session_exit(s->se);
  return nullptr;
}

// unref(handle): the session stops keeping the process alive; if the process then exits,
// closing /dev/fuse aborts the connection (callers get ENOTCONN instead of hanging).
napi_value Unref(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s || s->destroyed || s->unrefed) return nullptr;
  s->unrefed = true;
  napi_unref_threadsafe_function(env, s->tsfn);
  return nullptr;
}

// umount(path, lazy): umount2(2) for root; returns 0 or an errno.
napi_value Umount(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return nullptr;
  std::string path = get_str(env, argv[0]);
  int flags = get_bool(env, argv[1]) ? MNT_DETACH : 0;
  int res = umount2(path.c_str(), flags);
  return ret_int(env, res == 0 ? 0 : errno);
}

napi_value ReplyErr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return nullptr;
  fuse_req_t r = take_req(env, argv[0]);
  if (!r) return nullptr;
  return ret_int(env, fuse_reply_err(r, (int)get_num(env, argv[1])));
}

// replyEntry(id, attr: Float64Array(15), entryTimeout, attrTimeout); attr[0] = 0 is a negative entry
napi_value ReplyEntry(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return nullptr;
  size_t len = 0;
  const double* a = get_f64(env, argv[1], &len);
  if (!a || len < ATTR_LEN) {
    napi_throw_type_error(env, nullptr, "replyEntry: attr must be a Float64Array of 15");
    return nullptr;
  }
  fuse_req_t r = take_req(env, argv[0], true);
  if (!r) return nullptr;
  fuse_entry_param e;
  fill_entry(a, get_num(env, argv[2]), get_num(env, argv[3]), &e);
  note_sent(r, e.ino, e.attr.st_mode);
  int res = fuse_reply_entry(r, &e);
  answered_attrs();
  return ret_int(env, res);
}

// replyCreate(id, attr, entryTimeout, attrTimeout, fh, keepCache, directIo)
napi_value ReplyCreate(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!get_args(env, info, 7, argv)) return nullptr;
  size_t len = 0;
  const double* a = get_f64(env, argv[1], &len);
  if (!a || len < ATTR_LEN) {
    napi_throw_type_error(env, nullptr, "replyCreate: attr must be a Float64Array of 15");
    return nullptr;
  }
  fuse_req_t r = take_req(env, argv[0], true);
  if (!r) return nullptr;
  fuse_entry_param e;
  fill_entry(a, get_num(env, argv[2]), get_num(env, argv[3]), &e);
  fuse_file_info fi;
  memset(&fi, 0, sizeof fi);
  fi.fh = (uint64_t)get_num(env, argv[4]);
  fi.keep_cache = get_bool(env, argv[5]);
  fi.direct_io = get_bool(env, argv[6]);
  note_sent(r, e.ino, e.attr.st_mode);
  int res = fuse_reply_create(r, &e, &fi);
  answered_attrs();
  return ret_int(env, res);
}

// replyAttr(id, attr, attrTimeout)
napi_value ReplyAttr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return nullptr;
  size_t len = 0;
  const double* a = get_f64(env, argv[1], &len);
  if (!a || len < ATTR_LEN) {
    napi_throw_type_error(env, nullptr, "replyAttr: attr must be a Float64Array of 15");
    return nullptr;
  }
  fuse_req_t r = take_req(env, argv[0], true);
  if (!r) return nullptr;
  struct stat st;
  fill_stat(a, &st);
  note_sent(r, st.st_ino, st.st_mode);
  int res = fuse_reply_attr(r, &st, get_num(env, argv[2]));
  answered_attrs();
  return ret_int(env, res);
}

napi_value ReplyReadlink(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return nullptr;
  fuse_req_t r = take_req(env, argv[0]);
  if (!r) return nullptr;
  std::string target = get_str(env, argv[1]);
  return ret_int(env, fuse_reply_readlink(r, target.c_str()));
}

// replyOpen(id, fh, keepCache, directIo, cacheReaddir)
napi_value ReplyOpen(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return nullptr;
  fuse_req_t r = take_req(env, argv[0]);
  if (!r) return nullptr;
  fuse_file_info fi;
  memset(&fi, 0, sizeof fi);
  fi.fh = (uint64_t)get_num(env, argv[1]);
  fi.keep_cache = get_bool(env, argv[2]);
  fi.direct_io = get_bool(env, argv[3]);
  // opendir only: let the kernel cache this directory's readdir results (kept across opens
  // when keep_cache is set too)
  fi.cache_readdir = get_bool(env, argv[4]);
  return ret_int(env, fuse_reply_open(r, &fi));
}

napi_value ReplyWrite(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return nullptr;
  fuse_req_t r = take_req(env, argv[0]);
  if (!r) return nullptr;
  return ret_int(env, fuse_reply_write(r, (size_t)get_num(env, argv[1])));
}

// replyBuf(id, buffer | Uint8Array | null)
napi_value ReplyBuf(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return nullptr;
  void* data = nullptr;
  size_t len = 0;
  bool is_buf = false;
  napi_is_buffer(env, argv[1], &is_buf);
  if (is_buf) {
    napi_get_buffer_info(env, argv[1], &data, &len);
  } else {
    bool is_ta = false;
    napi_is_typedarray(env, argv[1], &is_ta);
    if (is_ta) {
      napi_typedarray_type type;
      napi_value ab;
      size_t off;
      napi_get_typedarray_info(env, argv[1], &type, &len, &data, &ab, &off);
      if (type != napi_uint8_array) {
        napi_throw_type_error(env, nullptr, "replyBuf: expected a Buffer or Uint8Array");
        return nullptr;
      }
    }
  }
  fuse_req_t r = take_req(env, argv[0]);
  if (!r) return nullptr;
  return ret_int(env, fuse_reply_buf(r, static_cast<const char*>(data), len));
}

// replyStatfs(id, Float64Array [bsize, frsize, blocks, bfree, bavail, files, ffree, namemax])
napi_value ReplyStatfs(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return nullptr;
  size_t len = 0;
  const double* a = get_f64(env, argv[1], &len);
  if (!a || len < 8) {
    napi_throw_type_error(env, nullptr, "replyStatfs: expected a Float64Array of 8");
    return nullptr;
  }
  fuse_req_t r = take_req(env, argv[0]);
  if (!r) return nullptr;
  struct statvfs st;
  memset(&st, 0, sizeof st);
  st.f_bsize = (unsigned long)a[0];
  st.f_frsize = (unsigned long)a[1];
  st.f_blocks = (fsblkcnt_t)a[2];
  st.f_bfree = (fsblkcnt_t)a[3];
  st.f_bavail = (fsblkcnt_t)a[4];
  st.f_files = (fsfilcnt_t)a[5];
  st.f_ffree = (fsfilcnt_t)a[6];
  st.f_favail = (fsfilcnt_t)a[6];
  st.f_namemax = (unsigned long)a[7];
  return ret_int(env, fuse_reply_statfs(r, &st));
}

// replyDir(id, size, names: string[], entries: Float64Array, plus, entryTimeout, attrTimeout, bare?,
// hostDir?, host?, dirIno?)
// entries holds per name: [off, ...attr(15)] (attr[0] = ino, attr[1] = mode).
// Packs entries until the kernel's buffer is full and returns how many were sent. host[i]: entry
// i is exactly the host file hostDir/name (host_files.h), registered as it is sent.
napi_value ReplyDir(napi_env env, napi_callback_info info) {
  napi_value argv[11];
  if (!get_args(env, info, 11, argv)) return nullptr;
  size_t size = (size_t)get_num(env, argv[1]);
  uint32_t count = 0;
  napi_get_array_length(env, argv[2], &count);
  size_t len = 0;
  const double* a = get_f64(env, argv[3], &len);
  const size_t stride = 1 + ATTR_LEN;
  if (count > 0 && (!a || len < (size_t)count * stride)) {
    napi_throw_type_error(env, nullptr, "replyDir: entries must be a Float64Array of 16 per name");
    return nullptr;
  }
  bool plus = get_bool(env, argv[4]);
  double entry_timeout = get_num(env, argv[5]);
  double attr_timeout = get_num(env, argv[6]);
  double id = get_num(env, argv[0], -1);
  if (id < 0 || (uint32_t)id >= g_slots.size() || !g_slots[(uint32_t)id]) {
    napi_throw_error(env, nullptr, "agentfs_native: unknown or already answered request id");
    return nullptr;
  }
  fuse_req_t r = g_slots[(uint32_t)id];
  // bare[i]: the kernel holds entry i's attributes (heldAttrs): its name only, nodeid 0
  const uint8_t* bare = nullptr;
  size_t bare_len = 0;
  napi_valuetype bt = napi_undefined;
  if (plus && napi_typeof(env, argv[7], &bt) == napi_ok && bt == napi_object) {
    void* data = nullptr;
    napi_typedarray_type tt;
    if (napi_get_typedarray_info(env, argv[7], &tt, &bare_len, &data, nullptr, nullptr) == napi_ok && tt == napi_uint8_array)
      bare = static_cast<const uint8_t*>(data);
  }
  Reader* reader = sess(r)->reader;
  HostFiles* host = sess(r)->host;
  const uint8_t* host_flags = nullptr;
  size_t host_len = 0;
  std::string host_dir;
  uint64_t host_parent = 0;
  napi_valuetype ht = napi_undefined;
  if (plus && host && napi_typeof(env, argv[8], &ht) == napi_ok && ht == napi_string) {
    void* data = nullptr;
    napi_typedarray_type tt;
    if (napi_get_typedarray_info(env, argv[9], &tt, &host_len, &data, nullptr, nullptr) == napi_ok && tt == napi_uint8_array) {
      host_flags = static_cast<const uint8_t*>(data);
      host_dir = get_str(env, argv[8]);
      host_parent = (uint64_t)get_num(env, argv[10], 0);
    }
  }
  std::vector<char> buf(size);
  size_t used = 0;
  uint32_t sent = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value v;
    napi_get_element(env, argv[2], i, &v);
    std::string name = get_str(env, v);
    const double* e = a + (size_t)i * stride;
    off_t off = (off_t)e[0];
    size_t need;
    if (plus && bare && i < bare_len && bare[i]) {
      fuse_entry_param ep;
      memset(&ep, 0, sizeof ep);
      ep.attr.st_ino = (ino_t)e[1];
      ep.attr.st_mode = (mode_t)e[2];
      need = fuse_add_direntry_plus(r, buf.data() + used, size - used, name.c_str(), &ep, off);
      if (need <= size - used && reader) reader->listed_bare++;
    } else if (plus) {
      fuse_entry_param ep;
      fill_entry(e + 1, entry_timeout, attr_timeout, &ep);
      need = fuse_add_direntry_plus(r, buf.data() + used, size - used, name.c_str(), &ep, off);
      if (need <= size - used && reader && ep.ino && name != "." && name != "..") reader->sent_attrs(ep.ino, ep.attr.st_mode);
    } else {
      need = add_dirent(buf.data() + used, size - used, name.data(), name.size(), (uint64_t)e[1], (uint32_t)e[2], off);
    }
    if (need > size - used) break;
    used += need;
    sent++;
    // (paths that long are resolved in steps by JavaScript: left to it)
    if (host_flags && i < host_len && host_flags[i] && host_dir.size() + 1 + name.size() < HOST_PATH_MAX)
      host->add((uint64_t)e[1], host_dir + "/" + name, (uint32_t)e[2] & S_IFMT, host_parent);
  }
  slot_take((uint32_t)id);
  fuse_reply_buf(r, buf.data(), used);
  answered_attrs();
  return num(env, sent);
}

// heldAttrs(handle, inos: Float64Array): Uint8Array, 1 where the kernel holds that inode's
// attributes (Reader::sent_attrs); all 0 without a native reader.
napi_value HeldAttrs(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  size_t len = 0;
  const double* inos = get_f64(env, argv[1], &len);
  if (!s || (!inos && len)) return nullptr;
  napi_value ab, out;
  void* data = nullptr;
  napi_create_arraybuffer(env, len, &data, &ab);
  napi_create_typedarray(env, napi_uint8_array, len, ab, 0, &out);
  if (len) {
    if (s->reader) s->reader->held_attrs(inos, len, static_cast<uint8_t*>(data));
    else memset(data, 0, len);
  }
  return out;
}

// notifyInvalInode(handle, ino, off, len): drop the kernel's cached attributes/pages of ino
// (queued; sent by the notifier thread)
napi_value NotifyInvalInode(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s || s->destroyed || !s->se) return nullptr;
  post_notice(s, Notice{false, (uint64_t)get_num(env, argv[1]), (int64_t)get_num(env, argv[2]), (int64_t)get_num(env, argv[3]), std::string()});
  return ret_int(env, 0);
}

// notifyInvalEntry(handle, parent, name): drop the kernel's cached name -> inode mapping (queued)
napi_value NotifyInvalEntry(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s || s->destroyed || !s->se) return nullptr;
  post_notice(s, Notice{true, (uint64_t)get_num(env, argv[1]), 0, 0, get_str(env, argv[2])});
  return ret_int(env, 0);
}

// setWriting(handle, writing): JavaScript opened (true) or ended (false) a write transaction;
// while one is open every request goes to JavaScript, which alone sees what it has not committed.
napi_value SetWriting(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s) return nullptr;
  bool writing = get_bool(env, argv[1]);
  // committed (or rolled back): no native request begun from now on reads a snapshot before it
  if (!writing) renew_readers(s, !s->holding.load());
  {
    std::lock_guard<std::mutex> lock(s->changed_mu);
    if (!writing) {
      // what the transaction left of its files' st_blocks (a rolled-back one left other rows)
      if (s->reader)
        for (const auto& [ino, st] : s->changed_attrs)
          if (S_ISREG(st.st_mode) && st.st_size > 0)
            s->reader->known_blocks(ino, st.st_size, Ts{st.st_mtim.tv_sec, st.st_mtim.tv_nsec}, Ts{st.st_ctim.tv_sec, st.st_ctim.tv_nsec}, st.st_blocks);
      s->changed_attrs.clear();
      s->changed_names.clear();
      s->made_dirs.clear();
      s->touched.clear();
      s->opens_closed.store(false);
    }
    s->writing.store(writing);
  }
  if (writing) {
    // no snapshot outlives the requests in flight (wait_reads): a checkpoint this transaction's
    // end restarts waits for none
    renew_readers(s, false);
    wait_opens(s);
    // and every native answer that did not see it: one that read a row before this transaction
    // and looked for the row's pending access time after JavaScript wrote it here (atimeStored)
    // sent the kernel the old one, which it kept for the attribute timeout (seen once under the
    // full suite's load: "never shows ... an access time older than the one being stored")
    wait_reads(s);
  }
  return nullptr;
}

// closeOpens(handle): JavaScript's open write transaction (or, with none open, the one it is about
// to open) is about to remove a name, which may free the inode it named: read-only opens go to
// JavaScript until the transaction ends, and those in flight are waited for, so that a drain()
// after this has the OPENED of every native open that saw the inode (JavaScript counts them
// before it decides to free it).
napi_value CloseOpens(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s) return nullptr;
  s->opens_closed.store(true);
  wait_opens(s);
  return nullptr;
}

// changingDir(handle, dir): JavaScript's open write transaction is about to change a name in
// dir (or a moved directory's '..'): native listings of it go to JavaScript from now on, and
// those in flight are waited for (Session::listing_dirs; a listing takes microseconds).
napi_value ChangingDir(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s) return nullptr;
  uint64_t dir = (uint64_t)get_num(env, argv[1]);
  for (bool first = true;; first = false) {
    {
      std::lock_guard<std::mutex> lock(s->changed_mu);
      if (first) {
        if (!s->writing.load()) return nullptr;
        s->touched.insert(dir);
      }
      if (!s->listing_dirs.count(dir)) return nullptr;
    }
    std::this_thread::yield();
  }
}

// hold(handle, on, quiet?): while on, every request goes to JavaScript; turning it on waits for
// the native requests in flight, so that a drain() after it has every OPENED of an open that saw
// the database before now (the change watcher, before it frees what another process unlinked),
// and invalidateServed every name handed out from it. Turning it off, quiet says whether the
// watcher found no other process's commit (Session::outside_quiet; undefined: true).
napi_value Hold(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s) return nullptr;
  bool on = get_bool(env, argv[1]);
  if (!on) {
    napi_valuetype t;
    napi_typeof(env, argv[2], &t);
    s->outside_quiet.store(t == napi_undefined || get_bool(env, argv[2]));
  }
  s->holding.store(on);
  if (on) wait_reads(s);
  // tests: a hold that lasts (the watcher's check on a slow machine), for requests to meet it
  static const long test_hold_ms = [] {
    const char* v = getenv("AGENTFS_FUSE_TEST_HOLD_MS");
    return v ? strtol(v, nullptr, 10) : 0L;
  }();
  if (on && test_hold_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(test_hold_ms));
  // another process may have committed: what is read from now on is read anew
  renew_readers(s, !on && !s->writing.load());
  if (!on) {
    { std::lock_guard<std::mutex> lock(s->hold_mu); }  // a waiter checks holding under it
    s->hold_cv.notify_all();
  }
  return nullptr;
}

// changedAttrs(handle, attr: Float64Array(15)): an inode's attributes as JavaScript's open write
// transaction changed them (see Session::changed_attrs); ignored when no transaction is open.
napi_value ChangedAttrs(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  size_t len = 0;
  const double* a = get_f64(env, argv[1], &len);
  if (!s || !a || len < ATTR_LEN) return nullptr;
  struct stat st;
  fill_stat(a, &st);
  std::lock_guard<std::mutex> lock(s->changed_mu);
  if (s->writing.load(std::memory_order_relaxed)) {
    s->changed_attrs[st.st_ino] = st;
    s->touched.insert(st.st_ino);
  }
  return nullptr;
}

// nameChanged(handle, parent, name): JavaScript's open write transaction added, removed or moved
// this name (see Session::changed_names); ignored when no transaction is open.
napi_value NameChanged(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s) return nullptr;
  std::string key = name_key((uint64_t)get_num(env, argv[1]), get_str(env, argv[2]).c_str());
  std::lock_guard<std::mutex> lock(s->changed_mu);
  if (s->writing.load(std::memory_order_relaxed)) s->changed_names.insert(std::move(key));
  return nullptr;
}

// forgetAttrs(handle, ino): JavaScript changed ino without sending its attributes: ask it again.
napi_value ForgetAttrs(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s) return nullptr;
  uint64_t ino = (uint64_t)get_num(env, argv[1]);
  std::lock_guard<std::mutex> lock(s->changed_mu);
  s->changed_attrs.erase(ino);
  s->made_dirs.erase(ino);
  s->touched.insert(ino);
  return nullptr;
}

// madeDir(handle, ino, base?): JavaScript's open write transaction made this directory (see
// Session::made_dirs; base: an overlay's host directory its names would come from); ignored
// when no transaction is open.
napi_value MadeDir(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s) return nullptr;
  napi_valuetype bt = napi_undefined;
  napi_typeof(env, argv[2], &bt);
  std::string base = bt == napi_string ? get_str(env, argv[2]) : std::string();
  std::lock_guard<std::mutex> lock(s->changed_mu);
  if (s->writing.load(std::memory_order_relaxed)) {
    s->made_dirs[(uint64_t)get_num(env, argv[1])] = std::move(base);
    s->touched.insert((uint64_t)get_num(env, argv[1]));
  }
  return nullptr;
}

// atimePending(handle, ino, sec, nsec): an access time JavaScript holds and has not stored yet
// (of the mount's database, or of an overlay's delta).
napi_value AtimePending(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  Reader* r = s ? (s->reader ? s->reader : s->delta) : nullptr;
  if (!r) return nullptr;
  {
    // attributes JavaScript sent in its transaction hold the access time before this read. An
    // overlay's are keyed by overlay number, its access times by delta number: all go (a read
    // that moves a time inside a write transaction is rare; JavaScript answers until the next
    // change sends them again)
    std::lock_guard<std::mutex> lock(s->changed_mu);
    if (s->reader) s->changed_attrs.erase((uint64_t)get_num(env, argv[1]));
    else s->changed_attrs.clear();
  }
  r->atime_pending((uint64_t)get_num(env, argv[1]), Ts{(int64_t)get_num(env, argv[2]), (int64_t)get_num(env, argv[3])});
  atime_moved(s, (uint64_t)get_num(env, argv[1]), 0);
  return nullptr;
}

// atimeStored(handle, ino, sec?, nsec?): ino's pending time (that one, or any without sec) is stored.
napi_value AtimeStored(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  Reader* r = s ? (s->reader ? s->reader : s->delta) : nullptr;
  if (!r) return nullptr;
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  Ts ts{(int64_t)get_num(env, argv[2]), (int64_t)get_num(env, argv[3])};
  if (s->reader) {
    // stored by the open transaction, not committed: the database's row has the old time
    std::lock_guard<std::mutex> lock(s->changed_mu);
    s->touched.insert((uint64_t)get_num(env, argv[1]));
  }
  r->atime_stored((uint64_t)get_num(env, argv[1]), t == napi_number ? &ts : nullptr);
  return nullptr;
}

// atimesStored(handle, Float64Array [ino, sec, nsec, ...]): the pending times JavaScript's write
// transaction just ended, stored (sec, nsec: that time) or given up (sec -1: any time). While the
// transaction is open the database's committed rows still have the old times: each inode is
// marked touched (its GETATTR and its entries in listings go to JavaScript), and the native
// answers that looked before that are waited for, before a single pending time goes. Without the
// wait, a GETATTR that found the inode untouched could look for its pending time just after it
// went, and send the kernel the committed, older time for the attribute timeout (seen once in
// 8,000 files under the full suite's load: "never shows ... an access time older").
napi_value AtimesStored(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  size_t len = 0;
  const double* a = get_f64(env, argv[1], &len);
  Reader* r = s ? (s->reader ? s->reader : s->delta) : nullptr;
  if (!r || !a) return nullptr;
  if (s->reader) {
    bool open;
    {
      std::lock_guard<std::mutex> lock(s->changed_mu);
      open = s->writing.load();
      if (open)
        for (size_t i = 0; i + 2 < len; i += 3) s->touched.insert((uint64_t)a[i]);
    }
    if (open) wait_reads(s);
  }
  for (size_t i = 0; i + 2 < len; i += 3) {
    Ts ts{(int64_t)a[i + 1], (int64_t)a[i + 2]};
    r->atime_stored((uint64_t)a[i], a[i + 1] >= 0 ? &ts : nullptr);
  }
  return nullptr;
}

// invalidateServed(handle): drops from the kernel's caches every name and inode the native
// reader handed out, and the host names the addon answered absent (after another process changed
// the database).
napi_value InvalidateServed(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s || s->destroyed || !s->se) return nullptr;
  std::vector<std::pair<uint64_t, std::string>> names;
  std::vector<uint64_t> inodes;
  if (s->reader) s->reader->take_known(&names, &inodes);
  // host names answered absent: another process may have made them (a CLI write into `run`)
  if (s->host) {
    std::vector<std::pair<uint64_t, std::string>> absent;
    s->host->take_absent(&absent);
    s->host->drop_delta_dir_keys();  // as JavaScript's cacheKeys (state.ts invalidateAll)
    for (auto& n : absent) names.push_back(std::move(n));
  }
  for (auto& n : names) post_notice(s, Notice{true, n.first, 0, 0, std::move(n.second)});
  for (uint64_t ino : inodes) post_notice(s, Notice{false, ino, 0, 0, std::string()});
  return nullptr;
}

// drain(handle): the requests queued so far, as the batch callback would get them (JavaScript
// runs them before it acts on an outside change, so that opens counted here are known by then).
napi_value Drain(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s) return nullptr;
  std::vector<Req*> batch;
  {
    std::lock_guard<std::mutex> lock(s->mu);
    batch.swap(s->queue);
    s->queue_len.store(0, std::memory_order_relaxed);
  }
  return batch_to_js(env, batch);
}

// drainSpin(handle, us): the requests queued next, waited for up to `us` microseconds on the JS
// thread itself (an empty array when none came). After a batch the next request of a busy
// client usually follows within tens of microseconds; waking the event loop for it costs as much.
napi_value DrainSpin(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s) return nullptr;
  auto until = std::chrono::steady_clock::now() + std::chrono::microseconds((int64_t)get_num(env, argv[1]));
  std::vector<Req*> batch;
  // while it is set, queuing wakes no one: this thread looks
  bool mine = !s->wake_pending.exchange(true);
  auto take = [&] {
    std::lock_guard<std::mutex> lock(s->mu);
    batch.swap(s->queue);
    s->queue_len.store(0, std::memory_order_relaxed);
  };
  uint64_t seen = s->queued.load(std::memory_order_acquire);
  take();
  loop::State* st = s->lead;
  if (batch.empty() && st && st->js_lead && !s->loop_done.load() && !s->destroyed) {
    bool leading;
    {
      std::lock_guard<std::mutex> lock(st->mu);
      leading = loop::take(st);
    }
    if (leading) {
      // this thread reads /dev/fuse itself until a request for JavaScript comes (loop::lead)
      uint64_t woke0 = s->woke.load(std::memory_order_acquire);
      loop::lead(st, woke0, (long)get_num(env, argv[1]));
      if (mine) s->wake_pending.store(false);
      take();
      return batch_to_js(env, batch);
    }
  }
  if (mine) {
    while (batch.empty() && !s->destroyed && std::chrono::steady_clock::now() < until) {
      std::this_thread::yield();
      // the lock only once something was queued (counted after it is in the queue)
      if (s->queued.load(std::memory_order_acquire) != seen) take();
    }
    // from here on a request queued wakes the loop; one queued before is taken now
    s->wake_pending.store(false);
    if (batch.empty()) take();
  }
  return batch_to_js(env, batch);
}

// leadEnd(handle): the JS thread gives the leader's role back (drainSpin may leave it leading
// when it returns a request); JavaScript calls it before it returns to its event loop.
napi_value LeadEnd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s || s->destroyed || !s->lead) return nullptr;
  std::lock_guard<std::mutex> lock(s->lead->mu);
  loop::give_back(s->lead);
  return nullptr;
}

// hostAdd(handle, inoTypes: Float64Array of (ino, S_IFMT type, parent ino or 0) triples, paths:
// string[]): these overlay inodes are exactly these host files now (host_files.h). No-op without
// hostFiles.
napi_value HostAdd(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s || !s->host) return nullptr;
  size_t len = 0;
  const double* a = get_f64(env, argv[1], &len);
  uint32_t n = 0;
  napi_get_array_length(env, argv[2], &n);
  if (!a || len / 3 < n) {
    napi_throw_type_error(env, nullptr, "hostAdd: three numbers per path");
    return nullptr;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    napi_get_element(env, argv[2], i, &v);
    s->host->add((uint64_t)a[3 * i], get_str(env, v), (uint32_t)a[3 * i + 1], (uint64_t)a[3 * i + 2]);
  }
  return nullptr;
}

// hostListable(handle, on): host directories list as the host does (the overlay has no whiteouts).
napi_value HostListable(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s || !s->host) return nullptr;
  s->host->set_listable(get_bool(env, argv[1]));
  return nullptr;
}

// hostUnlistable(handle, ino, path): directory ino, showing host directory path ('' if none),
// lists as its host directory no more (a whiteout in it).
napi_value HostUnlistable(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s || !s->host) return nullptr;
  s->host->set_unlistable((uint64_t)get_num(env, argv[1]), get_str(env, argv[2]));
  return nullptr;
}

// hostDirKey(handle, ino, mtimeSec, mtimeNsec, epoch, deltaDir): the key JavaScript's OPENDIR of
// ino used; deltaDir (-1: none) the delta directory ino lives as.
napi_value HostDirKey(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!get_args(env, info, 6, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s || !s->host) return nullptr;
  s->host->dir_key((uint64_t)get_num(env, argv[1]), (int64_t)get_num(env, argv[2]), (int64_t)get_num(env, argv[3]),
                   (int64_t)get_num(env, argv[4]), (int64_t)get_num(env, argv[5], -1));
  return nullptr;
}

// hostDelta(handle, ino, deltaIno): overlay inode ino is, until hostForget, the delta's regular
// file deltaIno (host_files.h add_delta). No-op without hostFiles.
napi_value HostDelta(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s || !s->host) return nullptr;
  s->host->add_delta((uint64_t)get_num(env, argv[1]), (uint64_t)get_num(env, argv[2]));
  return nullptr;
}

// hostForget(handle, ino): ino is no longer (or may no longer be) that host file; -1: none is.
napi_value HostForget(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s || !s->host) return nullptr;
  double ino = get_num(env, argv[1], -1);
  if (ino < 0) s->host->clear();
  else s->host->forget((uint64_t)ino, (int64_t)get_num(env, argv[2], -1));
  if (s->delta && !s->reader) {
    // a copy-up, move or removal may change other nodes' attributes than those JavaScript sends
    // after it (a copy-up the ctime and link count of the directory it lands in), and a moved
    // directory made in the transaction may merge with a base one now: all go (JavaScript's
    // MergedLookup.madeNow alike)
    std::lock_guard<std::mutex> lock(s->changed_mu);
    s->changed_attrs.clear();
    s->made_dirs.clear();
  }
  return nullptr;
}

// hostCopyNumber(handle, ino, on): ino is (or no longer is) a copy's number (host_files.h set_copy).
napi_value HostCopyNumber(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s || !s->host) return nullptr;
  s->host->set_copy((uint64_t)get_num(env, argv[1]), get_bool(env, argv[2]));
  return nullptr;
}

// readerStats(handle): {active, served, changesServed, declined, listedBare, counted, snapshots, holdWaits, replyFresh, hugeMaps, error, hostServed, hostDeclined, hostListedPages, deltaActive, deltaServed, madeAbsentServed, replyWriter..., burstServed, opensThrottled}
napi_value ReaderStats(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return nullptr;
  Session* s = get_session(env, argv[0]);
  if (!s) return nullptr;
  napi_value o, b;
  napi_create_object(env, &o);
  napi_get_boolean(env, s->reader != nullptr, &b);
  napi_set_named_property(env, o, "active", b);
  napi_set_named_property(env, o, "served", num(env, s->reader ? (double)s->reader->served.load() : 0));
  napi_set_named_property(env, o, "changesServed", num(env, (double)s->changed_served.load()));
  napi_set_named_property(env, o, "declined", num(env, s->reader ? (double)s->reader->declined.load() : 0));
  napi_set_named_property(env, o, "listedBare", num(env, s->reader ? (double)s->reader->listed_bare.load() : 0));
  napi_set_named_property(env, o, "counted", num(env, s->reader ? (double)s->reader->counted.load() : 0));
  napi_set_named_property(env, o, "snapshots", num(env, s->reader ? (double)s->reader->snapshots.load() : 0));
  napi_set_named_property(env, o, "holdWaits", num(env, (double)s->hold_waits.load()));
  napi_set_named_property(env, o, "replyFresh", num(env, (double)reply_buffers::fresh.load()));
  napi_value huge;
  napi_get_boolean(env, s->reader && s->reader->huge_maps(), &huge);
  napi_set_named_property(env, o, "hugeMaps", huge);
  if (!s->reader_error.empty()) napi_set_named_property(env, o, "error", str(env, s->reader_error));
  napi_set_named_property(env, o, "hostServed", num(env, s->host ? (double)s->host->served.load() : 0));
  napi_set_named_property(env, o, "hostDeclined", num(env, s->host ? (double)s->host->declined.load() : 0));
  napi_set_named_property(env, o, "hostListedPages", num(env, s->host ? (double)s->host->listed_pages.load() : 0));
  napi_get_boolean(env, s->delta != nullptr, &b);
  napi_set_named_property(env, o, "deltaActive", b);
  napi_set_named_property(env, o, "deltaServed", num(env, s->delta ? (double)s->delta->served.load() : 0));
  napi_set_named_property(env, o, "madeAbsentServed", num(env, (double)s->made_absent_served.load()));
  napi_get_boolean(env, s->replies_on, &b);
  napi_set_named_property(env, o, "replyWriter", b);
  ReplyWriter::Counts rc = s->replies ? s->replies->counts() : s->replies_counts;
  napi_set_named_property(env, o, "repliesWritten", num(env, (double)rc.written));
  napi_set_named_property(env, o, "repliesTakenBack", num(env, (double)rc.taken_back));
  napi_set_named_property(env, o, "replyBoosts", num(env, (double)rc.boosts));
  napi_set_named_property(env, o, "replyBackoffs", num(env, (double)rc.backoffs));
  napi_set_named_property(env, o, "replyStrandings", num(env, (double)rc.strandings));
  napi_set_named_property(env, o, "replyTrials", num(env, (double)rc.trials));
  napi_set_named_property(env, o, "replyTrialsKeptOn", num(env, (double)rc.kept_on));
  napi_get_boolean(env, rc.tried, &b);
  napi_set_named_property(env, o, "replyTried", b);
  napi_set_named_property(env, o, "burstServed", num(env, s->lead ? (double)s->lead->burst_served.load() : 0));
  Trial::Counts bc = s->lead ? s->lead->burst_trial.counts() : Trial::Counts{};
  napi_set_named_property(env, o, "burstTrials", num(env, (double)bc.trials));
  napi_set_named_property(env, o, "burstTrialsKeptOn", num(env, (double)bc.kept_on));
  napi_get_boolean(env, s->lead ? s->lead->burst_tried : false, &b);
  napi_set_named_property(env, o, "burstTried", b);
  napi_set_named_property(env, o, "opensThrottled", num(env, (double)s->opens_throttled.load()));
  return o;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"mount", nullptr, Mount, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"destroy", nullptr, Destroy, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"exit", nullptr, Exit, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"unref", nullptr, Unref, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"umount", nullptr, Umount, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyErr", nullptr, ReplyErr, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyEntry", nullptr, ReplyEntry, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyCreate", nullptr, ReplyCreate, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyAttr", nullptr, ReplyAttr, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyReadlink", nullptr, ReplyReadlink, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyOpen", nullptr, ReplyOpen, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyWrite", nullptr, ReplyWrite, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyBuf", nullptr, ReplyBuf, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyStatfs", nullptr, ReplyStatfs, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"replyDir", nullptr, ReplyDir, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"notifyInvalInode", nullptr, NotifyInvalInode, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"notifyInvalEntry", nullptr, NotifyInvalEntry, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"setWriting", nullptr, SetWriting, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"hold", nullptr, Hold, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"changedAttrs", nullptr, ChangedAttrs, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"forgetAttrs", nullptr, ForgetAttrs, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"madeDir", nullptr, MadeDir, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"changingDir", nullptr, ChangingDir, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"closeOpens", nullptr, CloseOpens, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"atimePending", nullptr, AtimePending, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"atimeStored", nullptr, AtimeStored, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"atimesStored", nullptr, AtimesStored, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"invalidateServed", nullptr, InvalidateServed, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"readerStats", nullptr, ReaderStats, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"heldAttrs", nullptr, HeldAttrs, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"drain", nullptr, Drain, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"drainSpin", nullptr, DrainSpin, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"leadEnd", nullptr, LeadEnd, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"nameChanged", nullptr, NameChanged, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"hostAdd", nullptr, HostAdd, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"hostForget", nullptr, HostForget, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"hostDelta", nullptr, HostDelta, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"hostCopyNumber", nullptr, HostCopyNumber, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"hostDirKey", nullptr, HostDirKey, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"hostListable", nullptr, HostListable, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"hostUnlistable", nullptr, HostUnlistable, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  host_stat_register(env, exports);
  checkpointer_register(env, exports);
  request_bytes_register(env, exports);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
