// The native read path: lookup, getattr, opendir, readdir(plus), open (read-only), read,
// readlink and statfs answered on the FUSE worker threads from read-only SQLite connections of the addon's
// own (a small pool, one per request being served), without a trip into
// JavaScript. Every method either answers the request and returns true, or sends nothing and
// returns false: the request then goes to JavaScript as before. JavaScript keeps every mutation
// and every case out of the ordinary (errors other than a missing name, odd names, '.'/'..').
//
// The statements come from JavaScript (src/core/fs/shared-reads.ts): the core owns the SQL and
// this file only runs it, with the column orders documented there.
#pragma once

#include <fuse_lowlevel.h>
#include <sqlite3.h>
#include <sys/mman.h>
#include "sent_attrs.h"
#include "sqlite_maps.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

struct ReaderSql {
  std::string lookup;    // (name, parent) -> parent mode, inode columns (NULLs when no such name)
  std::string inode;     // (ino) -> inode columns
  std::string page;      // (dir, after id, limit) -> id, name, inode columns
  std::string names;     // (dir, after id, limit) -> id, name, ino, mode (plain listings)
  std::string entries;   // (dir, after id, limit) -> id, name, ino (entries of known types)
  std::string chunks;    // (ino) -> COUNT(*), MAX(chunk_index)
  std::string read;      // (ino, first, last) -> chunk_index, data
  std::string readlink;  // (ino) -> target
  std::string parent;    // (ino) -> parent_ino
  std::string space;     // () -> page size, pages, free pages, data version
  std::string inodes;    // () -> inodes in use
  // (ino, size, mtime, mtime_ns, ctime, ctime_ns) -> st_blocks stored for the file as of those
  // (src/core/fs/stored-blocks.ts); unused when empty or when the database has no such table
  std::string stored_blocks;
  int64_t stored_blocks_min = 0;  // files at least this large may have one
};

// statfs's fixed numbers (src/core/fs/ops/statfs.ts); statfs is answered here when set.
struct StatfsConfig {
  bool on = false;
  double block_size = 4096, free_inodes = 0, name_max = 255;
};

struct ReaderConfig {
  std::string path;
  int64_t chunk_size = 4096;
  ReaderSql sql;
  StatfsConfig statfs;
  int64_t uid = -1, gid = -1;  // reported owner instead of the stored one (-1: stored)
  double entry_timeout = 1, attr_timeout = 1, negative_timeout = 0;
  bool atimes = true;  // reads move access times (false: the database is read-only here)
  // how long the kernel may keep a directory listing (FOPEN_CACHE_DIR): 0 never, infinity while
  // the directory is unchanged; other values (an overlay's) leave opendir to JavaScript
  double listing_max_age = 0;
  // outside changes drop the kernel's pages (the change watcher): opens may keep them
  bool keep_cache = false;
  // false: the database lies under the mountpoint, where a connection opened later, by the
  // database's path, would wait on this very mount; only those opened with the reader serve
  bool open_later = true;
  // tests only (AGENTFS_FUSE_TEST_DELAY_MS="getattr,read,open"): a GETATTR waits this long between
  // reading its row and replying, a READ before it reads anything, a read-only OPEN before it
  // reads the file's row, so that a test can put another request in that window
  int getattr_delay_ms = 0, read_delay_ms = 0, open_delay_ms = 0;
};

// Handles opened here carry this bit (JavaScript's own count up from 1): a directory's release
// needs no trip to JavaScript, a file's only an event.
const uint64_t NATIVE_FH = 1ull << 62;

struct Ts {
  int64_t sec = 0, nsec = 0;
};

class Reader {
 public:
  // Opens the connection and prepares the statements; nullptr (and why, in err) when it cannot.
  static Reader* open(const ReaderConfig& cfg, std::string* err);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // On the loop's threads (the JS thread too while it leads), any number at once (each request
  // takes a connection of the pool).
  bool lookup(fuse_req_t req, fuse_ino_t parent, const char* name);
  // Inodes whose attributes the database may not have now (an open write transaction changed
  // them): a readdirplus lists their entries without them (nodeid 0), a lookup_unchanged leaves
  // them to JavaScript. Called outside known_mu_.
  struct Stale {
    bool (*changed)(void* ctx, uint64_t ino);
    void* ctx;
  };
  // Answers the lookup unless the database's entry names an inode stale says changed (then
  // false: JavaScript's to answer). For a name the open write transaction did not change.
  bool lookup_unchanged(fuse_req_t req, fuse_ino_t parent, const char* name, Stale stale);
  // Answers a lookup of `name` as absent, as lookup() does for a name the database lacks (a
  // negative entry when negative entries are cached, else ENOENT): the session knows without a
  // read. Declines (false) what lookup() declines for the name alone (too long, '.', '..').
  bool absent(fuse_req_t req, const char* name);
  bool getattr(fuse_req_t req, fuse_ino_t ino);
  // A regular file's attributes shown under another inode number `shown` (an overlay's delta
  // file: host_files.h add_delta); anything else is left to JavaScript. 0: as getattr.
  bool getattr_as(fuse_req_t req, uint64_t ino, fuse_ino_t shown);
  bool readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus, Stale stale = {nullptr, nullptr});
  bool read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off);
  bool readlink(fuse_req_t req, fuse_ino_t ino);
  // The capacity ops/statfs.ts reports: the database's pages and the host's free space under it.
  bool statfs(fuse_req_t req);
  bool opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  // The mtime of directory ino (false: no such directory, or no connection).
  bool dir_mtime(uint64_t ino, int64_t* sec, int64_t* nsec);
  bool open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);

  // st_blocks of a regular file as JavaScript knew it when its write transaction ended (the
  // session passes on the attributes that transaction changed): used while the stored row has
  // this size, mtime and ctime, so a stat after a write needs no count of the file's chunks.
  void known_blocks(uint64_t ino, int64_t size, const Ts& mtime, const Ts& ctime, int64_t blocks);

  // A read served here moved ino's access time to t: JavaScript stores it (set by the session).
  std::function<void(uint64_t ino, Ts t)> on_atime;
  // A file was opened here: JavaScript counts it (open-but-unlinked files, the journal). Queued
  // before the reply, so it reaches JavaScript before anything the opener does next.
  std::function<void(uint64_t ino, int flags)> on_open;

  // From the JS thread: an access time JavaScript holds in memory and has not stored yet, so
  // that attributes served here show it too.
  void atime_pending(uint64_t ino, Ts t);
  // From the JS thread: these times (or a later explicit one) are stored now; forget them.
  void atime_stored(uint64_t ino, const Ts* t);

  // From the JS thread: the names and inodes handed to the kernel since the last call (moved out),
  // so that an outside change can drop them from the kernel's caches.
  void take_known(std::vector<std::pair<uint64_t, std::string>>* names, std::vector<uint64_t>* inodes);

  // Which inodes the kernel holds current attributes of, as far as this process can tell: a
  // readdirplus leaves those entries without attributes (nodeid 0, as a plain readdir would),
  // which spares the kernel a dentry lookup and an attribute update per entry (and the page
  // cache drop that follows when the mtime it had was older). Only a hint: an entry sent without
  // attributes is always correct, the kernel then asks (GETATTR, LOOKUP) when it needs them.
  // From any thread: attributes of ino went out in a reply (here or from JavaScript).
  void sent_attrs(uint64_t ino, uint32_t mode);
  // From any thread: the kernel is about to change or drop ino's attributes (a write, a setattr).
  void stale_attrs(uint64_t ino);
  // held[i] = whether the kernel holds the attributes of inos[i] (JavaScript's readdirplus).
  void held_attrs(const double* inos, size_t n, uint8_t* held);

  // Read snapshots: each connection keeps its read transaction across the requests of a burst
  // (a transaction's start and end cost ~7 us here: the WAL read lock's fcntl calls and the
  // wal-index checks, more than the query), and starts a new one once something may have changed.
  // From the JS thread: something may have changed (JavaScript committed, another process did):
  // no request begun after this reads an older snapshot. Ends the idle connections' transactions.
  // hold: false while JavaScript writes or holds, or another process writes (each request then
  // reads in a transaction of its own, as before: a checkpoint JavaScript restarts after its
  // commit waits for no snapshot, and another writer's WAL can start over).
  void renew(bool hold);
  // From the loop, before it sleeps: the idle connections end theirs (a checkpoint may then
  // restart the WAL, another process's TRUNCATE need not wait), as do those in use when released.
  void idle();

  // Counters (requests served here), for AGENTFS_FUSE_TRACE.
  std::atomic<uint64_t> served{0}, declined{0};
  // readdirplus entries sent without attributes (the kernel held them; see sent_attrs), by this
  // reader or by JavaScript's listings (replyDir)
  std::atomic<uint64_t> listed_bare{0};
  // files whose chunks were counted for st_blocks (see stored_blocks)
  std::atomic<uint64_t> counted{0};
  // the data connections map the database in huge pages (huge_maps_pay)
  bool huge_maps() const { return huge_; }
  // read transactions begun (see renew): far fewer than requests served in a burst
  std::atomic<uint64_t> snapshots{0};

 private:
  explicit Reader(const ReaderConfig& cfg) : cfg_(cfg) {}
  // names, inodes and attributes remembered at most (beyond: the cache timeouts rule)
  static constexpr size_t MAX_KNOWN = 500000;
  // the directory holding a file (node's path.dirname, for a file's path)
  static std::string dir_of(const std::string& path) {
    size_t i = path.rfind('/');
    return i == std::string::npos ? "." : i == 0 ? "/" : path.substr(0, i);
  }
  struct Blocks {
    int64_t size, mtime, mtime_ns, ctime, ctime_ns, blocks;
    bool of(int64_t sz, const Ts& m, const Ts& c) const {
      return size == sz && mtime == m.sec && mtime_ns == m.nsec && ctime == c.sec && ctime_ns == c.nsec;
    }
  };
  // One read-only connection, its statements and what it caches; one request uses it at a time.
  struct Conn {
    sqlite3* db = nullptr;
    sqlite3_stmt *lookup = nullptr, *inode = nullptr, *page = nullptr, *names = nullptr, *entries = nullptr, *chunks = nullptr, *read = nullptr,
                 *readlink = nullptr, *parent = nullptr, *space = nullptr, *inodes = nullptr, *stored_blocks = nullptr;
    // inodes in use, as counted at data version inodes_version of this connection (-1: not yet)
    int64_t inode_count = -1, inodes_version = 0;
    std::unordered_map<uint64_t, Blocks> blocks;  // st_blocks per inode (see stored_blocks)
    std::vector<char> dbuf;                        // the reply buffer of readdir
    // serves READ: its map keeps the kernel's read-around, where the others' read each page
    // alone (sqlite_maps.h: a lookup's B-tree pages are far apart, a file's chunks in order),
    // and is advised MADV_HUGEPAGE where that pays (huge_maps_pay): 2 MiB folios, mapped whole
    bool data = false;
    // a read transaction held open (see renew): begun at epoch `epoch`, at `since`
    bool held = false;
    uint64_t epoch = 0;
    std::chrono::steady_clock::time_point since;
    ~Conn();
  };
  struct Lease {
    Reader* r;
    MapAdvice advice;  // before c: acquiring may open the connection and map the file
    Conn* c;
    explicit Lease(Reader* reader, bool data = false)
        : r(reader), advice(data ? reader->data_advice() : MADV_RANDOM), c(reader->acquire(data)) {}
    ~Lease() {
      if (c) r->release(c);
    }
  };
  Conn* connect(std::string* err);
  Conn* acquire(bool data);
  void release(Conn* c);
  // the connection's read transaction: kept, ended or begun for the next request (see renew)
  void snapshot(Conn* c);
  static void end_read(Conn* c);
  void end_free_locked();
  bool prepare(Conn* c, sqlite3_stmt** st, const std::string& sql, std::string* err);
  void fill_stat(Conn& cn, sqlite3_stmt* st, int at, struct stat* out);
  int64_t stored_blocks(Conn& c, int64_t ino, int64_t size, const Ts& mtime, const Ts& ctime);
  bool pending_atime(uint64_t ino, Ts* t);
  bool atime_due(sqlite3_stmt* st, int at);
  void touch_atime(sqlite3_stmt* st, int at);
  void remember(uint64_t parent, const char* name, uint64_t ino);
  struct Listed {
    uint64_t ino;
    uint32_t mode;
    std::string name;
  };
  void remember_all(uint64_t parent, const std::vector<Listed>& entries);
  void remember_locked(uint64_t parent, const char* name, uint64_t ino);
  void sent_attrs_locked(uint64_t ino, int64_t now_ms, uint32_t mode);
  bool held_locked(const SentAttrs::Slot* s, int64_t now_ms) const;
  bool holds_attrs_locked(uint64_t ino, int64_t now_ms) const;
  bool fail(sqlite3_stmt* st);
  bool lookup_in(fuse_req_t req, fuse_ino_t parent, const char* name, Stale stale);

  ReaderConfig cfg_;
  // known_blocks' entries, for every connection (each keeps its own copy of what it used)
  std::mutex told_mu_;
  std::unordered_map<uint64_t, Blocks> told_;
  // The database's directory, held open (O_PATH) from before the mount: statfs reports the space
  // of the host filesystem holding it. Its path may lead through the mount itself (a database
  // inside its own mountpoint), whose only reader would then wait on itself. -1: not open.
  int dir_fd_ = -1;
  std::mutex pool_mu_;
  std::vector<Conn*> all_, free_;
  // bumped by renew(): a connection whose transaction began before ends it
  std::atomic<uint64_t> epoch_{0};
  // snapshots are kept across requests (renew's hold; never with AGENTFS_READ_SNAPSHOTS=0)
  bool snapshots_on_ = true;
  // the data connections' map advice: MADV_HUGEPAGE where it pays (huge_maps_pay), else none
  int data_advice() const { return huge_ ? MADV_HUGEPAGE : -1; }
  bool huge_ = false;
  std::atomic<bool> hold_{true};
  // the loop slept since the last acquire (under pool_mu_): released connections end theirs
  bool idle_ = false;

  std::mutex atime_mu_;
  std::atomic<size_t> atime_count_{0};
  std::unordered_map<uint64_t, Ts> atimes_;

  std::mutex known_mu_;
  std::unordered_set<uint64_t> known_names_;  // name_key(parent, name)
  std::vector<std::pair<uint64_t, std::string>> known_list_;
  std::unordered_set<uint64_t> known_inodes_;
  // inode -> when its attributes last went to the kernel (monotonic ms, NOT_HELD after a change;
  // see sent_attrs) and its file type
  SentAttrs attrs_sent_{MAX_KNOWN};
  // inode numbers are never used twice (fs_inode is AUTOINCREMENT), so a type seen stays true:
  // listings then need no inode rows for the types they have
  bool types_stay_ = false;
  // directory -> its mtime, ctime and nlink when the kernel last got its listing from here
  std::unordered_map<uint64_t, std::string> listing_keys_;
  std::atomic<uint64_t> next_fh_{1};
};
