// Numbers on the command line. CLI11's Range lets "nan" through (every
// comparison with NaN is false) and its integer reader takes "-1" for an
// unsigned option as 2^64-1; these checks read the text themselves: a finite
// number, no trailing characters, no sign where none is valid, inside the range.
#pragma once
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>

namespace heapmark::cli {

namespace detail {
template <typename T>
std::string shown(T v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// Reads `text` as a T: false for anything but a whole, finite number of T's range.
template <typename T>
bool read_number(const std::string& text, T& out) {
  // Decimal only: strtod would also take hex ("0x10"), "infinity" and "nan(...)".
  if (text.empty() || text.find_first_not_of("0123456789.eE+-") != std::string::npos) return false;
  char* end = nullptr;
  errno = 0;
  if constexpr (std::is_floating_point_v<T>) {
    const double v = std::strtod(text.c_str(), &end);
    if (*end || errno == ERANGE || !std::isfinite(v)) return false;
    out = static_cast<T>(v);
  } else if constexpr (std::is_unsigned_v<T>) {
    if (text[0] == '-') return false;
    const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    if (*end || errno == ERANGE || v > std::numeric_limits<T>::max()) return false;
    out = static_cast<T>(v);
  } else {
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (*end || errno == ERANGE || v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) return false;
    out = static_cast<T>(v);
  }
  return true;
}
}  // namespace detail

// A number from lo to hi inclusive; the message names the value and the range.
template <typename T>
CLI::Validator within(T lo, T hi) {
  const std::string range = detail::shown(lo) + " to " + detail::shown(hi);
  return CLI::Validator(
      [lo, hi, range](std::string& text) -> std::string {
        T v{};
        if (!detail::read_number(text, v) || v < lo || v > hi)
          return "'" + text + "' is not " + (std::is_integral_v<T> ? "a whole number" : "a number") + " from " + range;
        return {};
      },
      "in [" + range + "]");
}

// Gives every numeric option of `app` and its subcommands that has no check of
// its own the basic one: a finite number, and no minus sign for an unsigned
// option. A new option is covered without anyone remembering to add it.
void guard_numbers(CLI::App& app);

}  // namespace heapmark::cli
