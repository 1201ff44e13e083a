// What the kernel was sent of each inode (Reader::sent_attrs): when its attributes last went (or
// NOT_HELD since a change) and its file type. Open addressing over one array: a listing asks for
// every entry, and std::unordered_map's node per entry cost a cache miss or two a lookup (4.5% of
// the server's samples in a `find`). Entries are never erased one by one (a change marks them
// NOT_HELD), so linear probing needs no tombstones.
//
// A directory's entries mostly have neighbouring inode numbers (made one after another), so runs
// of BLOCK consecutive numbers keep consecutive slots and only the runs are scattered: a listing
// of 5,000 fresh files reads the table's memory in ~300 short stretches, not 5,000 random places.
// Scattering every number cost a cache (and TLB) miss per entry, exposed behind each SQLite step
// and lock: 85% of the addon's readdir time, the bench's listing 2.9 ms against 2.2 now. Runs of
// 16 rather than 64: as fast here, and shorter probes where runs land on each other (numbers 1 to
// 5,000 and 16,385 to 19,384 in 16,384 slots: 4 a lookup on average against 13).
//
// Runs spaced so that many land together (a hostile pass: 500 runs of 16 numbers, each 329
// numbers after the last, 650 probes a lookup; runs a Fibonacci number of runs apart, thousands)
// make an insert probe far: past LONG_PROBE slots the table hashes every number on its own again
// (scattered), as before runs, until it is cleared: those two then take under 1 probe a lookup.

#pragma once

#include <climits>
#include <cstddef>
#include <cstdint>
#include <vector>

class SentAttrs {
 public:
  static constexpr int64_t NOT_HELD = INT64_MIN;
  struct Slot {
    uint64_t ino = 0;  // 0: free (no inode has number 0)
    int64_t at = NOT_HELD;
    uint32_t type = 0;
  };

  explicit SentAttrs(size_t max) : max_(max) {}

  // ino's slot, or nullptr when it has none
  Slot* find(uint64_t ino) {
    if (ino == 0 || slots_.empty()) return nullptr;
    for (size_t i = index(ino);; i = (i + 1) & (slots_.size() - 1)) {
      Slot& s = slots_[i];
      if (s.ino == ino) return &s;
      if (s.ino == 0) return nullptr;
    }
  }
  const Slot* find(uint64_t ino) const { return const_cast<SentAttrs*>(this)->find(ino); }

  // ino's slot, made when missing (NOT_HELD, type 0); past max entries all are dropped first (a
  // hint only: the kernel is asked again). nullptr for inode 0.
  Slot* at(uint64_t ino) {
    if (ino == 0) return nullptr;
    if (Slot* s = find(ino)) return s;
    if (count_ >= max_) clear();
    if ((count_ + 1) * 2 > slots_.size()) rebuild(slots_.empty() ? 1024 : slots_.size() * 2);
    size_t i = index(ino);
    for (size_t probes = 0; slots_[i].ino != 0; probes++) {
      if (probes == LONG_PROBE && !scattered_) {
        scattered_ = true;
        rebuild(slots_.size());
        return at(ino);
      }
      i = (i + 1) & (slots_.size() - 1);
    }
    slots_[i].ino = ino;
    count_++;
    return &slots_[i];
  }

  void clear() {
    slots_.clear();
    slots_.shrink_to_fit();
    count_ = 0;
    shift_ = 64;
    scattered_ = false;
  }

  size_t size() const { return count_; }
  bool scattered() const { return scattered_; }

  // ino's place in the table (-1: none), and how many slots past its first one; for tests
  long slot_of(uint64_t ino) const {
    const Slot* s = find(ino);
    return s ? (long)(s - slots_.data()) : -1;
  }
  long probes(uint64_t ino) const {
    long at = slot_of(ino);
    return at < 0 ? -1 : (long)((at - index(ino)) & (slots_.size() - 1));
  }

 private:
  size_t max_;
  std::vector<Slot> slots_;  // a power of two long, at most half full; or empty
  size_t count_ = 0;
  int shift_ = 64;  // 64 - log2(slots_.size())
  bool scattered_ = false;  // every number hashed on its own (see LONG_PROBE)

  static constexpr uint64_t BLOCK = 16;  // numbers in a run; the table has at least 1,024 slots
  // an insert probing this far turns runs off: realistic patterns stay under 200 (40 runs of
  // 200 numbers, 1,000 apart: 183 at most, 15 on average)
  static constexpr size_t LONG_PROBE = 256;
  static constexpr uint64_t GOLDEN = 0x9E3779B97F4A7C15ull;

  // Fibonacci hashing of the run's number: runs land far apart, numbers within a run side by
  // side; scattered, of the number itself
  size_t index(uint64_t ino) const {
    if (scattered_) return (size_t)((ino * GOLDEN) >> shift_);
    return (size_t)((((ino / BLOCK) * GOLDEN) >> shift_) + (ino % BLOCK)) & (slots_.size() - 1);
  }

  // the slots again, n of them (a power of two, at least 1,024)
  void rebuild(size_t n) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(n, Slot{});
    shift_ = 64;
    for (size_t m = n; m > 1; m >>= 1) shift_--;
    for (const Slot& s : old) {
      if (s.ino == 0) continue;
      size_t i = index(s.ino);
      while (slots_[i].ino != 0) i = (i + 1) & (slots_.size() - 1);
      slots_[i] = s;
    }
  }
};
