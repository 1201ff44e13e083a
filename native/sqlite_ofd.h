// The addon's copy of SQLite takes open-file-description locks (see sqlite_ofd.cc). Every
// connection the addon opens must be opened after sqlite_ofd_locks() returned true.
#pragma once

// Installs the OFD locking once per process, and the maps' advice (sqlite_maps.h); false when
// this SQLite's VFS does not allow the locking (the caller then opens no connection of its own).
bool sqlite_ofd_locks();
