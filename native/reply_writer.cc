// See reply_writer.h.
#include "reply_writer.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <ctime>

namespace {

int64_t now_ns() { return Trial::now_ns(); }

int64_t env_us(const char* name, int64_t dflt_ns) {
  const char* v = getenv(name);
  if (!v || !*v) return dflt_ns;
  char* end = nullptr;
  long long us = strtoll(v, &end, 10);
  // at most ten seconds (a larger number, or one that overflows, keeps the default)
  return (end && *end == 0 && us >= 0 && us <= 10000000) ? us * 1000 : dflt_ns;
}

int64_t thread_cpu_ns() {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

ReplyWriter* ReplyWriter::start() {
  const char* off = getenv("AGENTFS_FUSE_REPLY_WRITER");
  if (off && strcmp(off, "0") == 0) return nullptr;
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof cpus, &cpus) != 0 || CPU_COUNT(&cpus) < 2) return nullptr;
  ReplyWriter* w = new ReplyWriter();
  w->trying_ = !(off && strcmp(off, "1") == 0);
  w->spin_ns_ = env_us("AGENTFS_FUSE_REPLY_SPIN_US", w->spin_ns_);
  w->take_ns_ = env_us("AGENTFS_FUSE_REPLY_TAKE_US", w->take_ns_);
  w->boost_ns_ = env_us("AGENTFS_FUSE_REPLY_BOOST_US", w->boost_ns_);
  w->fresh_ns_ = env_us("AGENTFS_FUSE_REPLY_FRESH_US", w->fresh_ns_);
  w->gap_ns_ = env_us("AGENTFS_FUSE_REPLY_GAP_US", w->gap_ns_);
  w->last_post_ = now_ns();
  try {
    w->thread_ = std::thread(&ReplyWriter::run, w);
  } catch (const std::system_error&) {
    delete w;  // no thread to be had (RLIMIT_NPROC): every reply is written by its own thread
    return nullptr;
  }
  std::unique_lock<std::mutex> lock(w->ready_mu_);
  w->ready_cv_.wait(lock, [w] { return w->ready_ != 0; });
  if (w->ready_ < 0) {
    lock.unlock();
    delete w;  // a thread at normal priority spinning here would take CPU from everyone
    return nullptr;
  }
  return w;
}

ReplyWriter::~ReplyWriter() {
  stop_ = true;
  wake();
  if (thread_.joinable()) thread_.join();
}

void ReplyWriter::run() {
  tid_ = static_cast<pid_t>(syscall(SYS_gettid));
  sched_param p{};
  // Raising a SCHED_IDLE thread back to SCHED_OTHER takes CAP_SYS_NICE or an RLIMIT_NICE of 20
  // (a container's root may lack the one, a user the other): without it a reply this thread took
  // could wait behind any busy process, so the probe's failure turns it off.
  int ok = sched_setscheduler(0, SCHED_IDLE, &p) == 0 && sched_setscheduler(0, SCHED_OTHER, &p) == 0 &&
                   sched_setscheduler(0, SCHED_IDLE, &p) == 0
               ? 1
               : -1;
  {
    std::lock_guard<std::mutex> lock(ready_mu_);
    ready_ = ok;
  }
  ready_cv_.notify_one();
  if (ok < 0) return;
  int64_t prev = now_ns();
  // its share of a CPU over the last 100-200 ms, sleeps left out (Share)
  Share share{prev, thread_cpu_ns(), 0};
  Share last = share;
  int64_t slept = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    int64_t now = now_ns();
    int64_t gap = now - prev;
    if (gap > kShortGapNs) {
      double got = share_since(last, now, slept);
      if (gap > gap_ns_ || got < kStarvedShare) {
        // kept off its CPU that long (a busy process there, a real-time one whose CPU it was
        // sent to), or shortly but as one that gets no CPU for long: a reply written from there
        // would pull the client onto that CPU, behind it. It stands aside for a while, free to
        // run anywhere again.
        back_off();
        prev = now_ns();
        share = last = Share{prev, thread_cpu_ns(), slept};
        continue;
      }
    }
    if (now - share.wall > kShareWindowNs) {
      last = share;
      share = Share{now, thread_cpu_ns(), slept};
    }
    prev = now;
    seen_.store(now, std::memory_order_relaxed);
    cpu_.store(sched_getcpu(), std::memory_order_relaxed);
    int st = state_.load(std::memory_order_acquire);
    if (st == POSTED && state_.compare_exchange_strong(st, TAKEN, std::memory_order_acq_rel)) {
      res_ = writev(fd_, iov_, count_);
      err_ = errno;
      state_.store(DONE, std::memory_order_release);
      continue;
    }
    if (boosted_.load(std::memory_order_relaxed)) unboost();
    if (now - last_post_.load(std::memory_order_relaxed) > spin_ns_) {
      {
        std::unique_lock<std::mutex> lock(sleep_mu_);
        asleep_ = true;
        sleep_cv_.wait(lock, [this] { return !asleep_.load() || stop_.load(); });
      }
      prev = now_ns();
      slept += prev - now;
      continue;
    }
    // a serving thread that shares this CPU gets it back at once (a yield to a SCHED_IDLE
    // thread would otherwise hand it the CPU until the next tick)
    sched_yield();
  }
}

// The CPU this thread had since `from` (its own time over the wall time it was not asleep); 1
// when too little time went by to say.
double ReplyWriter::share_since(const Share& from, int64_t now, int64_t slept) {
  int64_t awake = (now - from.wall) - (slept - from.slept);
  if (awake < kShortGapNs) return 1;
  return (double)(thread_cpu_ns() - from.cpu) / (double)awake;
}

void ReplyWriter::back_off() {
  backoffs_.fetch_add(1, std::memory_order_relaxed);
  standing_aside_ = true;
  cpu_set_t set;
  if (sched_getaffinity(getpid(), sizeof set, &set) == 0) sched_setaffinity(0, sizeof set, &set);
  // again within a second of the last one: twice as long (a process that keeps a CPU, such as a
  // real-time one, would otherwise meet it on every turn it gets), up to five seconds
  int64_t start = now_ns();
  backoff_ns_ = start - aside_until_ < 1000000000 ? std::min<int64_t>(backoff_ns_ * 2, kBackOffMaxNs) : kBackOffNs;
  {
    std::unique_lock<std::mutex> lock(sleep_mu_);
    sleep_cv_.wait_for(lock, std::chrono::nanoseconds(backoff_ns_), [this] { return stop_.load(); });
  }
  aside_until_ = now_ns();
  standing_aside_ = false;
}

void ReplyWriter::wake() {
  {
    std::lock_guard<std::mutex> lock(sleep_mu_);
    asleep_ = false;
  }
  sleep_cv_.notify_one();
}

bool ReplyWriter::write(int fd, const struct iovec* iov, int count, ssize_t* res) {
  if (standing_aside_.load(std::memory_order_relaxed)) return false;
  int64_t t0 = now_ns();
  if (trying_ && !trial_.offer(t0)) return false;  // a turn without it, or its verdict: off
  last_post_.store(t0, std::memory_order_relaxed);
  if (asleep_.load(std::memory_order_relaxed)) {
    wake();  // too late for this reply: it would wait for the wake-up this thread saves the client
    return false;
  }
  if (t0 - seen_.load(std::memory_order_relaxed) > fresh_ns_) {
    // not running now; when it last ran on this CPU it is queued behind this thread, which
    // spins here between requests (it gets a turn only at this thread's yields, never at a
    // reply): it goes elsewhere, at most once a millisecond
    if (move_pending_.load(std::memory_order_relaxed))
      check_move(t0);  // moved, and not seen since
    else if (cpu_.load(std::memory_order_relaxed) == sched_getcpu() &&
             t0 - moved_at_.load(std::memory_order_relaxed) > 1000000)
      move_away();
    return false;
  }
  if (!slot_mu_.try_lock()) return false;  // another thread's reply is in the slot
  fd_ = fd;
  iov_ = iov;
  count_ = count;
  state_.store(POSTED, std::memory_order_release);
  bool raised = false;
  for (;;) {
    int st = state_.load(std::memory_order_acquire);
    if (st == DONE) {
      *res = res_;
      int err = err_;
      state_.store(EMPTY, std::memory_order_relaxed);
      slot_mu_.unlock();
      written_.fetch_add(1, std::memory_order_relaxed);
      errno = err;
      return true;
    }
    int64_t waited = now_ns() - t0;
    if (st == POSTED && waited > take_ns_) {
      if (!state_.compare_exchange_strong(st, EMPTY, std::memory_order_acq_rel)) continue;  // taken meanwhile
      slot_mu_.unlock();
      taken_back_.fetch_add(1, std::memory_order_relaxed);
      if (!asleep_.load(std::memory_order_relaxed)) move_away();
      return false;
    }
    if (st == TAKEN && !raised && waited > boost_ns_) {
      raised = true;
      boost();
    }
    cpu_relax();
  }
}

// This thread did not take a reply in time: it is queued behind the writer on the writer's CPU
// (which keeps running), so it goes to the others the process may use now (those of its main
// thread: a `taskset -a -p` since it started counts).
void ReplyWriter::move_away() {
  int cpu = sched_getcpu();
  pid_t tid = tid_.load();
  cpu_set_t set;
  int64_t now = now_ns();
  std::lock_guard<std::mutex> lock(move_mu_);
  if (move_pending_ || now < no_moves_until_ || cpu < 0 || !tid || sched_getaffinity(getpid(), sizeof set, &set) != 0)
    return;
  CPU_CLR(cpu, &set);
  moved_at_.store(now, std::memory_order_relaxed);
  if (CPU_COUNT(&set) == 0 || sched_setaffinity(tid, sizeof set, &set) != 0) return;
  moved_to_ = set;
  seen_at_move_ = seen_.load(std::memory_order_relaxed);
  move_pending_ = true;
}

// A move whose thread has not run since, 10 ms on, stranded it where it cannot run (a CPU a
// real-time process keeps): it goes back to the CPUs it came from, and none is moved for a
// while (next_no_moves: 50 ms, longer as strandings repeat; a client busy on its new CPU for
// 10 ms, or the mount's own threads, look the same, so the first pause is short).
void ReplyWriter::check_move(int64_t now) {
  std::lock_guard<std::mutex> lock(move_mu_);
  if (!move_pending_) return;
  if (seen_.load(std::memory_order_relaxed) != seen_at_move_) {
    move_pending_ = false;  // it ran there
    return;
  }
  if (now - moved_at_.load(std::memory_order_relaxed) < kStrandNs) return;
  move_pending_ = false;
  no_moves_ns_ = next_no_moves(no_moves_ns_, now - no_moves_until_);
  no_moves_until_ = now + no_moves_ns_;
  strandings_.fetch_add(1, std::memory_order_relaxed);
  cpu_set_t set;
  if (sched_getaffinity(getpid(), sizeof set, &set) != 0) return;
  cpu_set_t back;
  CPU_XOR(&back, &set, &moved_to_);
  CPU_AND(&back, &back, &set);
  sched_setaffinity(tid_.load(), sizeof(cpu_set_t), CPU_COUNT(&back) > 0 ? &back : &set);
}

void ReplyWriter::boost() {
  std::lock_guard<std::mutex> lock(boost_mu_);
  sched_param p{};
  if (sched_setscheduler(tid_.load(), SCHED_OTHER, &p) == 0) {
    boosted_ = true;
    boosts_.fetch_add(1, std::memory_order_relaxed);
  }
}

void ReplyWriter::unboost() {
  std::lock_guard<std::mutex> lock(boost_mu_);
  sched_param p{};
  sched_setscheduler(0, SCHED_IDLE, &p);
  boosted_ = false;
}
