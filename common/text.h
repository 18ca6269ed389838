// Small text helpers every layer shares.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace heapmark {

// "a,b,c" -> {a, b, c}. An empty string gives no items; otherwise every item
// is kept, empty ones too, so "glibc,,jemalloc" is reported rather than ignored.
inline std::vector<std::string> split_list(const std::string& s, char sep = ',') {
  std::vector<std::string> out;
  if (s.empty()) return out;
  for (size_t start = 0;;) {
    const size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) return out;
    start = p + 1;
  }
}

// FNV-1a 64 of `text` as 16 hex digits: a digest that names content (a plan, a machine type).
inline std::string digest_hex(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ull;
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

}  // namespace heapmark
