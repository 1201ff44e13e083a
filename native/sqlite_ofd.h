// The addon's copy of SQLite takes open-file-description locks (see sqlite_ofd.cc). Every
// connection the addon opens must be opened after sqlite_ofd_locks() returned true.
#pragma once

// Installs the OFD locking once per process, and the maps' advice (sqlite_maps.h); false when
// this SQLite's VFS does not allow the locking (the caller then opens no connection of its own).
bool sqlite_ofd_locks();

// Closes a descriptor this addon opened on a database file or its -shm, or keeps it open: closing
// any descriptor of a file drops every POSIX lock the process holds on it, libsql's connections'
// included (a write transaction's lock gone, another process committed beside it and one of the
// two commits was lost). A regular file other than a WAL or a rollback journal (which no one
// locks) is therefore kept open for the life of the process, its own open-file-description locks
// released now, as its close would have. The addon's SQLite closes through this too. -1 and errno
// as close(2) when it closes.
int sqlite_ofd_close(int fd);
// open(2), which hands out again a descriptor sqlite_ofd_close kept, of the same file and access.
int sqlite_ofd_open(const char* path, int flags, int mode);
