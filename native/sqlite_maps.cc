// See sqlite_maps.h. SQLite's unix VFS maps a database with its "mmap" system call and grows the
// map with "mremap" (xSetSystemCall replaces both); munmap needs nothing.
#include "sqlite_maps.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>

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

// the first line of a small sysfs file ("" when it cannot be read)
std::string first_line(const std::string& path) {
  FILE* f = fopen(path.c_str(), "re");
  if (!f) return "";
  char buf[256] = {0};
  if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
  fclose(f);
  return buf;
}

}  // namespace

bool huge_maps_pay(const char* path) {
  if (first_line("/sys/kernel/mm/transparent_hugepage/enabled").find("[never]") != std::string::npos) return false;
  struct stat st;
  if (stat(path, &st) != 0) return false;
  // the disk's queue: a partition's is its parent's (no /sys/dev/block entry: no block device)
  std::string dev = "/sys/dev/block/" + std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
  std::string kb = first_line(dev + "/queue/read_ahead_kb");
  if (kb.empty() && access((dev + "/partition").c_str(), F_OK) == 0) kb = first_line(dev + "/../queue/read_ahead_kb");
  return !kb.empty() && atol(kb.c_str()) >= 4096;
}

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
