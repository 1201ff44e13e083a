// This addon links its own SQLite, while JavaScript's connections live in libsql's copy in the
// same process. POSIX record locks belong to the process, so the two copies would not see each
// other's locks (a checkpoint could then overwrite WAL frames a reader is reading), and closing
// any descriptor of the file in one copy would drop the other's locks. This copy therefore takes
// open-file-description locks (F_OFD_*) instead: they conflict with the process's own POSIX locks
// and with other processes', and close() elsewhere leaves them be.
#include "sqlite_ofd.h"
#include "sqlite_maps.h"
#include "sqlite_page_pool.h"

#include <fcntl.h>
#include <sqlite3.h>

#include <cstdarg>
#include <cstring>
#include <mutex>

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

}  // namespace

bool sqlite_ofd_locks() {
  std::call_once(g_once, [] {
    sqlite_page_pool();  // configures SQLite, so before anything initializes it (vfs_find does)
    sqlite3_vfs* vfs = sqlite3_vfs_find("unix");
    g_ok = vfs && vfs->iVersion >= 3 && vfs->xSetSystemCall &&
           vfs->xSetSystemCall(vfs, "fcntl", (sqlite3_syscall_ptr)ofd_fcntl) == SQLITE_OK;
    // before any connection too (sqlite_maps.h); without it the maps are read as before
    if (g_ok) install_map_advice(vfs);
  });
  return g_ok;
}
