// A reader's page cache is emptied whenever the database changed since its last read transaction
// (SQLite resets the pager on any change in the WAL), and its pages then went back to malloc.
// glibc returns the top of a thread's arena to the kernel once more than 128 KiB are free there,
// so the next transaction's pages came from memory never touched since: a page fault each, ~10
// us on the VM measured, as much as the read of the WAL frame into it. A listing of 5,000 fresh
// entries read ~30 pages so (~300 us of 3 ms). Slots of a pool SQLite keeps instead stay mapped,
// and a reset only returns them to the pool's free list; past the pool, pages are malloc'd.
#include "sqlite_page_pool.h"

#include <sqlite3.h>

#include <cstdlib>

namespace {
// Slots of the common 4096-byte page: 1,024 (4.3 MiB resident), two connections' default cache
// of 2,000 KiB each, enough for a burst of requests served on a few threads at once. A database
// of larger pages gets them from malloc.
constexpr int PAGE = 4096;
constexpr int SLOTS = 1024;
}  // namespace

bool sqlite_page_pool() {
  int header = 0;
  if (sqlite3_config(SQLITE_CONFIG_PCACHE_HDRSZ, &header) != SQLITE_OK || header <= 0) return false;
  int slot = (PAGE + header + 7) & ~7;
  // kept for the life of the process, as SQLite requires of it
  void* pool = aligned_alloc(8, (size_t)slot * SLOTS);
  if (!pool) return false;
  if (sqlite3_config(SQLITE_CONFIG_PAGECACHE, pool, slot, SLOTS) != SQLITE_OK) {
    free(pool);
    return false;
  }
  return true;
}
