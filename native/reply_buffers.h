// The memory READ replies are built in, shared by every mount of the process and kept for good.
// On a VM, a page the process touches for the first time costs ~10 us (the guest's page fault and
// the host's backing of it): a fresh 1 MiB buffer ~3 ms, as long as the read it serves. So a few
// buffers serve every READ (the last one given back is the next one taken, still in the caches),
// and warm() touches them ahead, at a mount's start, on a thread of its own.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace reply_buffers {

// A pooled buffer's size: the largest READ the kernel sends (max_write 1 MiB: 256 pages).
constexpr size_t CAPACITY = 1 << 20;

// At least `size` bytes for one reply; back to the pool when it ends.
class Lease {
 public:
  explicit Lease(size_t size);
  ~Lease();
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  char* data() const { return p_; }

 private:
  struct Buffer* b_;
  char* p_;
};

// Buffers a mount warms: one file's readahead (4 MiB, src/fuse/readahead.ts) in READs of 1 MiB.
constexpr size_t WARM = 4;

// Touches `count` pooled buffers in a detached thread (a later call only adds what is missing).
void warm(size_t count);

// Leases whose reply touched memory never touched before (pages faulted in on the request's path).
extern std::atomic<uint64_t> fresh;

}  // namespace reply_buffers
