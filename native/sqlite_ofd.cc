// This addon links its own SQLite, while JavaScript's connections live in libsql's copy in the
// same process. POSIX record locks belong to the process, so the two copies would not see each
// other's locks (a checkpoint could then overwrite WAL frames a reader is reading), and closing
// any descriptor of the file in one copy would drop the other's locks. This copy therefore takes
// open-file-description locks (F_OFD_*) instead: they conflict with the process's own POSIX locks
// and with other processes', and close() elsewhere leaves them be. The other way round, this
// copy's close() of a database file would drop libsql's locks: it goes through sqlite_ofd_close.
#include "sqlite_ofd.h"
#include "sqlite_maps.h"
#include "sqlite_page_pool.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace {

// fcntl for this copy of SQLite: record locks become open-file-description locks.
int ofd_fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  int ofd = cmd == F_SETLK ? F_OFD_SETLK : cmd == F_SETLKW ? F_OFD_SETLKW : cmd == F_GETLK ? F_OFD_GETLK : 0;
  if (!ofd) return fcntl(fd, cmd, arg);
  struct flock fl;
  memcpy(&fl, arg, sizeof fl);
  fl.l_pid = 0;  // required by the OFD commands
  int res = fcntl(fd, ofd, &fl);
  memcpy(arg, &fl, sizeof fl);
  return res;
}

std::once_flag g_once;
bool g_ok = false;

// Descriptors kept open by sqlite_ofd_close (never closed: see there).
std::mutex g_kept_mu;
std::vector<int> g_kept;

// Whether closing fd could drop locks libsql's connections hold: true for a regular file that
// still has a name, unless it is a WAL or a rollback journal (nothing locks those, and a kept WAL
// would keep a deleted one's space): named so, and not a database (a database's own name may end
// so, through a symlink). In doubt, true.
bool may_hold_locks(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (st.st_nlink == 0) return false;  // a temporary file, unlinked at its open
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char path[4096];
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return true;
  std::string name(path, (size_t)n);
  auto ends = [&name](const char* tail) {
    size_t len = strlen(tail);
    return name.size() >= len && name.compare(name.size() - len, len, tail) == 0;
  };
  if (!ends("-wal") && !ends("-journal")) return true;
  static const char kDatabase[16] = {'S', 'Q', 'L', 'i', 't', 'e', ' ', 'f', 'o', 'r', 'm', 'a', 't', ' ', '3', '\0'};
  char head[16];
  return pread(fd, head, sizeof head, 0) == (ssize_t)sizeof head && memcmp(head, kDatabase, sizeof head) == 0;
}

// Closes the kept descriptors of files unlinked since (caller holds g_kept_mu). No one can open
// such a file again, so none of them would ever serve again: the -shm of a database whose last
// connection closed (it is deleted then, and the next open makes a new one), kept by each SDK
// agent's checkpoint thread, piled up one or two per open and close until opens failed (EMFILE).
// Only connections of the unlinked file itself lose locks by this, and those are gone.
void prune_unlinked() {
  for (size_t i = 0; i < g_kept.size();) {
    struct stat st;
    if (fstat(g_kept[i], &st) == 0 && st.st_nlink == 0) {
      close(g_kept[i]);
      g_kept.erase(g_kept.begin() + (long)i);
    } else {
      i++;
    }
  }
}

}  // namespace

int sqlite_ofd_close(int fd) {
  if (fd < 0 || !may_hold_locks(fd)) return close(fd);
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_UNLCK;
  fl.l_whence = SEEK_SET;  // start 0, length 0: the whole file
  fcntl(fd, F_OFD_SETLK, &fl);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  std::lock_guard<std::mutex> lock(g_kept_mu);
  prune_unlinked();
  g_kept.push_back(fd);
  return 0;
}

int sqlite_ofd_open(const char* path, int flags, int mode) {
  // a kept descriptor of the same file, opened for the same access, serves again: the kept ones
  // stay as many as the connections open at once, however many come and go
  struct stat st;
  if (!(flags & (O_EXCL | O_TRUNC)) && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
    std::lock_guard<std::mutex> lock(g_kept_mu);
    prune_unlinked();
    for (size_t i = 0; i < g_kept.size(); i++) {
      int fd = g_kept[i];
      struct stat kst;
      int fl = fcntl(fd, F_GETFL);
      if (fl < 0 || (fl & O_ACCMODE) != (flags & O_ACCMODE) || fstat(fd, &kst) != 0) continue;
      if (kst.st_dev != st.st_dev || kst.st_ino != st.st_ino) continue;
      g_kept.erase(g_kept.begin() + (long)i);
      if (!(flags & O_CLOEXEC)) fcntl(fd, F_SETFD, 0);
      return fd;
    }
  }
  return open(path, flags, mode);
}

bool sqlite_ofd_locks() {
  std::call_once(g_once, [] {
    sqlite_page_pool();  // configures SQLite, so before anything initializes it (vfs_find does)
    sqlite3_vfs* vfs = sqlite3_vfs_find("unix");
    g_ok = vfs && vfs->iVersion >= 3 && vfs->xSetSystemCall &&
           vfs->xSetSystemCall(vfs, "fcntl", (sqlite3_syscall_ptr)ofd_fcntl) == SQLITE_OK &&
           vfs->xSetSystemCall(vfs, "close", (sqlite3_syscall_ptr)sqlite_ofd_close) == SQLITE_OK &&
           vfs->xSetSystemCall(vfs, "open", (sqlite3_syscall_ptr)sqlite_ofd_open) == SQLITE_OK;
    // before any connection too (sqlite_maps.h); without it the maps are read as before
    if (g_ok) install_map_advice(vfs);
  });
  return g_ok;
}
