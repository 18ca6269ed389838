// Raw-write diagnostics (see diag.h).
#include "shim/diag.h"

#include <stdlib.h>
#include <unistd.h>

namespace heapmark::shim {

void TextOut::put(const char* s) noexcept {
  for (; *s; ++s, ++pos)
    if (pos + 1 < len) buf[pos] = *s;
}

void TextOut::num(unsigned long long v) noexcept {
  char t[24];
  int n = 0;
  do t[n++] = char('0' + v % 10);
  while ((v /= 10) != 0);
  char s[24];
  for (int i = 0; i < n; ++i) s[i] = t[n - 1 - i];
  s[n] = 0;
  put(s);
}

void TextOut::hex(unsigned long long v) noexcept {
  char s[20] = "0x";
  int n = 2;
  bool started = false;
  for (int sh = 60; sh >= 0; sh -= 4) {
    unsigned d = (v >> sh) & 15;
    if (d || started || sh == 0) {
      s[n++] = "0123456789abcdef"[d];
      started = true;
    }
  }
  s[n] = 0;
  put(s);
}

void TextOut::finish() noexcept {
  if (len) buf[pos < len ? pos : len - 1] = 0;
}

void write_line(TextOut& o) noexcept {
  if (o.len == 0) return;
  size_t n = o.pos < o.len - 1 ? o.pos : o.len - 1;
  o.buf[n] = '\n';
  (void)!::write(2, o.buf, n + 1);
}

void die(const char* who, const char* what) noexcept {
  char line[512];
  TextOut o{line, sizeof line};
  o.put(who);
  o.put(": ");
  o.put(what);
  write_line(o);
  ::abort();
}

}  // namespace heapmark::shim
