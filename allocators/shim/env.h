// Settings from the environment, for allocator cores (read once, at init). One
// strict parser per kind of value: a misconfigured run must stop, not silently
// measure a default. No heap, no stdio: getenv and raw write(2) only.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace heapmark::shim {

// Parsers: true and *out for a well-formed value; false for anything else
// (null, empty, a sign or space, trailing characters, overflow), *out untouched.
//
// Bytes: decimal digits, optionally k/K, m/M or g/G (2^10, 2^20, 2^30), which
// may be followed by "iB" or "B": 8M, 8m, 8MiB and 8MB all mean 8388608.
bool parse_size(const char* s, size_t* out) noexcept;
// A plain decimal number: "8".
bool parse_count(const char* s, size_t* out) noexcept;
// Milliseconds: digits, optionally "ms", or "s" for seconds: 500 = 500ms, 2s = 2000.
bool parse_ms(const char* s, uint64_t* out) noexcept;
// "0" or "1".
bool parse_flag(const char* s, bool* out) noexcept;
// The index of s in names[0, n), or -1.
int parse_choice(const char* s, const char* const* names, size_t n) noexcept;

// Readers: false when `var` is unset (*out untouched), true and *out when its
// value parses. Any other value aborts after one line on stderr naming the
// variable, the value and a valid example, prefixed by `who`:
//   heapmark buddy: HEAPMARK_BUDDY_DECOMMIT_THRESHOLD='8XB' is not a size (e.g. 8M, 8MiB, 8388608)
bool env_size(const char* who, const char* var, size_t* out) noexcept;
bool env_count(const char* who, const char* var, size_t* out) noexcept;
bool env_ms(const char* who, const char* var, uint64_t* out) noexcept;
bool env_flag(const char* who, const char* var, bool* out) noexcept;
// names[i] is the value meaning i: "heapmark slab: HEAPMARK_SLAB_DECOMMIT='lazy'
// is not one of eager|threshold|never".
bool env_choice(const char* who, const char* var, const char* const* names, size_t n, int* out) noexcept;

// For an enum whose values are 0..N-1 in the order of `names`.
template <class Enum, size_t N>
bool env_choice(const char* who, const char* var, const char* const (&names)[N], Enum* out) noexcept {
  int i;
  if (!env_choice(who, var, names, N, &i)) return false;
  *out = static_cast<Enum>(i);
  return true;
}

}  // namespace heapmark::shim
