#include "reply_buffers.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace reply_buffers {

std::atomic<uint64_t> fresh{0};

struct Buffer {
  char* p;
  size_t size;
  size_t touched;  // bytes from the start already written once (their pages are in)
};

namespace {

// More than this many kept, the rest are freed on return (a burst of concurrent READs).
constexpr size_t MAX_KEPT = 16;

std::mutex mu;
std::vector<Buffer*> pool;  // LIFO: the most recently used first
size_t made = 0;            // pooled buffers in existence (in the pool or leased)

Buffer* make(size_t size) {
  Buffer* b = new Buffer{new char[size], size, 0};
  return b;
}

}  // namespace

Lease::Lease(size_t size) : b_(nullptr), p_(nullptr) {
  if (size <= CAPACITY) {
    std::lock_guard<std::mutex> lock(mu);
    if (!pool.empty()) {
      b_ = pool.back();
      pool.pop_back();
    } else if (made < MAX_KEPT) {
      made++;
      b_ = make(CAPACITY);
    }
  }
  if (!b_) b_ = make(size);  // larger than any READ, or a burst past MAX_KEPT: its own, freed after
  // The caller writes [0, size): pages past what was touched before fault in on its path.
  if (size > b_->touched) {
    fresh.fetch_add(1, std::memory_order_relaxed);
    b_->touched = size;
  }
  p_ = b_->p;
}

Lease::~Lease() {
  if (b_->size == CAPACITY) {
    std::lock_guard<std::mutex> lock(mu);
    pool.push_back(b_);
    return;
  }
  delete[] b_->p;
  delete b_;
}

void warm(size_t count) {
  size_t add;
  {
    std::lock_guard<std::mutex> lock(mu);
    add = count > made ? count - made : 0;
    made += add;
  }
  if (!add) return;
  std::thread([add] {
    // Written by the kernel (a read of /dev/zero), not by memset: on this VM the kernel's first
    // copy into a page only user code wrote before still cost 800 us a 700 KiB read (55 after).
    int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    for (size_t i = 0; i < add; i++) {
      Buffer* b = make(CAPACITY);
      size_t done = 0;
      while (zero >= 0 && done < b->size) {
        ssize_t n = read(zero, b->p + done, b->size - done);
        if (n <= 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += (size_t)n;
      }
      if (done < b->size) memset(b->p + done, 0, b->size - done);
      // the compiler may not drop the writes: the buffer is read (as a reply) once leased
      asm volatile("" : : "r"(b->p) : "memory");
      b->touched = b->size;
      std::lock_guard<std::mutex> lock(mu);
      pool.push_back(b);
    }
    if (zero >= 0) close(zero);
  }).detach();
}

}  // namespace reply_buffers
