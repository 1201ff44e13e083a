// How the kernel reads ahead for the maps the addon's SQLite makes of a database (the readers set
// PRAGMA mmap_size): a page first touched through a map is read with the pages around it, as much
// as the disk's read-ahead setting (8 MiB on the VM this was measured on). That suits a file's
// data read in order, but a lookup's few B-tree pages each cost a read of that size: the first
// stat after the page cache was dropped read 77 MiB of a 150 MiB database in 33-50 ms, where
// MADV_RANDOM reads each page alone (0.06-0.13 ms a page instead of 4-6 ms).
#pragma once

#include <sqlite3.h>

// Whether the readers' data maps of the database at path should be advised MADV_HUGEPAGE: a cold
// fault in such a map reads 2 MiB folios (two, in order), which the kernel maps whole, where a
// map of small pages is entered and first touched a page at a time (~1.2 us a page on the VM
// measured: 45% of the server's time in a cold 64 MiB read). Only when that reads no more than
// the plain map would: transparent huge pages not turned off, and the database's disk reading
// at least 4 MiB around a fault already (its read_ahead_kb; 128 on most disks, 8192 on the VM
// measured). Elsewhere (no block device, a small read-ahead) a scattered READ would read 32x more.
bool huge_maps_pay(const char* path);

// Makes the unix VFS's map calls take the advice of the thread that makes them (MapAdvice);
// installed once, before any connection (sqlite_ofd_locks). False when this SQLite cannot.
bool install_map_advice(sqlite3_vfs* vfs);

// While alive, the maps SQLite makes or grows on this thread are advised `advice` (madvise);
// -1: none (the kernel's default read-around).
class MapAdvice {
 public:
  explicit MapAdvice(int advice);
  ~MapAdvice();
  MapAdvice(const MapAdvice&) = delete;
  MapAdvice& operator=(const MapAdvice&) = delete;

 private:
  int before_;
};
