// See sqlite_maps.h. SQLite's unix VFS maps a database with its "mmap" system call and grows the
// map with "mremap" (xSetSystemCall replaces both); munmap needs nothing.
#include "sqlite_maps.h"

#include <sys/mman.h>

#include <cstddef>

namespace {

thread_local int t_advice = -1;

using mmap_fn = void* (*)(void*, size_t, int, int, int, off_t);
using mremap_fn = void* (*)(void*, size_t, size_t, int, ...);
mmap_fn real_mmap = nullptr;
mremap_fn real_mremap = nullptr;

void advise(void* p, size_t len) {
  // advice is a hint: a map the kernel will not advise is read as before
  if (p != MAP_FAILED && t_advice >= 0) madvise(p, len, t_advice);
}

void* advised_mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  void* p = real_mmap(addr, len, prot, flags, fd, off);
  advise(p, len);
  return p;
}

// SQLite moves a map it grows (MREMAP_MAYMOVE, never MREMAP_FIXED: no fifth argument)
void* advised_mremap(void* old, size_t old_len, size_t len, int flags, ...) {
  void* p = real_mremap(old, old_len, len, flags);
  advise(p, len);
  return p;
}

}  // namespace

bool install_map_advice(sqlite3_vfs* vfs) {
  if (!vfs || vfs->iVersion < 3 || !vfs->xGetSystemCall || !vfs->xSetSystemCall) return false;
  real_mmap = reinterpret_cast<mmap_fn>(vfs->xGetSystemCall(vfs, "mmap"));
  real_mremap = reinterpret_cast<mremap_fn>(vfs->xGetSystemCall(vfs, "mremap"));
  if (!real_mmap) return false;
  bool ok = vfs->xSetSystemCall(vfs, "mmap", reinterpret_cast<sqlite3_syscall_ptr>(advised_mmap)) == SQLITE_OK;
  if (ok && real_mremap) vfs->xSetSystemCall(vfs, "mremap", reinterpret_cast<sqlite3_syscall_ptr>(advised_mremap));
  return ok;
}

MapAdvice::MapAdvice(int advice) : before_(t_advice) { t_advice = advice; }
MapAdvice::~MapAdvice() { t_advice = before_; }
