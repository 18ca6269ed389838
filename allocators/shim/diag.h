// Diagnostics for allocator cores, which ARE malloc: no stdio, no heap. Text is
// formatted into a caller's buffer and written to stderr with one raw write(2).
#pragma once
#include <stddef.h>

namespace heapmark::shim {

// Appends to buf[0, len): output past len-1 is counted in pos but dropped, so
// pos + 1 is the buffer size the whole text needed.
struct TextOut {
  char* buf;
  size_t len;
  size_t pos = 0;
  void put(const char* s) noexcept;
  void num(unsigned long long v) noexcept;
  void hex(unsigned long long v) noexcept;  // "0x..." lower case
  void finish() noexcept;                   // NUL-terminates (truncating)
};

// Writes o's text plus a newline to stderr in one write(2); a text too long for
// o's buffer is cut, never its newline.
void write_line(TextOut& o) noexcept;

// Writes "<who>: <what>\n" to stderr and aborts. The one fatal-error path of
// every core ("buddy: free(): double free detected").
[[noreturn, gnu::cold]] void die(const char* who, const char* what) noexcept;

}  // namespace heapmark::shim
