// Listing and lstat of host directories for the overlay's base layer, without Node's per-call
// costs (src/core/overlay/host-stat.ts: the one user, with a node:fs fallback).
#pragma once

#include <node_api.h>

// The fields of one lstat, in this order, each a double; a listing holds one such run per entry
// (HOST_STAT_STRIDE doubles). The addon exports the names in order as `hostStatFields`, and the
// TypeScript side checks its own indices against them when it loads the addon: this list is the
// one definition of the layout. Each comes from a statx (`s`) that asked for the basic fields and
// the birth time, in the one call: the birth time (NaN when the file system does not give it)
// tells a file from a later one the host gave the same inode number (the overlay's base files
// are known by their number: core/overlay/lookup.ts).
#define HOST_STAT_FIELDS(X)                                                                 \
  X(ino, s.stx_ino) X(mode, s.stx_mode) X(nlink, s.stx_nlink) X(uid, s.stx_uid)            \
  X(gid, s.stx_gid) X(size, s.stx_size) X(rdev, makedev(s.stx_rdev_major, s.stx_rdev_minor)) \
  X(blksize, s.stx_blksize) X(blocks, s.stx_blocks)                                        \
  X(atimeSec, s.stx_atime.tv_sec) X(atimeNsec, s.stx_atime.tv_nsec)                        \
  X(mtimeSec, s.stx_mtime.tv_sec) X(mtimeNsec, s.stx_mtime.tv_nsec)                        \
  X(ctimeSec, s.stx_ctime.tv_sec) X(ctimeNsec, s.stx_ctime.tv_nsec)                        \
  X(dev, makedev(s.stx_dev_major, s.stx_dev_minor))                                        \
  X(birthSec, host_birth(s, s.stx_btime.tv_sec)) X(birthNsec, host_birth(s, s.stx_btime.tv_nsec))

#define HOST_STAT_COUNT_ONE(name, field) +1
constexpr int HOST_STAT_STRIDE = 0 HOST_STAT_FIELDS(HOST_STAT_COUNT_ONE);
#undef HOST_STAT_COUNT_ONE

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

// A birth-time field of a statx, or NaN when the file system did not give the birth time (or
// gave 0, as for inodes made before it kept one: node:fs cannot tell that from none).
inline double host_birth(const struct statx& s, double v) {
  return (s.stx_mask & STATX_BTIME) && (s.stx_btime.tv_sec != 0 || s.stx_btime.tv_nsec != 0) ? v : NAN;
}

// lstat as a statx of the basic fields and the birth time (fstatat(dir, name, AT_SYMLINK_NOFOLLOW)).
inline int host_statx(int dir, const char* name, struct statx* s) {
  return statx(dir, name, AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS | STATX_BTIME, s);
}

// a < b in JavaScript's default sort order (Array.prototype.sort on strings), for valid UTF-8.
bool js_less(const std::string& a, const std::string& b);

// The names of directory d the overlay's base shows, in JavaScript's order: '.' and '..' left
// out, and names that are not UTF-8 (counted in *unnamed: a JavaScript string would make another
// name of them). False with errno set on a read error, or E2BIG past `max` names.
bool host_names(DIR* d, std::vector<std::string>* names, size_t* unnamed, size_t max);

// Adds hostListAt, hostLstatAt, hostReadlinkAt, hostOpenFile and hostStatFields to the addon's exports.
void host_stat_register(napi_env env, napi_value exports);
