// hostListAt / hostLstatAt / hostReadlinkAt (see host_stat.h): one statx per entry, the basic
// fields and the birth time; paths beneath a directory descriptor, through no symlink. Errors
// come back as errno numbers, not exceptions: the caller maps them to its own error type. EOVERFLOW means a value does not fit a double exactly (an inode number of 2^53 or more):
// the caller then asks node:fs instead.
#include "host_stat.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "utf8.h"

namespace {

template <typename T>
bool exact(T v) {
  // every integer of magnitude up to 2^53 is a double exactly (a birth time not given is NaN)
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v) || (v >= -9007199254740992.0 && v <= 9007199254740992.0);
  else if constexpr (std::is_signed_v<T>) return v >= -(1LL << 53) && v <= (1LL << 53);
  else return static_cast<unsigned long long>(v) <= (1ULL << 53);
}

// Writes the fields of statx s to out; false when one of them does not fit a double exactly.
bool fill(const struct statx& s, double* out) {
  bool ok = true;
  int i = 0;
#define HOST_STAT_PUT(name, field) ok = ok && exact(field); out[i++] = static_cast<double>(field);
  HOST_STAT_FIELDS(HOST_STAT_PUT)
#undef HOST_STAT_PUT
  return ok;
}

napi_value number(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

bool string_arg(napi_env env, napi_value v, std::string* out) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok) return false;
  out->resize(len + 1);
  napi_get_value_string_utf8(env, v, out->data(), len + 1, &len);
  out->resize(len);
  return true;
}

napi_value throw_type(napi_env env, const char* msg) {
  napi_throw_type_error(env, nullptr, msg);
  return nullptr;
}

constexpr uint64_t BENEATH = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

int openat_beneath(int dir, const char* path, uint64_t flags) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = flags;
  how.resolve = BENEATH;
  return (int)syscall(SYS_openat2, dir, path, &how, sizeof how);
}

// A symlink on the way (ELOOP) or a way out of dir (EXDEV): beneath dir, what the path names
// does not exist, as when a name on the way is not a directory.
int beneath_errno(int e) { return e == ELOOP || e == EXDEV ? ENOTDIR : e; }

// fn(parent, name) on the directory holding `path`, reached beneath directory descriptor `dir`
// through no symlink (an lstat through a directory the host swapped for a symlink would show a
// file outside the base); `dir` itself for a one-name path, and ("" names `dir`). AT_FDCWD:
// `path` as it is (the caller's own walk). -1 with errno on failure.
template <typename F>
int at_parent(int dir, const std::string& path, F fn) {
  if (dir == AT_FDCWD || path.empty()) return fn(dir, path.c_str());
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return fn(dir, path.c_str());
  int parent = openat_beneath(dir, path.substr(0, slash).c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (parent < 0) {
    errno = beneath_errno(errno);
    return -1;
  }
  int rc = fn(parent, path.c_str() + slash + 1);
  int e = errno;
  close(parent);
  errno = e;
  return rc;
}

// The (dirFd, path) arguments of the *At functions; false after throwing.
bool at_args(napi_env env, napi_value* argv, size_t argc, size_t need, int32_t* dir, std::string* path, const char* usage) {
  if (argc < need || napi_get_value_int32(env, argv[0], dir) != napi_ok || !string_arg(env, argv[1], path)) {
    throw_type(env, usage);
    return false;
  }
  return true;
}

// hostListAt(dirFd, path): { names, stats: Float64Array, unnamed } or an errno.
napi_value HostListAt(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t at = AT_FDCWD;
  std::string dir;
  if (!at_args(env, argv, argc, 2, &at, &dir, "hostListAt(dirFd: number, path: string)")) return nullptr;
  int fd;
  if (at == AT_FDCWD) fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  else if (dir.empty()) fd = openat(at, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  else fd = openat_beneath(at, dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return number(env, beneath_errno(errno));
  DIR* d = fdopendir(fd);
  if (!d) {
    int e = errno;
    close(fd);
    return number(env, e);
  }
  std::vector<std::string> names;
  size_t unnamed = 0;
  if (!host_names(d, &names, &unnamed, SIZE_MAX)) {
    int e = errno;
    closedir(d);
    return number(env, e);
  }
  std::vector<double> stats(names.size() * HOST_STAT_STRIDE);
  size_t kept = 0;
  for (size_t i = 0; i < names.size(); i++) {
    struct statx st;
    if (host_statx(fd, names[i].c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) continue;  // gone since readdir: left out
      int e = errno;
      closedir(d);
      return number(env, e);
    }
    if (!fill(st, &stats[kept * HOST_STAT_STRIDE])) {
      closedir(d);
      return number(env, EOVERFLOW);
    }
    if (kept != i) names[kept] = std::move(names[i]);
    kept++;
  }
  closedir(d);
  napi_value out, arr, buf, f64;
  napi_create_object(env, &out);
  napi_create_array_with_length(env, kept, &arr);
  for (size_t i = 0; i < kept; i++) {
    napi_value s;
    napi_create_string_utf8(env, names[i].data(), names[i].size(), &s);
    napi_set_element(env, arr, i, s);
  }
  void* data = nullptr;
  size_t bytes = kept * HOST_STAT_STRIDE * sizeof(double);
  napi_create_arraybuffer(env, bytes, &data, &buf);
  if (bytes) memcpy(data, stats.data(), bytes);
  napi_create_typedarray(env, napi_float64_array, kept * HOST_STAT_STRIDE, buf, 0, &f64);
  napi_set_named_property(env, out, "names", arr);
  napi_set_named_property(env, out, "stats", f64);
  napi_set_named_property(env, out, "unnamed", number(env, (double)unnamed));
  return out;
}

// hostLstatAt(dirFd, path, out: Float64Array): 0 with the fields in out, or an errno.
napi_value HostLstatAt(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t at = AT_FDCWD;
  std::string path;
  const char* usage = "hostLstatAt(dirFd: number, path: string, out: Float64Array)";
  if (!at_args(env, argv, argc, 3, &at, &path, usage)) return nullptr;
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, argv[2], &type, &length, &data, nullptr, nullptr) != napi_ok || type != napi_float64_array ||
      length < static_cast<size_t>(HOST_STAT_STRIDE)) {
    return throw_type(env, usage);
  }
  struct statx st;
  int rc = at_parent(at, path, [&](int dir, const char* name) {
    if (*name) return host_statx(dir, name, &st);
    return statx(dir, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS | STATX_BTIME, &st);
  });
  if (rc != 0) return number(env, errno);
  return number(env, fill(st, static_cast<double*>(data)) ? 0 : EOVERFLOW);
}

// hostReadlinkAt(dirFd, path): the target's bytes (a Buffer), or an errno.
napi_value HostReadlinkAt(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t at = AT_FDCWD;
  std::string path;
  if (!at_args(env, argv, argc, 2, &at, &path, "hostReadlinkAt(dirFd: number, path: string)")) return nullptr;
  std::vector<char> buf(PATH_MAX + 1);
  ssize_t n = -1;
  int rc = at_parent(at, path, [&](int dir, const char* name) {
    n = readlinkat(dir, name, buf.data(), buf.size());
    return n < 0 ? -1 : 0;
  });
  if (rc != 0) return number(env, errno);
  if ((size_t)n >= buf.size()) return number(env, ENAMETOOLONG);  // cut short: never handed on
  napi_value out;
  void* copied = nullptr;
  napi_create_buffer_copy(env, (size_t)n, buf.data(), &copied, &out);
  return out;
}

// hostOpenFile(dirFd, path): a descriptor of the regular file at `path` (relative) beneath
// directory descriptor dirFd, reached through no symlink and no '..' out of it (openat2
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), read-only; or minus an errno (EINVAL: not a regular
// file; ENOSYS: no openat2 here). One call instead of open, fstat and a readlink of
// /proc/self/fd to check where the open led (BaseReader.isBeneath).
napi_value HostOpenFile(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t dir = -1;
  std::string path;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &dir) != napi_ok || !string_arg(env, argv[1], &path)) {
    return throw_type(env, "hostOpenFile(dirFd: number, path: string)");
  }
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  int fd = (int)syscall(SYS_openat2, dir, path.c_str(), &how, sizeof how);
  if (fd < 0) return number(env, -errno);
  struct stat st;
  int err = fstat(fd, &st) != 0 ? errno : S_ISREG(st.st_mode) ? 0 : EINVAL;
  if (err != 0) {
    close(fd);
    return number(env, -err);
  }
  return number(env, fd);
}

}  // namespace

// The byte that orders a UTF-8 sequence's lead byte as JavaScript orders strings (by UTF-16
// code units): U+E000..U+FFFF (lead bytes EE, EF) sort after the characters above U+FFFF (lead
// F0..F4), whose surrogate pairs start with D800..DBFF. Everything else keeps byte order, which
// for valid UTF-8 is code point order.
static inline unsigned lead_key(unsigned char c) { return c == 0xEE || c == 0xEF ? c + 0x10 : c; }

bool host_names(DIR* d, std::vector<std::string>* names, size_t* unnamed, size_t max) {
  for (;;) {
    errno = 0;
    struct dirent* de = readdir(d);
    if (!de) break;
    const char* n = de->d_name;
    if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
    size_t len = strlen(n);
    if (!utf8_valid(reinterpret_cast<const unsigned char*>(n), len)) {
      ++*unnamed;
      continue;
    }
    if (names->size() >= max) {
      errno = E2BIG;
      return false;
    }
    names->emplace_back(n, len);
  }
  if (errno != 0) return false;
  std::sort(names->begin(), names->end(), js_less);
  return true;
}

// a < b in JavaScript's default sort order, for valid UTF-8 names.
bool js_less(const std::string& a, const std::string& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; i++) {
    unsigned char x = a[i], y = b[i];
    if (x == y) continue;
    // equal prefixes put both at the same position in a character: a lead byte in both, or a
    // continuation byte under the same lead byte (where byte order is code unit order)
    if ((x & 0xC0) != 0x80) return lead_key(x) < lead_key(y);
    return x < y;
  }
  return a.size() < b.size();
}


void host_stat_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"hostListAt", nullptr, HostListAt, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"hostLstatAt", nullptr, HostLstatAt, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"hostReadlinkAt", nullptr, HostReadlinkAt, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"hostOpenFile", nullptr, HostOpenFile, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  const char* fields[] = {
#define HOST_STAT_NAME(name, field) #name,
    HOST_STAT_FIELDS(HOST_STAT_NAME)
#undef HOST_STAT_NAME
  };
  napi_value arr;
  napi_create_array_with_length(env, HOST_STAT_STRIDE, &arr);
  for (int i = 0; i < HOST_STAT_STRIDE; i++) {
    napi_value s;
    napi_create_string_utf8(env, fields[i], NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, arr, i, s);
  }
  napi_set_named_property(env, exports, "hostStatFields", arr);
}
