// See host_files.h. Each answer here is the one JavaScript gives for the same inode (overlay.ts
// getattr/open/read, handlers/files.ts keep_cache): the host file's lstat under the overlay's
// inode number, its content, the kernel's pages kept while mtime and size hold.
#include "host_files.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "reader.h"  // NATIVE_FH

namespace {

// Far more inodes than any tree a run lists; past it JavaScript offers them again as it hands them out.
const size_t MAX_FILES = 1 << 20;
const uint64_t FD_BITS = 0xffffffffull;

}  // namespace

HostFiles::~HostFiles() {
  for (auto& [fd, opened] : open_) close(fd);
}

void HostFiles::add(uint64_t ino, std::string path, uint32_t type) {
  std::lock_guard<std::mutex> lock(mu_);
  if (files_.size() >= MAX_FILES) files_.clear();
  auto& e = files_[ino];
  if (e.path != path) e.kept = Key{};  // another file now: its pages were never held
  e.path = std::move(path);
  e.type = type;
}

void HostFiles::forget(uint64_t ino) {
  std::lock_guard<std::mutex> lock(mu_);
  files_.erase(ino);
}

void HostFiles::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  files_.clear();
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
int HostFiles::open_beneath(const std::string& path) {
  const int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
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

bool HostFiles::getattr(fuse_req_t req, fuse_ino_t ino) {
  std::string path;
  struct stat st;
  if (!path_of(ino, &path, nullptr, nullptr) || lstat(path.c_str(), &st) != 0) {
    declined++;
    return false;  // gone from the host: JavaScript says ESTALE
  }
  st.st_ino = ino;
  if (cfg_.uid >= 0) st.st_uid = (uid_t)cfg_.uid;
  if (cfg_.gid >= 0) st.st_gid = (gid_t)cfg_.gid;
  if (!st.st_blksize) st.st_blksize = 4096;
  served++;
  fuse_reply_attr(req, &st, cfg_.attr_timeout);
  return true;
}

bool HostFiles::open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  // read-only and through the page cache only (O_APPEND and O_DIRECT get direct_io: files.ts)
  if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & (O_TRUNC | O_APPEND | O_DIRECT))) return false;
  std::string path;
  uint32_t type = 0;
  Key kept;
  if (!path_of(ino, &path, &type, &kept) || type != S_IFREG) return false;
  // never follows a symlink; O_NONBLOCK: a FIFO put there since opens at once (and is refused)
  int fd = open_beneath(path);
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
    release(ino, fi);
    if (on_lost) on_lost(ino);
  }
  return true;
}

bool HostFiles::read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  // Copied up since it was opened: JavaScript reads the copy (what every other handle sees).
  std::string path;
  if (!path_of(ino, &path, nullptr, nullptr)) return false;
  int fd = (int)(fi->fh & FD_BITS);
  thread_local std::vector<char> buf;
  if (buf.size() < size) buf.resize(size);
  size_t done = 0;
  while (done < size) {
    ssize_t n = pread(fd, buf.data() + done, size - done, off + (off_t)done);
    if (n < 0) {
      if (errno == EINTR) continue;
      declined++;
      return false;  // JavaScript reads it by its path and reports what goes wrong
    }
    if (n == 0) break;
    done += (size_t)n;
  }
  served++;
  fuse_reply_buf(req, buf.data(), done);
  return true;
}

void HostFiles::release(fuse_ino_t ino, fuse_file_info* fi) {
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
