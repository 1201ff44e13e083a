// Listing and lstat of host directories for the overlay's base layer, without Node's per-call
// costs (src/core/overlay/host-stat.ts: the one user, with a node:fs fallback).
#pragma once

#include <node_api.h>

// The fields of one lstat, in this order, each a double; a listing holds one such run per entry
// (HOST_STAT_STRIDE doubles). The addon exports the names in order as `hostStatFields`, and the
// TypeScript side checks its own indices against them when it loads the addon: this list is the
// one definition of the layout.
#define HOST_STAT_FIELDS(X)                                                                 \
  X(ino, st_ino) X(mode, st_mode) X(nlink, st_nlink) X(uid, st_uid) X(gid, st_gid)         \
  X(size, st_size) X(rdev, st_rdev) X(blksize, st_blksize) X(blocks, st_blocks)            \
  X(atimeSec, st_atim.tv_sec) X(atimeNsec, st_atim.tv_nsec)                                \
  X(mtimeSec, st_mtim.tv_sec) X(mtimeNsec, st_mtim.tv_nsec)                                \
  X(ctimeSec, st_ctim.tv_sec) X(ctimeNsec, st_ctim.tv_nsec) X(dev, st_dev)

#define HOST_STAT_COUNT_ONE(name, field) +1
constexpr int HOST_STAT_STRIDE = 0 HOST_STAT_FIELDS(HOST_STAT_COUNT_ONE);
#undef HOST_STAT_COUNT_ONE

#include <dirent.h>

#include <cstddef>
#include <string>
#include <vector>

// a < b in JavaScript's default sort order (Array.prototype.sort on strings), for valid UTF-8.
bool js_less(const std::string& a, const std::string& b);

// The names of directory d the overlay's base shows, in JavaScript's order: '.' and '..' left
// out, and names that are not UTF-8 (counted in *unnamed: a JavaScript string would make another
// name of them). False with errno set on a read error, or E2BIG past `max` names.
bool host_names(DIR* d, std::vector<std::string>* names, size_t* unnamed, size_t max);

// Adds hostList, hostLstat, hostOpenFile and hostStatFields to the addon's exports.
void host_stat_register(napi_env env, napi_value exports);
