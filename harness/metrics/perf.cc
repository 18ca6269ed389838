#include "harness/metrics/perf.h"

#include <fcntl.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace heapmark::metrics::perf {
namespace {

struct Event {
  EventInfo info;
  uint32_t type;
  uint64_t config;
};

constexpr uint64_t kDtlbReadMiss =
    PERF_COUNT_HW_CACHE_DTLB | (PERF_COUNT_HW_CACHE_OP_READ << 8) | (PERF_COUNT_HW_CACHE_RESULT_MISS << 16);

const Event kTable[kEvents] = {
    {{"task-clock", false, false}, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK},
    {{"page-faults", false, false}, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS},
    {{"minor-faults", false, false}, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MIN},
    {{"major-faults", false, false}, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MAJ},
    {{"context-switches", false, true}, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES},
    {{"cpu-migrations", false, true}, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS},
    {{"cycles", true, false}, PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES},
    {{"instructions", true, false}, PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS},
    {{"cache-references", true, false}, PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_REFERENCES},
    {{"cache-misses", true, false}, PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES},
    {{"dTLB-load-misses", true, false}, PERF_TYPE_HW_CACHE, kDtlbReadMiss},
    {{"branch-misses", true, false}, PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES},
};

int open_event(const Event& e, bool exclude_kernel, int pid) noexcept {
  perf_event_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.type = e.type;
  attr.config = e.config;
  attr.inherit = 1;
  attr.exclude_hv = 1;
  attr.exclude_kernel = exclude_kernel ? 1 : 0;
  attr.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
  return static_cast<int>(syscall(SYS_perf_event_open, &attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC));
}

int paranoid_level() noexcept {
  int level = -99;
  if (FILE* f = std::fopen("/proc/sys/kernel/perf_event_paranoid", "r")) {
    if (std::fscanf(f, "%d", &level) != 1) level = -99;
    std::fclose(f);
  }
  return level;
}

}  // namespace

const EventInfo& event_info(size_t i) noexcept { return kTable[i].info; }

Counters::~Counters() {
  for (int fd : fd_)
    if (fd >= 0) ::close(fd);
}

void Counters::open(int pid) noexcept {
  for (size_t i = 0; i < kEvents; ++i) {
    const Event& e = kTable[i];
    int fd = open_event(e, false, pid);
    avail_[i] = {};
    if (fd < 0 && (errno == EACCES || errno == EPERM)) {
      // perf_event_paranoid >= 2 allows only user-space counting to the unprivileged.
      const int first = errno;
      if (e.info.kernel_only) {
        avail_[i].error = first;  // with exclude_kernel it would read 0: unavailable, not a zero
        continue;
      }
      fd = open_event(e, true, pid);
      avail_[i].user_only = fd >= 0;
    }
    if (fd < 0) {
      avail_[i].error = errno ? errno : EINVAL;
      continue;
    }
    fd_[i] = fd;
  }
}

bool Counters::any() const noexcept {
  for (int fd : fd_)
    if (fd >= 0) return true;
  return false;
}

void Counters::read(Reading& out) const noexcept {
  for (size_t i = 0; i < kEvents; ++i) {
    uint64_t v[3] = {0, 0, 0};
    if (fd_[i] >= 0 && ::read(fd_[i], v, sizeof v) != static_cast<ssize_t>(sizeof v)) v[0] = v[1] = v[2] = 0;
    out.value[i] = v[0];
    out.enabled_ns[i] = v[1];
    out.running_ns[i] = v[2];
  }
}

double delta(const Reading& from, const Reading& to, size_t i, bool* multiplexed) noexcept {
  const double d = static_cast<double>(to.value[i] - from.value[i]);
  const uint64_t enabled = to.enabled_ns[i] - from.enabled_ns[i], running = to.running_ns[i] - from.running_ns[i];
  if (running == 0 || running >= enabled) return d;
  if (multiplexed) *multiplexed = true;
  return d * static_cast<double>(enabled) / static_cast<double>(running);
}

const char* unavailable_reason(size_t i, const Availability& a, char* buf, size_t cap) noexcept {
  const EventInfo& e = kTable[i].info;
  const char* why = "";
  char p[160];
  if (a.error == EACCES || a.error == EPERM) {
    std::snprintf(p, sizeof p, "perf_event_paranoid=%d forbids it for this user%s", paranoid_level(),
                  e.kernel_only ? " (the event happens only in the kernel, so user-only counting would read 0)" : "");
    why = p;
  } else if (e.hardware && (a.error == ENOENT || a.error == EOPNOTSUPP || a.error == ENODEV)) {
    why = "this machine has no hardware PMU (a virtual machine without PMU passthrough)";
  } else if (a.error == ENOSYS) {
    why = "the kernel has no perf_event_open";
  } else if (a.error == EMFILE) {
    why = "out of file descriptors";
  }
  std::snprintf(buf, cap, "perf_event_open: %s (errno %d)%s%s", std::strerror(a.error), a.error, *why ? ": " : "", why);
  return buf;
}

}  // namespace heapmark::metrics::perf
