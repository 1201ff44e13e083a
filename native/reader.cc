// See reader.h. Its connections take open-file-description locks (sqlite_ofd.h), and all but
// the data ones read their maps a page at a time (sqlite_maps.h).
#include "reader.h"

#include "dirents.h"
#include "reply_buffers.h"
#include "sqlite_ofd.h"
#include "utf8.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <thread>

namespace {

const size_t NAME_MAX_BYTES = 255;
// A name a lookup here may answer for: not empty, at most NAME_MAX bytes (JavaScript says
// ENAMETOOLONG), neither '.' nor '..' (JavaScript's too).
bool plain_name(const char* name, size_t len) {
  return len != 0 && len <= NAME_MAX_BYTES && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}
// connections at most: one per FUSE worker serving a read at the same moment
const size_t MAX_CONNS = 16;

Ts now_ts() {
  timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return Ts{t.tv_sec, t.tv_nsec};
}

int64_t now_ms() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

bool before_or_at(const Ts& a, const Ts& b) { return a.sec < b.sec || (a.sec == b.sec && a.nsec <= b.nsec); }

// Resets a statement after use, so it holds no read transaction open between requests.
struct Use {
  sqlite3_stmt* st;
  explicit Use(sqlite3_stmt* s) : st(s) {}
  ~Use() {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  }
};

// Inode columns, from column `at`: ino mode nlink uid gid size rdev atime atime_ns mtime mtime_ns ctime ctime_ns
enum { C_INO, C_MODE, C_NLINK, C_UID, C_GID, C_SIZE, C_RDEV, C_ATIME, C_ATIME_NS, C_MTIME, C_MTIME_NS, C_CTIME, C_CTIME_NS };

}  // namespace

Reader* Reader::open(const ReaderConfig& cfg, std::string* err) {
  if (!sqlite_ofd_locks()) {
    *err = "the SQLite VFS does not allow open-file-description locks";
    return nullptr;
  }
  if (cfg.chunk_size <= 0) {
    *err = "invalid chunk size";
    return nullptr;
  }
  Reader* r = new Reader(cfg);
  const char* snaps = getenv("AGENTFS_READ_SNAPSHOTS");
  r->snapshots_on_ = !(snaps && strcmp(snaps, "0") == 0);
  r->hold_.store(r->snapshots_on_);
  const char* huge = getenv("AGENTFS_HUGE_MAPS");  // "0": never (a measurement's control)
  r->huge_ = !(huge && strcmp(huge, "0") == 0) && huge_maps_pay(cfg.path.c_str());
  // as the store's own (Store.hostFreeBytes): both measure the directory, whatever its path shows later
  r->dir_fd_ = ::open(dir_of(cfg.path).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  // the first connection finds out now whether the file can be read so at all (one for lookups:
  // a mount's first request is one)
  Conn* c;
  {
    MapAdvice random(MADV_RANDOM);
    c = r->connect(err);
  }
  if (!c) {
    delete r;
    return nullptr;
  }
  // AUTOINCREMENT: SQLite never hands out an inode number twice (an agentfs database's schema)
  sqlite3_stmt* q = nullptr;
  if (sqlite3_prepare_v2(c->db, "SELECT sql LIKE '%AUTOINCREMENT%' FROM sqlite_master WHERE type = 'table' AND name = 'fs_inode'", -1, &q, nullptr) == SQLITE_OK) {
    r->types_stay_ = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 1;
    sqlite3_finalize(q);
  }
  r->release(c);
  // and one for READ, now: a connection opened later goes by the database's path, which may lead
  // through the mount itself (a database inside its mountpoint), whose server would then wait on
  // itself (only requests served at once open more)
  {
    std::string later;  // without it, the first READ opens one
    MapAdvice advice(r->data_advice());
    if (Conn* d = r->connect(&later)) {
      d->data = true;
      r->release(d);
    }
  }
  return r;
}

Reader::~Reader() {
  for (Conn* c : all_) delete c;
  if (dir_fd_ >= 0) close(dir_fd_);
}

Reader::Conn::~Conn() {
  for (sqlite3_stmt* st : {lookup, inode, page, names, entries, chunks, read, readlink, parent, space, inodes, stored_blocks})
    if (st) sqlite3_finalize(st);
  if (db) sqlite3_close(db);
}

// A new connection with its statements prepared (nullptr, and why in err, when it cannot).
Reader::Conn* Reader::connect(std::string* err) {
  Conn* c = new Conn();
  int rc = sqlite3_open_v2(cfg_.path.c_str(), &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    *err = c->db ? sqlite3_errmsg(c->db) : "cannot open the database";
    delete c;
    return nullptr;
  }
  sqlite3_busy_timeout(c->db, 5000);  // the probe below may meet a writer's WAL recovery
  // Through a memory map, as the JavaScript connection reads (a read(2) per page costs more).
  sqlite3_exec(c->db, "PRAGMA mmap_size = 17179869184", nullptr, nullptr, nullptr);
  // A first read finds out whether this file can be read so at all (a filesystem without
  // open-file-description locks, a damaged file): then JavaScript serves everything.
  char* msg = nullptr;
  if (sqlite3_exec(c->db, "SELECT 1 FROM fs_inode LIMIT 1", nullptr, nullptr, &msg) != SQLITE_OK) {
    *err = std::string("cannot read the database natively: ") + (msg ? msg : sqlite3_errmsg(c->db));
    sqlite3_free(msg);
    delete c;
    return nullptr;
  }
  // A read never waits: busy (a WAL being recovered) hands the request to JavaScript.
  sqlite3_busy_timeout(c->db, 0);
  const ReaderSql& q = cfg_.sql;
  if (!prepare(c, &c->lookup, q.lookup, err) || !prepare(c, &c->inode, q.inode, err) || !prepare(c, &c->page, q.page, err) ||
      !prepare(c, &c->names, q.names, err) || !prepare(c, &c->entries, q.entries, err) ||
      !prepare(c, &c->chunks, q.chunks, err) || !prepare(c, &c->read, q.read, err) || !prepare(c, &c->readlink, q.readlink, err) ||
      !prepare(c, &c->parent, q.parent, err) || (cfg_.statfs.on && (!prepare(c, &c->space, q.space, err) || !prepare(c, &c->inodes, q.inodes, err)))) {
    delete c;
    return nullptr;
  }
  // optional: a database without the table (read-only, older) counts every file
  if (!q.stored_blocks.empty() &&
      sqlite3_prepare_v3(c->db, q.stored_blocks.c_str(), (int)q.stored_blocks.size(), SQLITE_PREPARE_PERSISTENT, &c->stored_blocks, nullptr) != SQLITE_OK)
    c->stored_blocks = nullptr;
  std::lock_guard<std::mutex> lock(pool_mu_);
  all_.push_back(c);
  return c;
}

bool Reader::prepare(Conn* c, sqlite3_stmt** st, const std::string& sql, std::string* err) {
  if (sqlite3_prepare_v3(c->db, sql.c_str(), (int)sql.size(), SQLITE_PREPARE_PERSISTENT, st, nullptr) == SQLITE_OK) return true;
  *err = std::string("cannot prepare a read statement: ") + sqlite3_errmsg(c->db);
  return false;
}

// A connection for one request: a free one of the kind asked for (data: serving READ), or a new
// one when every one is busy (FUSE worker threads serve requests at once); nullptr when none can
// be opened. The caller's MapAdvice is in place (Lease): a new connection maps the file under it.
// At the cap a free one of the other kind serves: its map reads ahead otherwise, nothing more.
Reader::Conn* Reader::acquire(bool data) {
  Conn* c = nullptr;
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    idle_ = false;
    size_t at = free_.size();
    for (size_t i = free_.size(); i-- > 0;) {
      if (free_[i]->data == data) {
        at = i;
        break;
      }
    }
    bool capped = all_.size() >= MAX_CONNS || !cfg_.open_later;
    if (at == free_.size() && capped && !free_.empty()) at = free_.size() - 1;
    if (at < free_.size()) {
      c = free_[at];
      free_.erase(free_.begin() + (ptrdiff_t)at);
    } else if (capped) {
      return nullptr;
    }
  }
  if (!c) {
    std::string err;
    c = connect(&err);
    if (!c) return nullptr;
    c->data = data;
  }
  snapshot(c);
  return c;
}

void Reader::release(Conn* c) {
  std::lock_guard<std::mutex> lock(pool_mu_);
  // an error may have ended the transaction (SQLite rolls back on some)
  if (c->held && sqlite3_get_autocommit(c->db)) c->held = false;
  if (c->held && (idle_ || !hold_.load() || c->epoch != epoch_.load())) end_read(c);
  free_.push_back(c);
}

namespace {
// A snapshot is kept at most this long: changes of other processes show by then even in a
// burst that never pauses (the change watcher's poll renews them too, see Hold).
constexpr auto SNAPSHOT_MAX_AGE = std::chrono::milliseconds(5);
}  // namespace

// Keeps the connection's read transaction if nothing may have changed since it began (no
// renew(), younger than SNAPSHOT_MAX_AGE), else ends it and begins the next: a deferred BEGIN,
// whose snapshot the request's first statement takes, after the epoch was read.
void Reader::snapshot(Conn* c) {
  uint64_t e = epoch_.load();
  if (c->held && sqlite3_get_autocommit(c->db)) c->held = false;
  if (!hold_.load()) {
    if (c->held) end_read(c);
    return;
  }
  auto now = std::chrono::steady_clock::now();
  if (c->held && c->epoch == e && now - c->since < SNAPSHOT_MAX_AGE) return;
  if (c->held) end_read(c);
  // without a transaction of its own each statement reads a snapshot of its own, as before
  if (sqlite3_exec(c->db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) return;
  c->held = true;
  snapshots++;
  c->epoch = e;
  c->since = now;
}

void Reader::end_read(Conn* c) {
  if (!sqlite3_get_autocommit(c->db) && sqlite3_exec(c->db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK)
    sqlite3_exec(c->db, "ROLLBACK", nullptr, nullptr, nullptr);
  c->held = false;
}

void Reader::end_free_locked() {
  for (Conn* c : free_)
    if (c->held) end_read(c);
}

void Reader::renew(bool hold) {
  std::lock_guard<std::mutex> lock(pool_mu_);
  hold_.store(hold && snapshots_on_);
  epoch_.fetch_add(1);
  end_free_locked();
}

void Reader::idle() {
  std::lock_guard<std::mutex> lock(pool_mu_);
  idle_ = true;
  end_free_locked();
}

bool Reader::fail(sqlite3_stmt*) {
  declined++;
  return false;
}

bool Reader::pending_atime(uint64_t ino, Ts* t) {
  if (atime_count_.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard<std::mutex> lock(atime_mu_);
  auto it = atimes_.find(ino);
  if (it == atimes_.end()) return false;
  *t = it->second;
  return true;
}

void Reader::atime_pending(uint64_t ino, Ts t) {
  std::lock_guard<std::mutex> lock(atime_mu_);
  atimes_[ino] = t;
  atime_count_.store(atimes_.size(), std::memory_order_release);
}

void Reader::atime_stored(uint64_t ino, const Ts* t) {
  std::lock_guard<std::mutex> lock(atime_mu_);
  auto it = atimes_.find(ino);
  if (it == atimes_.end()) return;
  // a time noted here after JavaScript wrote an older one stays pending
  if (t && (it->second.sec != t->sec || it->second.nsec != t->nsec)) return;
  atimes_.erase(it);
  atime_count_.store(atimes_.size(), std::memory_order_release);
}

void Reader::known_blocks(uint64_t ino, int64_t size, const Ts& mtime, const Ts& ctime, int64_t blocks) {
  std::lock_guard<std::mutex> lock(told_mu_);
  if (told_.size() >= 100000) told_.clear();
  told_[ino] = Blocks{size, mtime.sec, mtime.nsec, ctime.sec, ctime.nsec, blocks};
}

// st_blocks as the core counts it (rows.ts storedBlocks): the chunks actually stored, kept per
// inode while its size, mtime and ctime stay. Counting walks the file's entries in the chunks'
// index, which lie among its data pages: right after a large file was written and the page cache
// dropped, that read the whole database from disk, one readahead at a time (30-66 ms for a 64 MiB
// file, before its first read could start). What JavaScript told (known_blocks) comes first.
int64_t Reader::stored_blocks(Conn& c, int64_t ino, int64_t size, const Ts& mtime, const Ts& ctime) {
  auto it = c.blocks.find((uint64_t)ino);
  if (it != c.blocks.end() && it->second.of(size, mtime, ctime)) return it->second.blocks;
  {
    std::lock_guard<std::mutex> lock(told_mu_);
    auto t = told_.find((uint64_t)ino);
    if (t != told_.end() && t->second.of(size, mtime, ctime)) {
      if (c.blocks.size() >= 100000) c.blocks.clear();
      return (c.blocks[(uint64_t)ino] = t->second).blocks;
    }
  }
  // a large file's count as stored with it (stored-blocks.ts): its index entries lie all through
  // its data, and counting them cold reads each alone (and keeps its range from a huge folio)
  if (c.stored_blocks && cfg_.sql.stored_blocks_min > 0 && size >= cfg_.sql.stored_blocks_min) {
    Use s(c.stored_blocks);
    sqlite3_bind_int64(c.stored_blocks, 1, ino);
    sqlite3_bind_int64(c.stored_blocks, 2, size);
    sqlite3_bind_int64(c.stored_blocks, 3, mtime.sec);
    sqlite3_bind_int64(c.stored_blocks, 4, mtime.nsec);
    sqlite3_bind_int64(c.stored_blocks, 5, ctime.sec);
    sqlite3_bind_int64(c.stored_blocks, 6, ctime.nsec);
    if (sqlite3_step(c.stored_blocks) == SQLITE_ROW) {
      int64_t blocks = sqlite3_column_int64(c.stored_blocks, 0);
      if (c.blocks.size() >= 100000) c.blocks.clear();
      c.blocks[(uint64_t)ino] = Blocks{size, mtime.sec, mtime.nsec, ctime.sec, ctime.nsec, blocks};
      return blocks;
    }
  }
  counted++;
  Use u(c.chunks);
  sqlite3_bind_int64(c.chunks, 1, ino);
  if (sqlite3_step(c.chunks) != SQLITE_ROW) return -1;
  int64_t n = sqlite3_column_int64(c.chunks, 0);
  bool has_max = sqlite3_column_type(c.chunks, 1) != SQLITE_NULL;
  int64_t max = sqlite3_column_int64(c.chunks, 1);
  int64_t cs = cfg_.chunk_size;
  int64_t last = (size - 1) / cs;
  bool has_last = has_max && max >= last;
  int64_t bytes = (n - (has_last ? 1 : 0)) * cs + (has_last ? size - last * cs : 0);
  int64_t blocks = (bytes + 511) / 512;
  if (c.blocks.size() >= 100000) c.blocks.clear();
  c.blocks[(uint64_t)ino] = Blocks{size, mtime.sec, mtime.nsec, ctime.sec, ctime.nsec, blocks};
  return blocks;
}

void Reader::fill_stat(Conn& cn, sqlite3_stmt* st, int at, struct stat* out) {
  memset(out, 0, sizeof *out);
  int64_t ino = sqlite3_column_int64(st, at + C_INO);
  int64_t mode = sqlite3_column_int64(st, at + C_MODE);
  int64_t size = sqlite3_column_int64(st, at + C_SIZE);
  out->st_ino = (ino_t)ino;
  out->st_mode = (mode_t)mode;
  out->st_nlink = (nlink_t)sqlite3_column_int64(st, at + C_NLINK);
  out->st_uid = (uid_t)(cfg_.uid >= 0 ? cfg_.uid : sqlite3_column_int64(st, at + C_UID));
  out->st_gid = (gid_t)(cfg_.gid >= 0 ? cfg_.gid : sqlite3_column_int64(st, at + C_GID));
  out->st_size = (off_t)size;
  out->st_rdev = (dev_t)sqlite3_column_int64(st, at + C_RDEV);
  out->st_blksize = 4096;
  Ts a{sqlite3_column_int64(st, at + C_ATIME), sqlite3_column_int64(st, at + C_ATIME_NS)};
  Ts m{sqlite3_column_int64(st, at + C_MTIME), sqlite3_column_int64(st, at + C_MTIME_NS)};
  Ts c{sqlite3_column_int64(st, at + C_CTIME), sqlite3_column_int64(st, at + C_CTIME_NS)};
  pending_atime((uint64_t)ino, &a);
  out->st_atim.tv_sec = a.sec;
  out->st_atim.tv_nsec = a.nsec;
  out->st_mtim.tv_sec = m.sec;
  out->st_mtim.tv_nsec = m.nsec;
  out->st_ctim.tv_sec = c.sec;
  out->st_ctim.tv_nsec = c.nsec;
  if (S_ISREG(mode) && size > 0) {
    int64_t b = stored_blocks(cn, ino, size, m, c);
    out->st_blocks = b < 0 ? 0 : (blkcnt_t)b;
  }
}

// relatime (core/fs/relatime.ts): a read moves atime when it is not after mtime or ctime, or is a
// day old; the row's pending time counts.
bool Reader::atime_due(sqlite3_stmt* st, int at) {
  uint64_t ino = (uint64_t)sqlite3_column_int64(st, at + C_INO);
  Ts a{sqlite3_column_int64(st, at + C_ATIME), sqlite3_column_int64(st, at + C_ATIME_NS)};
  Ts m{sqlite3_column_int64(st, at + C_MTIME), sqlite3_column_int64(st, at + C_MTIME_NS)};
  Ts c{sqlite3_column_int64(st, at + C_CTIME), sqlite3_column_int64(st, at + C_CTIME_NS)};
  pending_atime(ino, &a);
  return before_or_at(a, m) || before_or_at(a, c) || now_ts().sec - a.sec > 86400;
}

void Reader::touch_atime(sqlite3_stmt* st, int at) {
  if (!cfg_.atimes || !atime_due(st, at)) return;
  uint64_t ino = (uint64_t)sqlite3_column_int64(st, at + C_INO);
  Ts now = now_ts();
  atime_pending(ino, now);
  if (on_atime) on_atime(ino, now);
}

// A 64-bit hash of parent/name: the set of names handed out is checked by it (a collision, about
// one in 2^64 per pair, would only leave one name to its cache timeout).
static uint64_t name_key(uint64_t parent, const char* name) {
  uint64_t h = 1469598103934665603ull ^ (parent * 0x9E3779B97F4A7C15ull);
  for (const unsigned char* p = reinterpret_cast<const unsigned char*>(name); *p; p++) h = (h ^ *p) * 1099511628211ull;
  return h;
}

void Reader::remember_locked(uint64_t parent, const char* name, uint64_t ino) {
  if (known_list_.size() >= MAX_KNOWN) return;  // beyond this, the cache timeouts rule
  if (known_names_.insert(name_key(parent, name)).second) known_list_.emplace_back(parent, name);
  known_inodes_.insert(ino);
}

void Reader::remember(uint64_t parent, const char* name, uint64_t ino) {
  std::lock_guard<std::mutex> lock(known_mu_);
  remember_locked(parent, name, ino);
}

// Entries a readdirplus sent with their attributes.
void Reader::remember_all(uint64_t parent, const std::vector<Listed>& entries) {
  if (entries.empty()) return;
  int64_t now = now_ms();
  std::lock_guard<std::mutex> lock(known_mu_);
  for (const auto& e : entries) {
    remember_locked(parent, e.name.c_str(), e.ino);
    sent_attrs_locked(e.ino, now, e.mode);
  }
}

void Reader::sent_attrs_locked(uint64_t ino, int64_t now, uint32_t mode) {
  if (SentAttrs::Slot* s = attrs_sent_.at(ino)) *s = SentAttrs::Slot{ino, now, mode & S_IFMT};
}

// Sent within half the shorter of the two timeouts: the kernel's dentry and attributes are both
// still valid then, unless it dropped them itself (a write, a setattr, memory pressure: then it
// asks again, as after a plain readdir).
bool Reader::holds_attrs_locked(uint64_t ino, int64_t now) const { return held_locked(attrs_sent_.find(ino), now); }

bool Reader::held_locked(const SentAttrs::Slot* s, int64_t now) const {
  if (!s || s->at == SentAttrs::NOT_HELD) return false;
  double window = (cfg_.attr_timeout < cfg_.entry_timeout ? cfg_.attr_timeout : cfg_.entry_timeout) * 500;
  return (double)(now - s->at) < window;
}

void Reader::sent_attrs(uint64_t ino, uint32_t mode) {
  int64_t now = now_ms();
  std::lock_guard<std::mutex> lock(known_mu_);
  sent_attrs_locked(ino, now, mode);
}

void Reader::held_attrs(const double* inos, size_t n, uint8_t* held) {
  int64_t now = now_ms();
  std::lock_guard<std::mutex> lock(known_mu_);
  for (size_t i = 0; i < n; i++) held[i] = holds_attrs_locked((uint64_t)inos[i], now) ? 1 : 0;
}

void Reader::stale_attrs(uint64_t ino) {
  std::lock_guard<std::mutex> lock(known_mu_);
  if (SentAttrs::Slot* s = attrs_sent_.find(ino)) s->at = SentAttrs::NOT_HELD;  // its type stays what it was
}

void Reader::take_known(std::vector<std::pair<uint64_t, std::string>>* names, std::vector<uint64_t>* inodes) {
  std::lock_guard<std::mutex> lock(known_mu_);
  names->swap(known_list_);
  known_list_.clear();
  known_names_.clear();
  inodes->assign(known_inodes_.begin(), known_inodes_.end());
  known_inodes_.clear();
  listing_keys_.clear();  // listings are fetched again, as JavaScript does (state.ts invalidateAll)
  attrs_sent_.clear();    // the kernel's attributes are dropped with them
}

// As handlers/dirs.ts opendir: the kernel keeps its cached listing while the directory's mtime,
// ctime and link count are those it had when the listing was last fetched (every change through
// the mount drops the kernel's cache itself; an outside change moves them).
bool Reader::opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Lease lease(this);
  if (!lease.c) return fail(nullptr);
  Conn& c = *lease.c;
  bool cache = cfg_.listing_max_age != 0;
  if (cache && !std::isinf(cfg_.listing_max_age)) return fail(nullptr);
  Use u(c.inode);
  sqlite3_bind_int64(c.inode, 1, (sqlite3_int64)ino);
  if (sqlite3_step(c.inode) != SQLITE_ROW || !S_ISDIR(sqlite3_column_int64(c.inode, C_MODE))) return fail(c.inode);
  bool keep = false;
  if (cache) {
    std::string key = std::to_string(sqlite3_column_int64(c.inode, C_MTIME)) + '.' + std::to_string(sqlite3_column_int64(c.inode, C_MTIME_NS)) +
                      ':' + std::to_string(sqlite3_column_int64(c.inode, C_CTIME)) + '.' + std::to_string(sqlite3_column_int64(c.inode, C_CTIME_NS)) +
                      ':' + std::to_string(sqlite3_column_int64(c.inode, C_NLINK));
    std::lock_guard<std::mutex> lock(known_mu_);
    if (listing_keys_.size() >= 200000) listing_keys_.clear();
    auto [held, fresh] = listing_keys_.try_emplace((uint64_t)ino);
    // cached from the second opendir on, and only of a directory as it was at the last one:
    // filling the kernel's cache costs a listing ~20% (fuse_emit, a page-cache write per entry),
    // which walks (find, tar, rm -r, a bench's one scandir: each directory once) and a listing
    // after each change (ls after a touch) never get back
    keep = held->second == key;
    cache = !fresh && keep;
    held->second = std::move(key);
  }
  fi->fh = NATIVE_FH | next_fh_.fetch_add(1);
  fi->cache_readdir = cache;
  fi->keep_cache = keep;
  served++;
  fuse_reply_open(req, fi);
  return true;
}

bool Reader::dir_mtime(uint64_t ino, int64_t* sec, int64_t* nsec) {
  Lease lease(this);
  if (!lease.c) return fail(nullptr);
  Conn& c = *lease.c;
  Use u(c.inode);
  sqlite3_bind_int64(c.inode, 1, (sqlite3_int64)ino);
  if (sqlite3_step(c.inode) != SQLITE_ROW || !S_ISDIR(sqlite3_column_int64(c.inode, C_MODE))) return fail(c.inode);
  *sec = sqlite3_column_int64(c.inode, C_MTIME);
  *nsec = sqlite3_column_int64(c.inode, C_MTIME_NS);
  return true;  // counted as served by the open it answers (HostFiles::open_delta_dir)
}

bool Reader::lookup(fuse_req_t req, fuse_ino_t parent, const char* name) { return lookup_in(req, parent, name, Stale{nullptr, nullptr}); }

bool Reader::lookup_unchanged(fuse_req_t req, fuse_ino_t parent, const char* name, Stale stale) {
  return lookup_in(req, parent, name, stale);
}

bool Reader::lookup_in(fuse_req_t req, fuse_ino_t parent, const char* name, Stale stale) {
  Lease lease(this);
  if (!lease.c) return fail(nullptr);
  Conn& c = *lease.c;
  size_t len = strlen(name);
  if (!plain_name(name, len)) return fail(nullptr);
  Use u(c.lookup);
  sqlite3_bind_text(c.lookup, 1, name, (int)len, SQLITE_STATIC);
  sqlite3_bind_int64(c.lookup, 2, (sqlite3_int64)parent);
  if (sqlite3_step(c.lookup) != SQLITE_ROW) return fail(c.lookup);  // no such parent, or an error
  if (sqlite3_column_type(c.lookup, 0) == SQLITE_NULL || !S_ISDIR(sqlite3_column_int64(c.lookup, 0))) return fail(c.lookup);
  fuse_entry_param e;
  memset(&e, 0, sizeof e);
  if (sqlite3_column_type(c.lookup, 1) == SQLITE_NULL) {
    absent(req, name);
    return true;
  }
  // an inode the open write transaction changed: JavaScript's to answer
  if (stale.changed && stale.changed(stale.ctx, (uint64_t)sqlite3_column_int64(c.lookup, 1 + C_INO))) return false;
  fill_stat(c, c.lookup, 1, &e.attr);
  e.ino = e.attr.st_ino;
  e.entry_timeout = cfg_.entry_timeout;
  e.attr_timeout = cfg_.attr_timeout;
  remember(parent, name, e.ino);
  sent_attrs(e.ino, e.attr.st_mode);
  served++;
  fuse_reply_entry(req, &e);
  return true;
}

bool Reader::absent(fuse_req_t req, const char* name) {
  if (!plain_name(name, strlen(name))) return fail(nullptr);
  served++;
  if (cfg_.negative_timeout > 0) {
    fuse_entry_param e;
    memset(&e, 0, sizeof e);
    e.entry_timeout = cfg_.negative_timeout;
    fuse_reply_entry(req, &e);
  } else {
    fuse_reply_err(req, ENOENT);
  }
  return true;
}

bool Reader::getattr(fuse_req_t req, fuse_ino_t ino) { return getattr_as(req, ino, 0); }

bool Reader::getattr_as(fuse_req_t req, uint64_t ino, fuse_ino_t shown) {
  Lease lease(this);
  if (!lease.c) return fail(nullptr);
  Conn& c = *lease.c;
  Use u(c.inode);
  sqlite3_bind_int64(c.inode, 1, (sqlite3_int64)ino);
  if (sqlite3_step(c.inode) != SQLITE_ROW) return fail(c.inode);
  struct stat st;
  fill_stat(c, c.inode, 0, &st);
  if (shown == 0) {
    sent_attrs(ino, st.st_mode);
  } else {
    if (!S_ISREG(st.st_mode)) return fail(nullptr);
    st.st_ino = (ino_t)shown;
  }
  if (cfg_.getattr_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(cfg_.getattr_delay_ms));
  served++;
  fuse_reply_attr(req, &st, cfg_.attr_timeout);
  return true;
}

bool Reader::readlink(fuse_req_t req, fuse_ino_t ino) {
  Lease lease(this);
  if (!lease.c) return fail(nullptr);
  Conn& c = *lease.c;
  Use u(c.readlink);
  sqlite3_bind_int64(c.readlink, 1, (sqlite3_int64)ino);
  if (sqlite3_step(c.readlink) != SQLITE_ROW) return fail(c.readlink);
  const unsigned char* t = static_cast<const unsigned char*>(sqlite3_column_blob(c.readlink, 0));
  int n = sqlite3_column_bytes(c.readlink, 0);
  if (!t || !utf8_valid(t, (size_t)n)) return fail(c.readlink);
  std::string target(reinterpret_cast<const char*>(t), (size_t)n);
  served++;
  fuse_reply_readlink(req, target.c_str());
  return true;
}

bool Reader::read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off) {
  Lease lease(this, true);
  if (!lease.c) return fail(nullptr);
  Conn& c = *lease.c;
  if (off < 0) return fail(nullptr);
  if (cfg_.read_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(cfg_.read_delay_ms));
  Use u(c.inode);
  sqlite3_bind_int64(c.inode, 1, (sqlite3_int64)ino);
  if (sqlite3_step(c.inode) != SQLITE_ROW || !S_ISREG(sqlite3_column_int64(c.inode, C_MODE))) return fail(c.inode);
  int64_t fsize = sqlite3_column_int64(c.inode, C_SIZE);
  int64_t end = fsize < off + (int64_t)size ? fsize : off + (int64_t)size;
  if (end <= off) {
    touch_atime(c.inode, 0);
    served++;
    fuse_reply_buf(req, nullptr, 0);
    return true;
  }
  // the inode row and the chunks come from one read transaction: c.inode stays stepped meanwhile
  // a pooled buffer (reply_buffers.h): fresh memory costs as much as the read itself.
  // Only what no chunk covers is zeroed (holes, short chunks, the tail): rows come in chunk order
  // (SharedReadSql.read), and zeroing the whole buffer first cost about as much as the copies.
  const size_t n = (size_t)(end - off);
  reply_buffers::Lease buf(n);
  char* out = buf.data();
  int64_t filled = 0;  // out[0, filled) is written
  int64_t cs = cfg_.chunk_size;
  {
    Use rows(c.read);
    sqlite3_bind_int64(c.read, 1, (sqlite3_int64)ino);
    sqlite3_bind_int64(c.read, 2, off / cs);
    sqlite3_bind_int64(c.read, 3, (end - 1) / cs);
    int rc;
    while ((rc = sqlite3_step(c.read)) == SQLITE_ROW) {
      int64_t start = sqlite3_column_int64(c.read, 0) * cs;
      const char* data = static_cast<const char*>(sqlite3_column_blob(c.read, 1));
      int64_t len = sqlite3_column_bytes(c.read, 1);
      int64_t from = (off > start ? off : start) - start;
      int64_t to = (end < start + len ? end : start + len) - start;
      if (!data || to <= from) continue;
      int64_t at = start + from - off;
      if (at > filled) memset(out + filled, 0, (size_t)(at - filled));
      memcpy(out + at, data + from, (size_t)(to - from));
      // a chunk longer than the chunk size (another writer's) spills, as in ops/read.ts
      if (at + (to - from) > filled) filled = at + (to - from);
    }
    if (rc != SQLITE_DONE) return fail(c.read);
  }
  memset(out + filled, 0, n - (size_t)filled);
  touch_atime(c.inode, 0);
  served++;
  fuse_reply_buf(req, out, n);
  return true;
}

// statfs as ops/statfs.ts answers it: the database's pages in use plus what the host
// filesystem under it has free (and the database's own free pages), in blocks; inodes in use
// plus a large free count. The count walks every inode row, so each connection keeps it while
// its data version says no other connection committed (this one only reads, and JavaScript's
// uncommitted writes keep every request away from here). The count comes from a statement of
// its own, after the version: a commit in between only makes the next call count again.
bool Reader::statfs(fuse_req_t req) {
  // without the directory's handle: JavaScript's answer (Store.hostFreeBytes then asks the path)
  if (!cfg_.statfs.on || dir_fd_ < 0) return false;
  Lease lease(this);
  if (!lease.c) return fail(nullptr);
  Conn& c = *lease.c;
  int64_t page_size, pages, free_pages, version;
  {
    Use u(c.space);
    if (sqlite3_step(c.space) != SQLITE_ROW) return fail(c.space);
    page_size = sqlite3_column_int64(c.space, 0);
    pages = sqlite3_column_int64(c.space, 1);
    free_pages = sqlite3_column_int64(c.space, 2);
    version = sqlite3_column_int64(c.space, 3);
  }
  if (c.inode_count < 0 || c.inodes_version != version) {
    Use u(c.inodes);
    if (sqlite3_step(c.inodes) != SQLITE_ROW) return fail(c.inodes);
    c.inode_count = sqlite3_column_int64(c.inodes, 0);
    c.inodes_version = version;
  }
  // as JavaScript's numbers: doubles, rounded the same way
  struct statfs host;
  double host_free = ::fstatfs(dir_fd_, &host) == 0 ? (double)host.f_bavail * (double)host.f_bsize : 0;
  double used = (double)(pages - free_pages) * (double)page_size;
  double free = host_free + (double)free_pages * (double)page_size;
  const StatfsConfig& k = cfg_.statfs;
  struct statvfs st;
  memset(&st, 0, sizeof st);
  st.f_bsize = st.f_frsize = (unsigned long)k.block_size;
  st.f_blocks = (fsblkcnt_t)std::ceil((used + free) / k.block_size);
  st.f_bfree = st.f_bavail = (fsblkcnt_t)std::floor(free / k.block_size);
  st.f_files = (fsfilcnt_t)((double)c.inode_count + k.free_inodes);
  st.f_ffree = st.f_favail = (fsfilcnt_t)k.free_inodes;
  st.f_namemax = (unsigned long)k.name_max;
  served++;
  fuse_reply_statfs(req, &st);
  return true;
}

// Read-only opens of regular files (handlers/files.ts open without O_TRUNC, O_APPEND or write
// access): the counting JavaScript does for an open happens through on_open.
bool Reader::open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Lease lease(this);
  if (!lease.c) return fail(nullptr);
  Conn& c = *lease.c;
  if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & (O_TRUNC | O_APPEND | O_CREAT))) return fail(nullptr);
  if (!on_open) return fail(nullptr);
  if (cfg_.open_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(cfg_.open_delay_ms));
  bool keep = cfg_.keep_cache;
  {
    Use u(c.inode);
    sqlite3_bind_int64(c.inode, 1, (sqlite3_int64)ino);
    if (sqlite3_step(c.inode) != SQLITE_ROW || !S_ISREG(sqlite3_column_int64(c.inode, C_MODE))) return fail(c.inode);
    // as handlers/files.ts open: a read answered from kept pages would not move a due access time
    if (keep && cfg_.atimes && atime_due(c.inode, 0)) keep = false;
  }
  fi->fh = NATIVE_FH | next_fh_.fetch_add(1);
  fi->keep_cache = keep;
  fi->direct_io = (fi->flags & O_DIRECT) != 0;  // as handlers/files.ts directIo
  on_open(ino, fi->flags);
  served++;
  fuse_reply_open(req, fi);
  return true;
}

// Kernel offsets as JavaScript gives them (handlers/dirs.ts): 1 after '.', 2 after '..', and
// dentry id + 2 after an entry, so a listing can continue on either side.
bool Reader::readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus, Stale stale) {
  Lease lease(this);
  if (!lease.c) return fail(nullptr);
  Conn& c = *lease.c;
  if (off < 0) return fail(nullptr);
  std::vector<char>& buf = c.dbuf;
  buf.resize(size);
  size_t used = 0;
  // c.inode stays stepped until the reply is built: the whole request is one read transaction
  // (each one costs lock calls on the WAL index), and its parts agree with each other
  Use dir(c.inode);
  {
    sqlite3_bind_int64(c.inode, 1, (sqlite3_int64)ino);
    if (sqlite3_step(c.inode) != SQLITE_ROW || !S_ISDIR(sqlite3_column_int64(c.inode, C_MODE))) return fail(c.inode);
    fuse_entry_param e;
    memset(&e, 0, sizeof e);
    if (off < 1) {
      fill_stat(c, c.inode, 0, &e.attr);
      e.ino = ino;
      size_t need = plus ? fuse_add_direntry_plus(req, buf.data() + used, size - used, ".", &e, 1)
                         : fuse_add_direntry(req, buf.data() + used, size - used, ".", &e.attr, 1);
      if (need > size - used) return fail(nullptr);
      used += need;
    }
    if (off < 2) {
      // the kernel ignores the attributes of '.' and '..' in a readdirplus: only the number counts
      uint64_t parent = ino;
      {
        Use p(c.parent);
        sqlite3_bind_int64(c.parent, 1, (sqlite3_int64)ino);
        if (sqlite3_step(c.parent) == SQLITE_ROW) parent = (uint64_t)sqlite3_column_int64(c.parent, 0);
      }
      memset(&e, 0, sizeof e);
      e.ino = parent;
      e.attr.st_ino = parent;
      e.attr.st_mode = S_IFDIR;
      size_t need = plus ? fuse_add_direntry_plus(req, buf.data() + used, size - used, "..", &e, 2)
                         : fuse_add_direntry(req, buf.data() + used, size - used, "..", &e.attr, 2);
      if (need <= size - used) used += need;
    }
  }
  std::vector<Listed> sent;  // remembered together once the reply is built
  int64_t now = now_ms();
  {
    // Entries come from the dentries alone while their types are known here (sent to the kernel
    // before) and a readdirplus has no attributes to send for them (the kernel holds them): no
    // inode row to read, which after a write burst is a page read back from the WAL each. From the
    // first other entry on, the statement joined with the inodes: their modes (SharedReadSql.names,
    // a plain listing) or all their columns (page).
    sqlite3_stmt* joined = plus ? c.page : c.names;
    sqlite3_stmt* st = types_stay_ && c.entries ? c.entries : joined;
    sqlite3_int64 after = off > 2 ? (sqlite3_int64)(off - 2) : 0;
    // as many as can fit: a readdirplus entry takes 152 bytes and its name 8 or more
    sqlite3_int64 limit = (sqlite3_int64)(size / (plus ? 160 : 24) + 2);
    for (;;) {
      bool slim = st == c.entries;
      bool widen = false;
      Use u(st);
      sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
      sqlite3_bind_int64(st, 2, after);
      sqlite3_bind_int64(st, 3, limit);
      int rc;
      while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        uint64_t eino = (uint64_t)sqlite3_column_int64(st, 2 + C_INO);
        bool attrs = plus && !(stale.changed && stale.changed(stale.ctx, eino));
        uint32_t type = 0;
        if (attrs || slim) {
          std::lock_guard<std::mutex> lock(known_mu_);
          const SentAttrs::Slot* k = attrs_sent_.find(eino);
          if (attrs) attrs = !held_locked(k, now);
          if (slim && k) type = k->type;
        }
        if (slim && (attrs || type == 0)) {
          widen = true;  // this entry and the rest from the joined statement
          break;
        }
        const unsigned char* nm = static_cast<const unsigned char*>(sqlite3_column_blob(st, 1));
        int nlen = sqlite3_column_bytes(st, 1);
        // a name no mount could have written: JavaScript says why (EILSEQ)
        if (!nm || nlen == 0 || (size_t)nlen > NAME_MAX_BYTES || !utf8_valid(nm, (size_t)nlen)) return fail(st);
        mode_t mode = slim ? (mode_t)type : (mode_t)sqlite3_column_int64(st, 2 + C_MODE);
        size_t need;
        if (!plus) {
          need = add_dirent(buf.data() + used, size - used, reinterpret_cast<const char*>(nm), (size_t)nlen, eino, mode, id + 2);
          if (need > size - used) break;
          used += need;
          after = id;
          continue;
        }
        std::string name(reinterpret_cast<const char*>(nm), (size_t)nlen);
        if (!attrs) {
          // nodeid 0: the kernel only lists the name (fuse_direntplus_link), keeping what it holds
          fuse_entry_param e;
          memset(&e, 0, sizeof e);
          e.attr.st_ino = (ino_t)eino;
          e.attr.st_mode = mode;
          need = fuse_add_direntry_plus(req, buf.data() + used, size - used, name.c_str(), &e, id + 2);
          if (need > size - used) break;
          listed_bare++;
        } else {
          fuse_entry_param e;
          memset(&e, 0, sizeof e);
          fill_stat(c, st, 2, &e.attr);
          e.ino = e.attr.st_ino;
          e.entry_timeout = cfg_.entry_timeout;
          e.attr_timeout = cfg_.attr_timeout;
          need = fuse_add_direntry_plus(req, buf.data() + used, size - used, name.c_str(), &e, id + 2);
          if (need > size - used) break;
          sent.push_back(Listed{e.ino, (uint32_t)e.attr.st_mode, std::move(name)});
        }
        used += need;
        after = id;
      }
      if (widen) {
        st = joined;  // the same read transaction: c.inode is still stepped
        continue;
      }
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(st);
      break;
    }
  }
  remember_all(ino, sent);
  served++;
  fuse_reply_buf(req, buf.data(), used);
  return true;
}
