// See request_bytes.h.
#include "request_bytes.h"

#include <atomic>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace {

// buffers given back, at most POOL of them (each up to MAX_POOLED bytes of capacity)
constexpr size_t POOL = 4;
constexpr size_t MAX_POOLED = 4 << 20;

// The memory under one Buffer JavaScript holds.
struct Shared {
  std::vector<char> bytes;
  bool given_back = false;  // releaseBytes returned the memory; the finalizer only frees this
};

std::mutex mu;
std::vector<std::vector<char>> pool;
std::unordered_map<const char*, Shared*> shared;  // by the Buffer's data pointer
// for AGENTFS_FUSE_STATS: Buffers over a request's memory, and requests copied into memory given back
std::atomic<uint64_t> shared_count{0}, reused_count{0};

void give_back(std::vector<char>&& bytes) {
  std::lock_guard<std::mutex> lock(mu);
  if (pool.size() < POOL && bytes.capacity() <= MAX_POOLED) {
    bytes.clear();
    pool.push_back(std::move(bytes));
  }
}

// The Buffer was collected (or detached by releaseBytes, which gave the memory back already).
void finalize(napi_env, void*, void* hint) {
  Shared* s = static_cast<Shared*>(hint);
  bool back;
  {
    std::lock_guard<std::mutex> lock(mu);
    back = !s->given_back;
    if (back) shared.erase(s->bytes.data());
  }
  if (back) give_back(std::move(s->bytes));
  delete s;
}

napi_value Stats(napi_env env, napi_callback_info) {
  napi_value o, v;
  napi_create_object(env, &o);
  napi_create_double(env, (double)shared_count.load(), &v);
  napi_set_named_property(env, o, "shared", v);
  napi_create_double(env, (double)reused_count.load(), &v);
  napi_set_named_property(env, o, "reused", v);
  return o;
}

napi_value ReleaseBytes(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_value result;
  napi_get_boolean(env, false, &result);
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1) return result;
  void* data = nullptr;
  size_t len = 0;
  napi_value ab;
  if (napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok || !data) return result;
  if (napi_get_typedarray_info(env, argv[0], nullptr, nullptr, nullptr, &ab, nullptr) != napi_ok) return result;
  // the memory taken out of its holder first: the finalizer, whenever it runs (even within the
  // detach), then frees only the holder
  Shared* s = nullptr;
  std::vector<char> bytes;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = shared.find(static_cast<const char*>(data));
    if (it == shared.end()) return result;
    s = it->second;
    shared.erase(it);
    s->given_back = true;
    bytes = std::move(s->bytes);
  }
  // no JavaScript reaches the memory from now on (the Buffer reads as empty), then it is reused
  if (napi_detach_arraybuffer(env, ab) != napi_ok) {
    std::lock_guard<std::mutex> lock(mu);
    s->bytes = std::move(bytes);
    s->given_back = false;
    shared[s->bytes.data()] = s;
    return result;
  }
  give_back(std::move(bytes));
  napi_get_boolean(env, true, &result);
  return result;
}

}  // namespace

std::vector<char> take_request_bytes() {
  std::lock_guard<std::mutex> lock(mu);
  if (pool.empty()) return {};
  std::vector<char> v = std::move(pool.back());
  pool.pop_back();
  reused_count++;
  return v;
}

napi_value request_bytes_to_js(napi_env env, std::vector<char>& data) {
  napi_value v;
  if (data.size() >= REQUEST_BYTES_SHARED) {
    Shared* s = new Shared{std::move(data)};
    const char* at = s->bytes.data();
    {
      std::lock_guard<std::mutex> lock(mu);
      shared[at] = s;
    }
    if (napi_create_external_buffer(env, s->bytes.size(), s->bytes.data(), finalize, s, &v) == napi_ok) {
      shared_count++;
      return v;
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      shared.erase(at);
    }
    data = std::move(s->bytes);  // external buffers not allowed here: a copy as below
    delete s;
  }
  void* dst;
  napi_create_buffer_copy(env, data.size(), data.data(), &dst, &v);
  return v;
}

void request_bytes_register(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "releaseBytes", NAPI_AUTO_LENGTH, ReleaseBytes, nullptr, &fn);
  napi_set_named_property(env, exports, "releaseBytes", fn);
  napi_create_function(env, "requestBytesStats", NAPI_AUTO_LENGTH, Stats, nullptr, &fn);
  napi_set_named_property(env, exports, "requestBytesStats", fn);
}
