// What the kernel was sent of each inode (Reader::sent_attrs): when its attributes last went (or
// NOT_HELD since a change) and its file type. Open addressing over one array: a listing asks for
// every entry, and std::unordered_map's node per entry cost a cache miss or two a lookup (4.5% of
// the server's samples in a `find`). Entries are never erased one by one (a change marks them
// NOT_HELD), so linear probing needs no tombstones.
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
    if ((count_ + 1) * 2 > slots_.size()) grow();
    size_t i = index(ino);
    while (slots_[i].ino != 0) i = (i + 1) & (slots_.size() - 1);
    slots_[i].ino = ino;
    count_++;
    return &slots_[i];
  }

  void clear() {
    slots_.clear();
    slots_.shrink_to_fit();
    count_ = 0;
    shift_ = 64;
  }

  size_t size() const { return count_; }

 private:
  size_t max_;
  std::vector<Slot> slots_;  // a power of two long, at most half full; or empty
  size_t count_ = 0;
  int shift_ = 64;  // 64 - log2(slots_.size())

  // Fibonacci hashing: consecutive inode numbers land far apart
  size_t index(uint64_t ino) const { return (size_t)((ino * 0x9E3779B97F4A7C15ull) >> shift_); }

  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    size_t n = old.empty() ? 1024 : old.size() * 2;
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
