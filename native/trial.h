// Whether a way of serving pays is measured where the mount runs, not assumed: what it saves and
// what it costs (a wake-up, a switch between processes, a CPU's halt) weigh differently from one
// machine to the next (reply_writer.h and fuse_session.cc's bursts say which, measured). So the
// server tries both ways on its own traffic, in turns: one with it, one without, six times each.
// A turn is 150 intervals between events (replies, requests read) that came within 1 ms of each
// other (a client keeping the server busy; a caller that says when its stream rests counts up to
// its own bound), its first 2 ms left out while the new way settles (a thread waking up or
// stopping its spin). The way stays on only when at least four of the six paired ratios of mean
// intervals say events came at least 3% faster with it. A turn of ~5 ms is as long as a few of
// the scheduler's slices, and its mean moves by half either way: with bursts from 64 client
// threads on 2 CPUs the median of the six alone kept handing on in 2-4 of 16-18 mounts where
// serving in turn was 25% faster, and of 24 trials logged none that wrongly kept it had more than
// three pairs for it. The verdict holds 10 s; the first event after that starts the turns again
// (the machine's load, and the work, change). A trial starts with the way the last verdict chose,
// and a verdict that repeats the last holds twice as long as it did, up to 160 s: every trial
// runs half its turns the other way, and where the verdict stands that only costs (a short burst,
// run's git status after edits: 500 lstats, 20 ms with the trial's first turn handing on against
// 13-17 in turn).
//
// Header-only: a unit test compiles it alone and drives it with made-up times.
#pragma once

#include <algorithm>
#include <chrono>
#include <atomic>
#include <cstdint>
#include <mutex>

class Trial {
 public:
  static constexpr int kPairs = 6;
  static constexpr int kSamples = 150;
  static constexpr int64_t kSettleNs = 2000000;
  static constexpr int64_t kBusyNs = 1000000;
  static constexpr int64_t kKeepNs = 10000000000LL;
  static constexpr int64_t kKeepMaxNs = 16 * kKeepNs;
  static constexpr double kMargin = 0.97;
  static constexpr int kKeepPairs = 4;

  // busy_ns: the longest interval counted (kBusyNs: events of a busy stream). A caller that knows
  // when its stream stops and starts again (rest) counts longer ones: a way that makes the
  // server stall now and then must pay for its stalls.
  explicit Trial(int64_t busy_ns = kBusyNs) : busy_ns_(busy_ns) {}

  // The clock the callers' times are read from.
  static int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // The stream stopped (the queue found empty): the interval to the next event is not counted.
  void rest() {
    std::lock_guard<std::mutex> lock(mu_);
    resting_ = true;
  }

  // Whether the event at `now` (a reply made, a request read) takes the way on trial. Every serving
  // thread calls it; one that finds another counting follows the turn as it stands.
  bool offer(int64_t now) {
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (!lock.owns_lock()) return on_.load(std::memory_order_relaxed);
    // a thread that read its time before another's may take the lock after it: its gap would be
    // negative, and a turn's mean near zero would keep the way on (or make the ratio NaN)
    int64_t gap = now - last_;
    if (gap <= 0) return on_.load(std::memory_order_relaxed);
    last_ = now;
    if (resting_) {
      resting_ = false;
      gap = busy_ns_;  // not counted
    }
    if (!trying_) {
      if (now < verdict_until_) return on_.load(std::memory_order_relaxed);
      trying_ = true;
      turn_ = 0;
      // the way chosen last first (the first trial: with it)
      first_on_ = trials_.load(std::memory_order_relaxed) == 0 || on_.load(std::memory_order_relaxed);
      begin_turn(now);
      return true;
    }
    if (now - turn_start_ >= kSettleNs && gap < busy_ns_) {
      sum_ += gap;
      n_++;
    }
    if (n_ >= kSamples) end_turn(now);
    return on_.load(std::memory_order_relaxed);
  }

  struct Counts {
    uint64_t trials = 0, kept_on = 0;
  };
  Counts counts() const {
    return {trials_.load(std::memory_order_relaxed), kept_on_.load(std::memory_order_relaxed)};
  }

 private:
  void begin_turn(int64_t now) {
    on_.store((turn_ % 2 == 0) == first_on_, std::memory_order_relaxed);
    turn_start_ = now;
    sum_ = 0;
    n_ = 0;
  }

  void end_turn(int64_t now) {
    means_[turn_] = static_cast<double>(sum_) / n_;
    if (++turn_ < 2 * kPairs) {
      begin_turn(now);
      return;
    }
    double ratios[kPairs];
    // each pair's turn with the way over its turn without
    for (int i = 0; i < kPairs; i++) {
      double a = means_[2 * i], b = means_[2 * i + 1];
      ratios[i] = first_on_ ? a / b : b / a;
    }
    std::sort(ratios, ratios + kPairs);
    bool on = ratios[kKeepPairs - 1] < kMargin;  // at least kKeepPairs for it
    bool again = trials_.load(std::memory_order_relaxed) > 0 && on == last_verdict_;
    keep_ns_ = again ? std::min(2 * keep_ns_, kKeepMaxNs) : kKeepNs;
    last_verdict_ = on;
    on_.store(on, std::memory_order_relaxed);
    trying_ = false;
    verdict_until_ = now + keep_ns_;
    trials_.fetch_add(1, std::memory_order_relaxed);
    if (on) kept_on_.fetch_add(1, std::memory_order_relaxed);
  }

  const int64_t busy_ns_;
  std::mutex mu_;
  std::atomic<bool> on_{true};
  bool resting_ = false;
  bool trying_ = false;
  bool first_on_ = true;      // this trial's even turns are with the way
  bool last_verdict_ = true;
  int64_t keep_ns_ = kKeepNs;  // how long the last verdict holds
  int64_t verdict_until_ = 0;
  int64_t last_ = 0;
  int turn_ = 0;
  int64_t turn_start_ = 0;
  int64_t sum_ = 0;
  int n_ = 0;
  double means_[2 * kPairs] = {};
  std::atomic<uint64_t> trials_{0}, kept_on_{0};
};
