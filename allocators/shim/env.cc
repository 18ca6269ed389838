// Strict settings parsers and environment readers (see env.h).
#include "shim/env.h"

#include <stdlib.h>
#include <string.h>

#include "shim/diag.h"

namespace heapmark::shim {
namespace {

// Reads at least one decimal digit at s, advancing it; false on none or overflow.
bool digits(const char*& s, uint64_t* out) noexcept {
  if (!s || *s < '0' || *s > '9') return false;
  uint64_t v = 0;
  for (; *s >= '0' && *s <= '9'; ++s)
    if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, unsigned(*s - '0'), &v)) return false;
  *out = v;
  return true;
}

[[noreturn]] void bad_value(const char* who, const char* var, const char* value, const char* const* names, size_t n,
                            const char* what) noexcept {
  char line[512];
  TextOut o{line, sizeof line};
  o.put(who);
  o.put(": ");
  o.put(var);
  o.put("='");
  o.put(value);
  o.put("' ");
  o.put(what);
  for (size_t i = 0; i < n; ++i) {
    if (i) o.put("|");
    o.put(names[i]);
  }
  write_line(o);
  ::abort();
}

// getenv, then the parser; aborts naming `what` when the value does not parse.
template <class T, class Parse>
bool read(const char* who, const char* var, T* out, Parse parse, const char* what) noexcept {
  const char* v = getenv(var);
  if (!v) return false;
  if (!parse(v, out)) bad_value(who, var, v, nullptr, 0, what);
  return true;
}

}  // namespace

bool parse_size(const char* s, size_t* out) noexcept {
  uint64_t v;
  if (!digits(s, &v)) return false;
  unsigned shift = 0;
  switch (*s) {
    case 'k':
    case 'K': shift = 10; break;
    case 'm':
    case 'M': shift = 20; break;
    case 'g':
    case 'G': shift = 30; break;
    default: break;
  }
  if (shift) {
    ++s;
    if (s[0] == 'i' && s[1] == 'B') s += 2;
    else if (s[0] == 'B') ++s;
  }
  if (*s || v > (SIZE_MAX >> shift)) return false;
  *out = size_t(v) << shift;
  return true;
}

bool parse_count(const char* s, size_t* out) noexcept {
  uint64_t v;
  if (!digits(s, &v) || *s || v > SIZE_MAX) return false;
  *out = size_t(v);
  return true;
}

bool parse_ms(const char* s, uint64_t* out) noexcept {
  uint64_t v;
  if (!digits(s, &v)) return false;
  if (strcmp(s, "s") == 0) {
    if (__builtin_mul_overflow(v, 1000u, &v)) return false;
  } else if (*s && strcmp(s, "ms") != 0) {
    return false;
  }
  *out = v;
  return true;
}

bool parse_flag(const char* s, bool* out) noexcept {
  if (!s || (strcmp(s, "0") != 0 && strcmp(s, "1") != 0)) return false;
  *out = s[0] == '1';
  return true;
}

int parse_choice(const char* s, const char* const* names, size_t n) noexcept {
  if (!s) return -1;
  for (size_t i = 0; i < n; ++i)
    if (strcmp(s, names[i]) == 0) return int(i);
  return -1;
}

bool env_size(const char* who, const char* var, size_t* out) noexcept {
  return read(who, var, out, parse_size, "is not a size (e.g. 8M, 8MiB, 8388608)");
}

bool env_count(const char* who, const char* var, size_t* out) noexcept {
  return read(who, var, out, parse_count, "is not a number (e.g. 8)");
}

bool env_ms(const char* who, const char* var, uint64_t* out) noexcept {
  return read(who, var, out, parse_ms, "is not a duration in milliseconds (e.g. 500, 500ms, 2s)");
}

bool env_flag(const char* who, const char* var, bool* out) noexcept {
  return read(who, var, out, parse_flag, "is not 0 or 1");
}

bool env_choice(const char* who, const char* var, const char* const* names, size_t n, int* out) noexcept {
  const char* v = getenv(var);
  if (!v) return false;
  int i = parse_choice(v, names, n);
  if (i < 0) bad_value(who, var, v, names, n, "is not one of ");
  *out = i;
  return true;
}

}  // namespace heapmark::shim
