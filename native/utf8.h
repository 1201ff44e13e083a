// The UTF-8 check RFC 3629 asks (no overlong forms, no surrogates, nothing above U+10FFFF), over
// len bytes, none of them NUL: names from the kernel (fuse_session.cc) and names and symlink
// targets read from the database (reader.cc) both go through it.
#pragma once

#include <cstddef>

inline bool utf8_valid(const unsigned char* s, size_t len) {
  const unsigned char* end = s + len;
  while (s < end) {
    unsigned c = *s;
    if (c == 0) return false;
    if (c < 0x80) { s++; continue; }
    int n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 1;
    else if (c == 0xE0) { n = 2; lo = 0xA0; }
    else if (c == 0xED) { n = 2; hi = 0x9F; }
    else if (c >= 0xE1 && c <= 0xEF) n = 2;
    else if (c == 0xF0) { n = 3; lo = 0x90; }
    else if (c == 0xF4) { n = 3; hi = 0x8F; }
    else if (c >= 0xF1 && c <= 0xF3) n = 3;
    else return false;
    s++;
    if (s >= end || *s < lo || *s > hi) return false;
    s++;
    for (int i = 1; i < n; i++, s++) if (s >= end || *s < 0x80 || *s > 0xBF) return false;
  }
  return true;
}
