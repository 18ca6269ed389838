#include "harness/cell/placement.h"

#include <cstdio>

namespace heapmark::cell {

void format_cpus(const cpu_set_t& set, char* out, size_t len) noexcept {
  if (len == 0) return;
  size_t n = 0;
  out[0] = '\0';
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (!CPU_ISSET(c, &set)) continue;
    int last = c;
    while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, &set)) ++last;
    char item[32];
    const int w = last == c ? std::snprintf(item, sizeof item, "%s%d", n ? "," : "", c)
                            : std::snprintf(item, sizeof item, "%s%d-%d", n ? "," : "", c, last);
    if (n + static_cast<size_t>(w) + 4 > len) {
      std::snprintf(out + n, len - n, "...");
      return;
    }
    std::snprintf(out + n, len - n, "%s", item);
    n += static_cast<size_t>(w);
    c = last;
  }
}

void current_cpus(char* out, size_t len) noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) {
    std::snprintf(out, len, "?");
    return;
  }
  format_cpus(set, out, len);
}

int place(int cpu, size_t threads, const cpu_set_t& started_with) noexcept {
  if (cpu >= 0 && threads == 1) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) == 0) return cpu;
  }
  sched_setaffinity(0, sizeof started_with, &started_with);
  return -1;
}

}  // namespace heapmark::cell
