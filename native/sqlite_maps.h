// How the kernel reads ahead for the maps the addon's SQLite makes of a database (the readers set
// PRAGMA mmap_size): a page first touched through a map is read with the pages around it, as much
// as the disk's read-ahead setting (8 MiB on the VM this was measured on). That suits a file's
// data read in order, but a lookup's few B-tree pages each cost a read of that size: the first
// stat after the page cache was dropped read 77 MiB of a 150 MiB database in 33-50 ms, where
// MADV_RANDOM reads each page alone (0.06-0.13 ms a page instead of 4-6 ms).
#pragma once

#include <sqlite3.h>

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
