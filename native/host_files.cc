// See host_files.h. Each answer here is the one JavaScript gives for the same inode (overlay.ts
// getattr/open/read, handlers/files.ts keep_cache): the host file's lstat under the overlay's
// inode number, its content, the kernel's pages kept while mtime and size hold.
#include "host_files.h"

#include "dirents.h"
#include "reply_buffers.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <dirent.h>

#include <cmath>
#include <cstring>
#include <ctime>
#include <thread>
#include <vector>

#include "host_stat.h"  // host_names
#include "reader.h"     // NATIVE_FH

namespace {

// Far more inodes than any tree a run lists; past it JavaScript offers them again as it hands them out.
const size_t MAX_FILES = 1 << 20;
const uint64_t FD_BITS = 0xffffffffull;
// readdir-merge.ts BASE_COOKIE: a base entry's cookie is BASE_COOKIE + its index + 1, and the
// kernel's offset is the cookie + 2 (after '.' and '..': handlers/dirs.ts)
const uint64_t BASE_COOKIE = 1ull << 49;
// bigger directories are listed by JavaScript, which keeps the listing between pages
const size_t MAX_LISTED = 4096;

// A listing (or a lookup that registers what it finds) in flight, counted in listing_.
struct InFlight {
  std::atomic<int>& n;
  explicit InFlight(std::atomic<int>& c) : n(c) { n.fetch_add(1); }
  ~InFlight() { n.fetch_sub(1); }
};

}  // namespace

HostFiles::~HostFiles() {
  for (auto& [fd, opened] : open_) close(fd);
}

void HostFiles::add(uint64_t ino, std::string path, uint32_t type, uint64_t parent) {
  std::lock_guard<std::mutex> lock(mu_);
  add_locked(ino, std::move(path), type, parent);
}

void HostFiles::add_locked(uint64_t ino, std::string path, uint32_t type, uint64_t parent) {
  if (files_.size() >= MAX_FILES) files_.clear();
  auto& e = files_[ino];
  if (e.path != path) {  // another file now: its pages and listing were never held
    e.kept = Key{};
    e.listing = DirKey{};
  }
  e.path = std::move(path);
  e.type = type;
  e.parent = parent;
}

void HostFiles::forget(uint64_t ino, int64_t delta_dir) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(ino);
  // A host directory copied up lists as before (the copy keeps its names, numbers and mtime):
  // the kernel's listing of it stays good under the same key, now checked against the delta's row.
  // A settled listing's stamp names the host directory's ctime, which the delta's row does not
  // have: the copy keeps it for the age's period (dirs.ts carriedKey).
  if (delta_dir >= 0 && it != files_.end() && it->second.type == S_IFDIR && it->second.listing.epoch >= 0) {
    if (delta_dirs_.size() >= MAX_FILES) delta_dirs_.clear();
    DirKey carried = it->second.listing;
    if (carried.epoch >= LISTING_SETTLED_STAMP) carried.epoch = epoch_now();
    delta_dirs_[ino] = DeltaDir{(uint64_t)delta_dir, carried};
  } else {
    delta_dirs_.erase(ino);
  }
  if (it != files_.end()) files_.erase(it);
  drop_delta_locked(ino);
  forgets_++;
}

void HostFiles::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  files_.clear();
  deltas_.clear();
  shown_.clear();
  delta_dirs_.clear();
  forgets_++;
}

void HostFiles::drop_delta_dir_keys() {
  std::lock_guard<std::mutex> lock(mu_);
  delta_dirs_.clear();
}

bool HostFiles::delta_dir_of(uint64_t ino, uint64_t* delta_dir) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = delta_dirs_.find(ino);
  if (it == delta_dirs_.end()) return false;
  *delta_dir = it->second.delta;
  return true;
}

static double now_ms() {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return (double)now.tv_sec * 1000 + (double)(now.tv_nsec / 1000000);  // as Date.now()
}

int64_t HostFiles::epoch_now() const {
  // as dirs.ts: Math.floor(Date.now() / 1000 / maxAge)
  return (int64_t)std::floor(now_ms() / 1000 / cfg_.listing_max_age);
}

int64_t HostFiles::host_stamp(const struct stat& st) const {
  // as dirs.ts listingStamp
  double now = now_ms();
  double ctime = (double)st.st_ctim.tv_sec * 1000 + (double)(st.st_ctim.tv_nsec / 1000000);
  if (cfg_.settled_listings && now - ctime >= LISTING_SETTLED_MS) return (int64_t)(LISTING_SETTLED_STAMP + ctime);
  return (int64_t)std::floor(now / 1000 / cfg_.listing_max_age);
}

bool HostFiles::open_delta_dir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, int64_t sec, int64_t nsec) {
  if (!(cfg_.listing_max_age > 0) || std::isinf(cfg_.listing_max_age)) return false;
  int64_t epoch = epoch_now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = delta_dirs_.find(ino);
    if (it == delta_dirs_.end()) return false;
    const DirKey& k = it->second.listing;
    if (k.mtime != sec || k.mtime_ns != nsec || k.epoch != epoch) return false;
  }
  fi->fh = NATIVE_FH | HOST_FH;
  fi->cache_readdir = 1;
  fi->keep_cache = 1;
  served++;
  fuse_reply_open(req, fi);
  return true;
}

void HostFiles::drop_delta_locked(uint64_t ino) {
  auto it = deltas_.find(ino);
  if (it == deltas_.end()) return;
  auto [from, to] = shown_.equal_range(it->second);
  for (auto s = from; s != to; ++s)
    if (s->second == ino) {
      shown_.erase(s);
      break;
    }
  deltas_.erase(it);
}

void HostFiles::add_delta(uint64_t ino, uint64_t delta) {
  std::lock_guard<std::mutex> lock(mu_);
  if (deltas_.size() >= MAX_FILES) {
    deltas_.clear();
    shown_.clear();
  }
  files_.erase(ino);
  drop_delta_locked(ino);
  deltas_[ino] = delta;
  shown_.emplace(delta, ino);
}

void HostFiles::set_copy(uint64_t ino, bool on) {
  std::lock_guard<std::mutex> lock(mu_);
  if (on) copies_.insert(ino);
  else copies_.erase(ino);
  forgets_++;  // a listing in flight may have read such an entry before this: it checks again
}

bool HostFiles::delta_of(uint64_t ino, uint64_t* delta) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = deltas_.find(ino);
  if (it == deltas_.end()) return false;
  *delta = it->second;
  return true;
}

std::vector<uint64_t> HostFiles::shown_as(uint64_t delta) {
  std::vector<uint64_t> out;
  std::lock_guard<std::mutex> lock(mu_);
  auto [from, to] = shown_.equal_range(delta);
  for (auto s = from; s != to; ++s) out.push_back(s->second);
  return out;
}

void HostFiles::dir_key(uint64_t ino, int64_t mtime, int64_t mtime_ns, int64_t epoch, int64_t delta_dir) {
  std::lock_guard<std::mutex> lock(mu_);
  if (delta_dir >= 0) {
    if (delta_dirs_.size() >= MAX_FILES) delta_dirs_.clear();
    delta_dirs_[ino] = DeltaDir{(uint64_t)delta_dir, DirKey{mtime, mtime_ns, epoch}};
    return;
  }
  delta_dirs_.erase(ino);
  auto it = files_.find(ino);
  if (it != files_.end()) it->second.listing = DirKey{mtime, mtime_ns, epoch};
}

bool HostFiles::opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (!(cfg_.listing_max_age > 0) || std::isinf(cfg_.listing_max_age)) return false;
  std::string path;
  struct stat st;
  DirKey held;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(ino);
    if (it == files_.end() || it->second.type != S_IFDIR) return false;
    path = it->second.path;
    held = it->second.listing;
  }
  if (!lstat_same(path, ino, &st) || !S_ISDIR(st.st_mode)) {
    declined++;
    return false;
  }
  int64_t epoch = host_stamp(st);
  bool keep = held.mtime == (int64_t)st.st_mtim.tv_sec && held.mtime_ns == (int64_t)st.st_mtim.tv_nsec && held.epoch == epoch;
  if (!keep) {
    // The kernel fetches this listing (a first open, or the key moved): from readdir below for a
    // directory of up to MAX_LISTED names, so it is opened here too, under the new key (as dirs.ts
    // opendir keys it). A bigger one is JavaScript's to list, whose handle keeps the listing
    // between pages: the directory's size says which (ext4 and tmpfs: ~20-30 bytes a name).
    if (st.st_size > (off_t)(MAX_LISTED * 16)) return false;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(ino);
    if (it == files_.end() || it->second.path != path) return false;  // taken back meanwhile
    it->second.listing = DirKey{(int64_t)st.st_mtim.tv_sec, (int64_t)st.st_mtim.tv_nsec, epoch};
  }
  if (!keep && on_dir_key) on_dir_key(ino, (int64_t)st.st_mtim.tv_sec, (int64_t)st.st_mtim.tv_nsec, epoch);
  fi->fh = NATIVE_FH | HOST_FH;
  fi->cache_readdir = 1;
  fi->keep_cache = keep;
  served++;
  fuse_reply_open(req, fi);
  return true;
}

void HostFiles::set_listable(bool on) {
  listable_.store(on);
  if (!on)
    while (listing_.load() > 0) std::this_thread::yield();
}

void HostFiles::set_unlistable(uint64_t ino, const std::string& path) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // marked before (`rm -rf` marks a directory once a file): nothing of it is in flight here
    if ((!ino || unlistable_.count(ino)) && (path.empty() || unlistable_paths_.count(path))) return;
    // too many to keep: no host directory lists here any more
    if (unlistable_.size() + unlistable_paths_.size() >= MAX_FILES) unlistable_all_ = true;
    if (ino) unlistable_.insert(ino);
    if (!path.empty()) unlistable_paths_.insert(path);
    forgets_++;  // a lookup that read the directory's path before this declines
  }
  while (listing_.load() > 0) std::this_thread::yield();
}

bool HostFiles::unlistable_locked(uint64_t ino, const std::string& path) const {
  return unlistable_all_ || unlistable_.count(ino) || (!unlistable_paths_.empty() && unlistable_paths_.count(path));
}

bool HostFiles::readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus) {
  // counted before the flag is read (both sequentially consistent): set_listable(false) then
  // either sees this listing in flight and waits for it, or this listing sees the flag off
  InFlight in_flight(listing_);
  if (!listable_.load()) return false;
  std::string path;
  uint64_t parent = 0;
  uint64_t forgets = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(ino);
    if (it == files_.end() || it->second.type != S_IFDIR || !it->second.parent || unlistable_locked(ino, it->second.path)) return false;
    path = it->second.path;
    parent = it->second.parent;
    forgets = forgets_;
  }
  for (const auto& h : cfg_.hidden_dirs)
    if (h == path) return false;
  // where to start: '.', '..', then base entry (off - 2 - BASE_COOKIE); other offsets are not ours
  size_t first = 0;
  if (off > 2) {
    if ((uint64_t)off < BASE_COOKIE + 3) return false;
    first = (size_t)((uint64_t)off - 2 - BASE_COOKIE);
  }
  int dfd = open_beneath(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) {
    declined++;
    return false;
  }
  DIR* d = fdopendir(dfd);
  if (!d) {
    close(dfd);
    declined++;
    return false;
  }
  // the names BaseReader.list gives (the same host_names as hostListAt)
  std::vector<std::string> names;
  size_t unnamed = 0;
  if (!host_names(d, &names, &unnamed, MAX_LISTED)) {
    closedir(d);
    return false;
  }
  bool ok = true;
  thread_local std::vector<char> buf;
  buf.resize(size);
  size_t used = 0;
  struct stat st;
  memset(&st, 0, sizeof st);
  fuse_entry_param e;
  if (off < 1) {
    memset(&e, 0, sizeof e);
    e.attr.st_ino = ino;
    e.attr.st_mode = S_IFDIR;
    size_t need = plus ? fuse_add_direntry_plus(req, buf.data(), size, ".", &e, 1) : fuse_add_direntry(req, buf.data(), size, ".", &e.attr, 1);
    if (need > size) {
      closedir(d);
      return false;
    }
    used += need;
  }
  if (off < 2) {
    memset(&e, 0, sizeof e);
    e.attr.st_ino = parent;
    e.attr.st_mode = S_IFDIR;
    size_t need = plus ? fuse_add_direntry_plus(req, buf.data() + used, size - used, "..", &e, 2)
                       : fuse_add_direntry(req, buf.data() + used, size - used, "..", &e.attr, 2);
    if (need > size - used) {
      closedir(d);
      return false;
    }
    used += need;
  }
  struct Sent {
    uint64_t ino;
    uint32_t mode;
    size_t name;
  };
  std::vector<Sent> sent;
  std::vector<uint64_t> numbers;  // of every entry sent, checked against copies_ at the end
  for (size_t i = first; i < names.size(); i++) {
    if (fstatat(dirfd(d), names[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // gone since the listing: left out, as hostListAt does
      ok = false;
      break;
    }
    // A file with other names may show another name's copy-up (MergedLookup.adoptLinkedCopy):
    // JavaScript decides that. So does the root of a file system mounted here, whose number is
    // FUSE's root id (inodes.ts exposedBaseIno).
    // An entry of another file system (mounted inside the base) too: its number is JavaScript's
    // to give (inodes.ts BaseInos).
    if ((!S_ISDIR(st.st_mode) && st.st_nlink > 1) || st.st_ino == FUSE_ROOT_ID || cfg_.base_dev < 0 ||
        (int64_t)st.st_dev != cfg_.base_dev) {
      ok = false;
      break;
    }
    if (cfg_.uid >= 0) st.st_uid = (uid_t)cfg_.uid;
    if (cfg_.gid >= 0) st.st_gid = (gid_t)cfg_.gid;
    if (!st.st_blksize) st.st_blksize = 4096;
    off_t next = (off_t)(BASE_COOKIE + i + 3);
    size_t need;
    if (plus) {
      memset(&e, 0, sizeof e);
      e.ino = st.st_ino;
      e.attr = st;
      e.entry_timeout = cfg_.entry_timeout;
      e.attr_timeout = cfg_.attr_timeout;
      need = fuse_add_direntry_plus(req, buf.data() + used, size - used, names[i].c_str(), &e, next);
    } else {
      need = add_dirent(buf.data() + used, size - used, names[i].data(), names[i].size(), (uint64_t)st.st_ino, (uint32_t)st.st_mode, next);
    }
    if (need > size - used) break;
    used += need;
    if (plus) sent.push_back(Sent{(uint64_t)st.st_ino, (uint32_t)st.st_mode, i});
    numbers.push_back((uint64_t)st.st_ino);
  }
  closedir(d);
  if (!ok) {
    declined++;
    return false;
  }
  // What the kernel now holds nodes of: registered as host files, and told to JavaScript (queued
  // before the reply, so it knows the node before anything the kernel sends about it). JavaScript
  // runs beside this thread: had it taken anything back since the listing began (a copy-up of an
  // entry: `echo new > f` beside `ls -l`), registering the entry again would serve the host file
  // over the copy for good. Such a listing is left to JavaScript.
  std::vector<std::string> full;  // each sent entry's host path, made outside the lock
  full.reserve(sent.size());
  for (const Sent& s : sent) full.push_back(path + "/" + names[s.name]);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (forgets_ != forgets) {
      declined++;
      return false;
    }
    // A host file numbered as a copy in the delta: the host gave the copied file's number to
    // another file (JavaScript numbers that one anew), or it is the copy's (a link, a host move).
    if (!copies_.empty())
      for (uint64_t n : numbers)
        if (copies_.count(n)) {
          declined++;
          return false;
        }
    // an entry registered at another path: moved on the host (see lookup_present): JavaScript's
    for (size_t k = 0; k < sent.size(); k++) {
      auto known = files_.find(sent[k].ino);
      if (known != files_.end() && known->second.path != full[k]) {
        declined++;
        return false;
      }
    }
    for (size_t k = 0; k < sent.size(); k++)
      if (full[k].size() < HOST_PATH_MAX) add_locked(sent[k].ino, std::move(full[k]), sent[k].mode & S_IFMT, ino);
  }
  if (on_listed)
    for (const Sent& s : sent) on_listed(ino, s.ino, s.mode, names[s.name]);
  served++;
  listed_pages++;
  fuse_reply_buf(req, buf.data(), used);
  return true;
}

bool HostFiles::path_of(uint64_t ino, std::string* path, uint32_t* type, Key* kept) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(ino);
  if (it == files_.end()) return false;
  *path = it->second.path;
  if (type) *type = it->second.type;
  if (kept) *kept = it->second.kept;
  return true;
}

// O_NOFOLLOW guards the last name only: a directory on the way that the host swapped for a
// symlink (whoever owns the base can) would lead out of the base, to files only the server may
// read, which `--uid` then hands to that user. Opened beneath the base descriptor, no symlink
// followed (as BaseReader.isBeneath checks in JavaScript, which answers whatever fails here).
int HostFiles::open_beneath(const std::string& path, int flags) {
  const std::string& pre = cfg_.base_prefix;
  if (cfg_.base_fd < 0) return ::open(path.c_str(), flags);
  if (path.size() <= pre.size() + 1 || path.compare(0, pre.size(), pre) != 0 || path[pre.size()] != '/') {
    errno = EXDEV;
    return -1;
  }
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (uint64_t)flags;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return (int)syscall(SYS_openat2, cfg_.base_fd, path.c_str() + pre.size() + 1, &how, sizeof how);
}

// lstat of registered host file `ino` at its path, when that is the file itself: a directory on
// the way that the host swapped for a symlink leads a path walk to another file (outside the
// base: its attributes must not be shown), and so does a file the host put at the path. Both are
// JavaScript's (ESTALE, or the new file numbered as it numbers them). One lstat, where an
// openat2 beneath the base would cost ~2 us more (7,000 of these in run's first git status,
// each file's attributes asked for again after grep read it).
bool HostFiles::lstat_same(const std::string& path, fuse_ino_t ino, struct stat* st) {
  return lstat_path(path, st) == 0 && (uint64_t)st->st_ino == ino && (cfg_.base_dev < 0 || (int64_t)st->st_dev == cfg_.base_dev);
}

// lstat of a registered path, walked from the base descriptor when the path is beneath the base:
// the kernel then looks up only the names below it, not the base's own path from / again (run:
// three to five names fewer for each of a git status's 7,000 GETATTRs), nor /proc/self/fd's magic
// link (a mount of an overlay agent: ~2.6 against ~0.9 us a file here).
int HostFiles::lstat_path(const std::string& path, struct stat* st) {
  const std::string& pre = cfg_.base_prefix;
  if (cfg_.base_fd >= 0 && path.size() > pre.size() + 1 && path.compare(0, pre.size(), pre) == 0 && path[pre.size()] == '/')
    return fstatat(cfg_.base_fd, path.c_str() + pre.size() + 1, st, AT_SYMLINK_NOFOLLOW);
  return lstat(path.c_str(), st);
}

bool HostFiles::getattr(fuse_req_t req, fuse_ino_t ino) {
  std::string path;
  struct stat st;
  if (!path_of(ino, &path, nullptr, nullptr) || !lstat_same(path, ino, &st)) {
    declined++;
    return false;  // gone from the host (or not the same file): JavaScript says ESTALE
  }
  st.st_ino = ino;
  if (cfg_.uid >= 0) st.st_uid = (uid_t)cfg_.uid;
  if (cfg_.gid >= 0) st.st_gid = (gid_t)cfg_.gid;
  if (!st.st_blksize) st.st_blksize = 4096;
  served++;
  fuse_reply_attr(req, &st, cfg_.attr_timeout);
  return true;
}

bool HostFiles::lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) return false;
  std::string path;
  uint64_t forgets = 0;  // with the path: a take-back of parent after this is seen
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(parent);
    if (it == files_.end() || it->second.type != S_IFDIR || unlistable_locked(parent, it->second.path)) return false;
    path = it->second.path;
    forgets = forgets_;
  }
  const size_t dir_len = path.size();
  path += '/';
  path += name;
  struct stat st;
  if (path.size() >= HOST_PATH_MAX) return false;
  // the parent reached beneath the base through no symlink, as a listing reads it: one open for
  // both answers, never from a directory a symlink the host swapped in on the way leads to
  int dfd = open_beneath(path.substr(0, dir_len), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) return false;
  int rc = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW);
  int err = errno;
  close(dfd);
  if (rc == 0) return lookup_present(req, parent, path, dir_len, name, forgets, st);
  // an error of another kind: JavaScript
  if (err != ENOENT) return false;
  served++;
  if (cfg_.negative_timeout <= 0) {
    fuse_reply_err(req, ENOENT);
    return true;
  }
  {
    // beyond this many, the negative timeout rules (as for JavaScript's known names)
    std::lock_guard<std::mutex> lock(absent_mu_);
    if (absent_.size() < 100000 && absent_keys_.insert(std::to_string(parent) + '/' + name).second) absent_.emplace_back(parent, name);
  }
  fuse_entry_param e;
  memset(&e, 0, sizeof e);
  e.entry_timeout = cfg_.negative_timeout;
  fuse_reply_entry(req, &e);
  return true;
}

bool HostFiles::absent_beneath(const std::string& dir, const char* name) {
  if (dir.size() + 1 + strlen(name) >= HOST_PATH_MAX) return false;
  // through no symlink, as lookup: a directory the host swapped for one leads elsewhere
  int dfd = open_beneath(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) return errno == ENOENT;
  struct stat st;
  int rc = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW);
  int err = errno;
  close(dfd);
  return rc != 0 && err == ENOENT;
}

// A name the host directory has, answered as a listing of the directory holding only that name
// would: under the same conditions (the overlay lists host directories as they are, nothing
// hidden there, a number JavaScript would give the same way), registered here and told to
// JavaScript in a LISTED event before the reply. Anything else is JavaScript's.
bool HostFiles::lookup_present(fuse_req_t req, fuse_ino_t parent, const std::string& path, size_t dir_len, const char* name, uint64_t forgets,
                               struct stat st) {
  InFlight in_flight(listing_);  // before the flag: as readdir, for set_listable(false)
  if (!listable_.load()) return false;
  const std::string dir = path.substr(0, dir_len);
  for (const auto& h : cfg_.hidden_dirs)
    if (h == dir) return false;
  if ((!S_ISDIR(st.st_mode) && st.st_nlink > 1) || st.st_ino == FUSE_ROOT_ID || cfg_.base_dev < 0 ||
      (int64_t)st.st_dev != cfg_.base_dev) {
    declined++;
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (forgets_ != forgets || copies_.count((uint64_t)st.st_ino)) {
      declined++;
      return false;
    }
    // Registered at another path: the host moved it (or it is a directory's other name). What
    // was registered below it still names the old place until JavaScript, seeing the move, takes
    // it all back (MergedLookup.place), which a LISTED event would tell it only later (a file
    // under a moved directory then read the one the host put at the old path): JavaScript's.
    auto known = files_.find((uint64_t)st.st_ino);
    if (known != files_.end() && known->second.path != path) {
      declined++;
      return false;
    }
    add_locked((uint64_t)st.st_ino, path, st.st_mode & S_IFMT, parent);
  }
  if (on_listed) on_listed(parent, (uint64_t)st.st_ino, (uint32_t)st.st_mode, name);
  if (cfg_.uid >= 0) st.st_uid = (uid_t)cfg_.uid;
  if (cfg_.gid >= 0) st.st_gid = (gid_t)cfg_.gid;
  if (!st.st_blksize) st.st_blksize = 4096;
  fuse_entry_param e;
  memset(&e, 0, sizeof e);
  e.ino = st.st_ino;
  e.attr = st;
  e.entry_timeout = cfg_.entry_timeout;
  e.attr_timeout = cfg_.attr_timeout;
  served++;
  fuse_reply_entry(req, &e);
  return true;
}

void HostFiles::take_absent(std::vector<std::pair<uint64_t, std::string>>* names) {
  std::lock_guard<std::mutex> lock(absent_mu_);
  names->swap(absent_);
  absent_.clear();
  absent_keys_.clear();
}

bool HostFiles::open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  // read-only and through the page cache only (O_APPEND and O_DIRECT get direct_io: files.ts)
  if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & (O_TRUNC | O_APPEND | O_DIRECT))) return false;
  std::string path;
  uint32_t type = 0;
  Key kept;
  if (!path_of(ino, &path, &type, &kept) || type != S_IFREG) return false;
  // never follows a symlink; O_NONBLOCK: a FIFO put there since opens at once (and is refused)
  int fd = open_beneath(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    declined++;
    return false;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    declined++;
    return false;
  }
  Key now{(int64_t)st.st_mtim.tv_sec, (int64_t)st.st_mtim.tv_nsec, (int64_t)st.st_size, (int64_t)st.st_ctim.tv_sec,
          (int64_t)st.st_ctim.tv_nsec};
  {
    std::lock_guard<std::mutex> lock(mu_);
    open_[fd] = Opened{path, now};
  }
  fi->fh = NATIVE_FH | HOST_FH | ((uint64_t)fd & FD_BITS);
  fi->keep_cache = kept == now;
  // Changed on the host since the kernel held its pages: the size it caches (attr_timeout, 60 s
  // on a watched mount) is as old as they are, and would cut the new content short or pad it
  // with zeros. Attributes only (off -1): no page is locked, safe from the handler.
  if (kept.known() && !fi->keep_cache && on_stale_attrs) on_stale_attrs(ino);
  fi->direct_io = 0;
  if (on_open) on_open(ino, fi->flags);
  served++;
  if (fuse_reply_open(req, fi) != 0) {
    // the opener is gone (interrupted): the kernel sends no RELEASE for it, and JavaScript,
    // which counted the open, must count its end too (else the file stays open to it for good)
    release(ino, fi);  // queues its RELEASED (on_release)
  }
  return true;
}

bool HostFiles::read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  // Copied up since it was opened: JavaScript reads the copy (what every other handle sees).
  std::string path;
  if (!path_of(ino, &path, nullptr, nullptr)) return false;
  int fd = (int)(fi->fh & FD_BITS);
  reply_buffers::Lease buf(size);  // pooled: fresh memory costs more than the read
  size_t done = 0;
  while (done < size) {
    ssize_t n = pread(fd, buf.data() + done, size - done, off + (off_t)done);
    if (n < 0) {
      if (errno == EINTR) continue;
      declined++;
      return false;  // JavaScript reads it by its path and reports what goes wrong
    }
    bool short_read = (size_t)n < size - done;  // a regular file's end: no second call to learn it
    done += (size_t)n;
    if (short_read) break;
  }
  served++;
  fuse_reply_buf(req, buf.data(), done);
  return true;
}

void HostFiles::release(fuse_ino_t ino, fuse_file_info* fi) {
  close_handle(ino, fi);
  if (on_release) on_release(ino);
}

void HostFiles::close_handle(fuse_ino_t ino, fuse_file_info* fi) {
  int fd = (int)(fi->fh & FD_BITS);
  std::lock_guard<std::mutex> lock(mu_);
  auto o = open_.find(fd);
  if (o == open_.end()) return;  // not ours (never happens: the bit says it is)
  // A read-only handle wrote nothing: the kernel's pages are those of the file as it was opened.
  auto it = files_.find(ino);
  if (it != files_.end() && it->second.path == o->second.path) it->second.kept = o->second.key;
  open_.erase(o);
  close(fd);
}
