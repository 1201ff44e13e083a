// The bytes of large requests (a WRITE's data of REQUEST_BYTES_SHARED or more): JavaScript gets
// them as a Buffer over the request's own memory, and that memory comes back for later requests.
// Why: a 1 MiB WRITE copied into memory V8 had just allocated cost ~1.2 ms on the measured VM,
// most of it faulting the fresh pages in; a Buffer over memory freed only by the garbage
// collector moved the same faults to the FUSE thread, which then needed fresh memory for every
// request. Here JavaScript gives a request's bytes back once its handler is done (releaseBytes:
// the Buffer is detached, empty from then on), so a stream of writes reuses a few buffers.
#pragma once

#include <node_api.h>

#include <cstddef>
#include <vector>

constexpr size_t REQUEST_BYTES_SHARED = 64 * 1024;

// From any thread: an empty vector, with the capacity of one JavaScript gave back if any.
std::vector<char> take_request_bytes();
// On the JS thread: data as a Buffer (taken from data when shared, else copied).
napi_value request_bytes_to_js(napi_env env, std::vector<char>& data);
// releaseBytes(buffer) and requestBytesStats() for JavaScript.
void request_bytes_register(napi_env env, napi_value exports);
