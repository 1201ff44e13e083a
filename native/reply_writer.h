// Replies written from the CPU the client sleeps on, so its wake-up does not have to bring a
// halted CPU back (on one kind of VM an idle vCPU halts at once, and waking one costs ~20 µs:
// two per `unlinkat`, a third of its time; see ARCHITECTURE.md, the forty-seventh session). On
// another kind it costs more than it saves, so by default it is used only while a trial on the
// traffic says it pays (trial.h): it saves the client's CPU a halt and the wake-up from it, and
// costs, for every request, a switch from the writer to the client on that CPU and one back,
// between two processes. On a VM whose idle vCPUs halt at once (waking one ~20 µs) it cut `rm -rf`
// by a third; on one with a paravirtual MMU (a system call ~1 µs, a fault ~10 µs, waking a halted
// vCPU ~9 µs) `tar x` and `rm -rf` were 22% slower with it, in 12 of 12 paired rounds.
//
// The serving threads spin for the next request, so the scheduler keeps them off the client's
// CPU, and the client's CPU goes idle while the request is served. This thread runs at
// SCHED_IDLE: it takes that idle CPU instead of letting it halt (the scheduler counts a CPU that
// runs only SCHED_IDLE work as idle, so it also wakes the client there), and it writes the reply
// there, which makes the client's wake-up a local one that preempts it at once.
//
// A SCHED_IDLE thread runs only when nothing else wants the CPU, so no reply may depend on it:
// - a reply goes to it only when it was seen spinning within the last `fresh_ns` (on a busy
//   machine it is not, and nothing waits for it);
// - one it has not taken within `take_ns` is taken back and written by its own thread, and this
//   thread is sent off that thread's CPU, where it could not run (so is a thread not seen
//   spinning whose last turn was on the replying thread's CPU);
// - one it took but has not finished within `boost_ns` (preempted, say by the client it just
//   woke) gets it raised to SCHED_OTHER until it is done;
// - kept off its CPU for 50 ms (a busy process there, or a real-time one, which no raise to
//   SCHED_OTHER gets past), or for 10 ms while it had under a quarter of a CPU over the last
//   100-200 ms awake, it takes no reply for 50 ms: a reply written from that CPU would wake the
//   client there, behind that process. Not at any 10 ms gap: the mount's own serving threads
//   keep it off that long in a burst of requests (a sched_switch trace: 10-13 ms gaps filled by
//   them, while it had 0.3-0.75 of a CPU), and its stand-asides, doubling within a second, then
//   left whole phases without it (up to 800 ms); beside processes that keep every CPU busy it
//   has 0-0.2 of one, in gaps of 10-56 ms.
// The writer of a reply always waits for it to be written, so replies and the notices written
// after them keep their order. It spins only for `spin_ns` after the last reply, then sleeps
// until the next one (which its own thread writes).
#pragma once

#include "trial.h"

#include <sys/types.h>
#include <sys/uio.h>
#include <sched.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

class ReplyWriter {
 public:
  // nullptr when not to be used: AGENTFS_FUSE_REPLY_WRITER=0, one CPU, SCHED_IDLE or the way back
  // to SCHED_OTHER refused, no thread. Whether it pays is tried on the traffic (trial.h);
  // AGENTFS_FUSE_REPLY_WRITER=1 keeps it on without trying.
  static ReplyWriter* start();
  ~ReplyWriter();
  // Writes the reply on this thread's behalf: true with writev's result in *res (and its errno),
  // false when the caller is to write it itself.
  bool write(int fd, const struct iovec* iov, int count, ssize_t* res);
  // For AGENTFS_FUSE_STATS: replies written here, taken back, raises to SCHED_OTHER, times it
  // stood aside, moves undone, trials ended and how many of them kept it on.
  struct Counts {
    uint64_t written = 0, taken_back = 0, boosts = 0, backoffs = 0, strandings = 0, trials = 0, kept_on = 0;
    bool tried = false;
  };
  Counts counts() const {
    Trial::Counts t = trial_.counts();
    return {written_.load(std::memory_order_relaxed), taken_back_.load(std::memory_order_relaxed),
            boosts_.load(std::memory_order_relaxed), backoffs_.load(std::memory_order_relaxed),
            strandings_.load(std::memory_order_relaxed), t.trials, t.kept_on, trying_};
  }
  // The pause in moves after a move that stranded the thread (check_move): kNoMovesMinNs, or
  // twice the last pause when this stranding came within kNoMovesMaxNs of that pause's end, up to
  // kNoMovesMaxNs. A CPU a real-time process keeps strands every move there, and the pause soon
  // reaches its longest; a stranding by the mount's own threads (V8's GC or compiler workers
  // taking both CPUs for ~10 ms: a trace of `grep -r`) is a moment's, and a second without moves
  // kept this thread behind the JS thread on one CPU for whole phases (`rm -rf` 500+ ms, 300 usual).
  static constexpr int64_t kNoMovesMinNs = 50000000, kNoMovesMaxNs = 1000000000;
  static int64_t next_no_moves(int64_t last_pause_ns, int64_t since_pause_end_ns) {
    if (since_pause_end_ns >= kNoMovesMaxNs) return kNoMovesMinNs;
    return last_pause_ns * 2 < kNoMovesMaxNs ? last_pause_ns * 2 : kNoMovesMaxNs;
  }

 private:
  enum State : int { EMPTY, POSTED, TAKEN, DONE };
  ReplyWriter() = default;
  void run();
  void wake();
  void move_away();
  void boost();
  void unboost();
  void back_off();
  void check_move(int64_t now);
  // where a share of the CPU is counted from: wall time, this thread's CPU time, time asleep
  struct Share {
    int64_t wall, cpu, slept;
  };
  double share_since(const Share& from, int64_t now, int64_t slept);

  Trial trial_;
  bool trying_ = true;  // false: AGENTFS_FUSE_REPLY_WRITER=1, on without trials
  int64_t spin_ns_ = 300000;
  int64_t take_ns_ = 5000;
  int64_t boost_ns_ = 20000;
  int64_t fresh_ns_ = 3000;  // seen_ this recent: the thread is spinning on a CPU right now
  // kept off its CPU gap_ns_ (or kShortGapNs with less than kStarvedShare of a CPU over the
  // last kShareWindowNs or two), it stands aside kBackOffNs, twice as long each time it happens
  // again within a second, up to kBackOffMaxNs (back_off; the last two are the writer thread's own)
  static constexpr int64_t kShortGapNs = 10000000;
  static constexpr double kStarvedShare = 0.25;
  static constexpr int64_t kShareWindowNs = 100000000;
  int64_t gap_ns_ = 50000000;
  static constexpr int64_t kBackOffNs = 50000000;
  static constexpr int64_t kBackOffMaxNs = 5000000000;
  int64_t backoff_ns_ = kBackOffNs;
  int64_t aside_until_ = 0;

  std::thread thread_;
  std::atomic<pid_t> tid_{0};
  std::mutex ready_mu_;
  std::condition_variable ready_cv_;
  int ready_ = 0;  // 1 running at SCHED_IDLE, -1 could not

  // the one slot: a writer holds slot_mu_ while its reply is in it
  std::mutex slot_mu_;
  std::atomic<int> state_{EMPTY};
  int fd_ = -1;
  const struct iovec* iov_ = nullptr;
  int count_ = 0;
  ssize_t res_ = 0;
  int err_ = 0;

  std::atomic<int64_t> last_post_{0};
  std::atomic<int64_t> seen_{0};  // each turn of its spin
  std::atomic<int> cpu_{-1};      // where it spun last
  std::atomic<int64_t> moved_at_{0};
  // the last move, until the thread has run since (check_move)
  static constexpr int64_t kStrandNs = 10000000;
  int64_t no_moves_ns_ = kNoMovesMinNs;  // the last pause in moves
  std::mutex move_mu_;
  std::atomic<bool> move_pending_{false};
  cpu_set_t moved_to_{};
  int64_t seen_at_move_ = 0;
  int64_t no_moves_until_ = 0;
  std::atomic<bool> asleep_{false};
  std::atomic<bool> stop_{false};
  std::atomic<bool> standing_aside_{false};
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;

  std::mutex boost_mu_;
  std::atomic<bool> boosted_{false};

  std::atomic<uint64_t> written_{0}, taken_back_{0}, boosts_{0}, backoffs_{0}, strandings_{0};
};
