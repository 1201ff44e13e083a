// Overlay files that are exactly a host file (nothing of them in the delta): their GETATTR,
// read-only OPEN, READ and RELEASE are answered here, on the FUSE worker threads, from the host
// file itself, without the trip to JavaScript. JavaScript registers each such inode with its host
// path when it hands it to the kernel (add), and drops it before it changes what the inode is
// (a copy-up, a move, a directory renamed above it: forget/clear). Anything else, or anything
// that fails here, goes to JavaScript as before, which answers it the same way.
#pragma once

#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

// Handles opened here carry this bit beside NATIVE_FH (reader.h), and the host descriptor in
// their low 32 bits.
const uint64_t HOST_FH = 1ull << 61;

// Host paths from this long on are left to JavaScript (core/host-path.ts HOST_PATH_LIMIT).
const size_t HOST_PATH_MAX = 4000;

// A host directory's listing is keyed by its mtime and a stamp (handlers/dirs.ts listingStamp).
// On a file system that keeps ctimes (HostFilesConfig::settled_listings), any change to its
// entries moves its ctime to the time of the change, and nothing sets a ctime back: a listing
// made once the ctime is LISTING_SETTLED_MS old holds while the ctime does, whatever the age
// (stamp LISTING_SETTLED_STAMP + ctime in ms, above every period's number and exact in a double).
// One made sooner, when a change in the same timestamp tick could still leave the times as they
// were, or on another file system, holds for the age's period only (stamp: the period's number),
// as every listing did before: each period's end then dropped every listing the kernel held.
const int64_t LISTING_SETTLED_MS = 3000;
const int64_t LISTING_SETTLED_STAMP = 1ll << 52;

struct HostFilesConfig {
  double attr_timeout = 1;
  // seconds the kernel may keep an unchanged directory's listing (the overlay's finite age; 0:
  // OPENDIR stays in JavaScript)
  double listing_max_age = 0;
  double entry_timeout = 1;
  // seconds the kernel may keep "no such name" (0: a missing name is answered ENOENT, uncached)
  double negative_timeout = 0;
  // host directories holding an entry the overlay hides: never listed here
  std::vector<std::string> hidden_dirs;
  // ownership reported instead of the host's (`--uid/--gid`); -1: the host's
  int64_t uid = -1, gid = -1;
  // The base directory: registered paths start with `base_prefix` and are opened beneath
  // `base_fd` through no symlink (openat2); -1: opened by their path.
  int base_fd = -1;
  std::string base_prefix;
  // The base root's device: an entry of a file system mounted inside the base numbers its inode
  // on its own, so JavaScript numbers it (inodes.ts BaseInos) and lists its directory; -1: unknown,
  // every listing stays in JavaScript.
  int64_t base_dev = -1;
  // The base's file system moves a directory's ctime at every change (core/overlay/base.ts
  // CTIME_KEEPING): a settled directory's listing may then be kept past the age (host_stamp).
  bool settled_listings = false;
};

class HostFiles {
 public:
  explicit HostFiles(const HostFilesConfig& cfg) : cfg_(cfg) {}
  ~HostFiles();

  // From the JS thread. type: the S_IFMT bits JavaScript saw (only regular files are opened here);
  // parent: the directory it was handed out in (a directory's '..'), 0 when unknown.
  void add(uint64_t ino, std::string path, uint32_t type, uint64_t parent);
  // delta_dir: ino is now the delta's directory delta_dir (a copy-up): the listing key of its
  // host directory holds for it while the delta row keeps that mtime (see open_delta_dir).
  void forget(uint64_t ino, int64_t delta_dir = -1);
  void clear();
  // From the JS thread: overlay inode ino is a regular file living in the delta as delta inode
  // `delta` (its attributes are exactly that row's, under ino); forget/clear drop it too.
  void add_delta(uint64_t ino, uint64_t delta);
  // From the JS thread: ino is (on) or no longer is the number of a file living in the delta that
  // shows a host file's inode number (a copy-up). A listing holding a host entry of that inode
  // number is left to JavaScript: the entry may be another file the host gave the number since
  // the copied one was removed (JavaScript tells them apart), or a link of the copy.
  void set_copy(uint64_t ino, bool on);
  // The delta inode of ino, if it was added as one.
  bool delta_of(uint64_t ino, uint64_t* delta);
  // The overlay inodes added as delta inode `delta`.
  std::vector<uint64_t> shown_as(uint64_t delta);
  // JavaScript let the kernel keep (or fetch) directory ino's listing under this key (dirs.ts
  // opendir): an OPENDIR here keeps it while the key still holds, else leaves it to JavaScript.
  // delta_dir >= 0: ino is the delta's directory delta_dir (merged with its host directory or
  // made in the session), whose key is that row's mtime and the period.
  void dir_key(uint64_t ino, int64_t mtime, int64_t mtime_ns, int64_t epoch, int64_t delta_dir = -1);
  // Another process changed the delta: the delta directories' keys go (JavaScript clears its own).
  void drop_delta_dir_keys();
  // The delta directory ino lives as, if JavaScript keyed its listing.
  bool delta_dir_of(uint64_t ino, uint64_t* delta_dir);
  // OPENDIR of a delta directory whose row (read by the caller) has mtime sec.nsec: answered
  // here, the kernel keeping its listing, when that and the clock's period are the key JavaScript
  // last gave the kernel's listing; any other key is JavaScript's to answer (it lists merged
  // directories).
  bool open_delta_dir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, int64_t sec, int64_t nsec);
  // Whether a host directory of the overlay lists exactly as the host directory does (the
  // overlay has no whiteouts): set by JavaScript as that changes. Turned off, it returns once
  // the listings in flight are done (their LISTED events queued).
  void set_listable(bool on);
  // Directory ino, showing host directory `path` ('' if none), lists as its host directory no
  // more (a name in it hidden by the overlay: a whiteout), for good: its listings and the lookups
  // of names in it are JavaScript's, and so are those of any directory registered at that path
  // (the host may put another directory there: the whiteout is the path's). Returns once the
  // listings and lookups in flight are done, as set_listable(false) does.
  void set_unlistable(uint64_t ino, const std::string& path);

  // On the FUSE loop's thread (and replyDir's adds on the JS thread); false: not answered,
  // JavaScript will.
  bool getattr(fuse_req_t req, fuse_ino_t ino);
  // LOOKUP in the host directory `parent` (exactly its host directory: nothing of it in the
  // delta, so no delta entry in it either). A name it does not have: "no such name". One it has,
  // where a listing of parent would be answered here: the host entry, registered and reported
  // (on_listed) as a listing's. Other names go to JavaScript, which numbers and registers what
  // it hands out.
  bool lookup(fuse_req_t req, fuse_ino_t parent, const char* name);
  // Whether the base has no entry `name` in host directory `dir` (a path beneath the base): the
  // directory is missing, or the name in it. Anything else (an entry, another error) is false.
  bool absent_beneath(const std::string& dir, const char* name);
  // The names lookup told the kernel to remember as absent, taken (and forgotten here):
  // another process changed the database, and they may exist now (fuse_session InvalidateServed).
  void take_absent(std::vector<std::pair<uint64_t, std::string>>* names);
  bool open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  bool opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
  // READDIR/READDIRPLUS of a host directory, with the offsets JavaScript's listing gives
  // (readdir-merge.ts BASE_COOKIE); each entry sent with attributes is registered here and
  // reported (on_listed) so that JavaScript knows the node.
  bool readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus);
  bool read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi);
  // A handle opened here: closes its descriptor, remembers what the kernel's pages now hold.
  void release(fuse_ino_t ino, fuse_file_info* fi);

  // An open answered here: JavaScript counts it (queued before the reply; see Reader::on_open),
  // and its release (or the open's failed reply).
  std::function<void(uint64_t ino, int flags)> on_open;
  std::function<void(uint64_t ino)> on_release;
  std::function<void(uint64_t dir, uint64_t ino, uint32_t mode, const std::string& name)> on_listed;
  // An opendir answered here under a new listing key (the kernel fetches the listing and caches
  // it): JavaScript notes the key as its own opendir would, so that its later opens of the
  // directory (once it holds copies: a merged listing) keep the kernel's cache while it holds.
  std::function<void(uint64_t ino, int64_t sec, int64_t nsec, int64_t epoch)> on_dir_key;
  // The kernel's attributes of ino describe an older file: it must ask again (notify_inval_inode).
  std::function<void(uint64_t ino)> on_stale_attrs;

  std::atomic<uint64_t> served{0}, declined{0};
  std::atomic<uint64_t> listed_pages{0};  // of served: listing pages (readdir), each one the kernel fetched

 private:
  // What the kernel's page cache of a file depends on: mtime and size (files.ts cacheKey), and
  // the ctime, which a host rewrite moves even when it keeps the size and puts the mtime back
  // (touch -d, cp -p, rsync): the only one a user cannot set.
  struct Key {
    int64_t mtime = -1, mtime_ns = -1, size = -1, ctime = -1, ctime_ns = -1;
    bool known() const { return size >= 0; }
    bool operator==(const Key& o) const {
      return mtime == o.mtime && mtime_ns == o.mtime_ns && size == o.size && ctime == o.ctime && ctime_ns == o.ctime_ns;
    }
  };
  // A directory listing's key (dirs.ts opendir, finite age): mtime and the age period.
  struct DirKey {
    int64_t mtime = -1, mtime_ns = -1, epoch = -1;
  };
  struct Entry {
    std::string path;
    uint32_t type = 0;
    uint64_t parent = 0;
    Key kept;
    DirKey listing;  // key of the pages the kernel held at the last release of a handle opened here
  };
  bool path_of(uint64_t ino, std::string* path, uint32_t* type, Key* kept);
  void add_locked(uint64_t ino, std::string path, uint32_t type, uint64_t parent);  // mu_ held
  // forgets: forgets_ when parent's path was read; st: the name's lstat, beneath the base
  bool lookup_present(fuse_req_t req, fuse_ino_t parent, const std::string& path, size_t dir_len, const char* name, uint64_t forgets,
                      struct stat st);
  void close_handle(fuse_ino_t ino, fuse_file_info* fi);
  int open_beneath(const std::string& path, int flags);
  bool lstat_same(const std::string& path, fuse_ino_t ino, struct stat* st);
  int lstat_path(const std::string& path, struct stat* st);

  HostFilesConfig cfg_;
  std::atomic<bool> listable_{false};
  std::atomic<int> listing_{0};  // listings in flight
  std::mutex mu_;
  // bumped (under mu_) by every take-back: a listing whose entries were taken back while it read
  // the host (JavaScript copied one up meanwhile) must not register them again
  uint64_t forgets_ = 0;
  std::unordered_map<uint64_t, Entry> files_;
  std::unordered_map<uint64_t, uint64_t> deltas_;  // add_delta
  std::unordered_multimap<uint64_t, uint64_t> shown_;  // deltas_ the other way (delta -> ino)
  void drop_delta_locked(uint64_t ino);
  std::unordered_set<uint64_t> copies_;            // set_copy
  std::unordered_set<uint64_t> unlistable_;        // set_unlistable
  std::unordered_set<std::string> unlistable_paths_;
  bool unlistable_locked(uint64_t ino, const std::string& path) const;  // mu_ held
  bool unlistable_all_ = false;                    // set_unlistable met MAX_FILES of them
  struct DeltaDir {
    uint64_t delta = 0;
    DirKey listing;
  };
  std::unordered_map<uint64_t, DeltaDir> delta_dirs_;  // dir_key's delta directories
  int64_t epoch_now() const;
  // The listing stamp of a host directory as lstat shows it now (dirs.ts listingStamp): settled
  // (SETTLED_STAMP + its ctime in ms) or the age's period.
  int64_t host_stamp(const struct stat& st) const;
  std::mutex absent_mu_;
  std::vector<std::pair<uint64_t, std::string>> absent_;  // lookup's negative entries
  std::unordered_set<std::string> absent_keys_;           // parent + '/' + name of those
  // descriptor -> the path and key it was opened with
  struct Opened {
    std::string path;
    Key key;
  };
  std::unordered_map<int, Opened> open_;
};
