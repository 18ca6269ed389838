// Kernel event counters (perf_event_open) for a process (the calling one, or a
// child the caller started) and the threads it creates after open(): software
// events always, hardware events
// where the machine has a PMU. An event that cannot be opened is recorded as
// unavailable with its errno, never as a zero. Counting costs nothing per
// allocator call; a reading is one read(2) per event, done at phase edges,
// outside every timed window.
//
// Each event is its own counter with inherit=1 (the kernel refuses inherit for
// groups that are read as one), so a reading sums the process's threads, and
// hardware events may be multiplexed when there are more than the PMU has
// counters: a reading is then scaled by time enabled / time running, and says so.
#pragma once
#include <cstddef>
#include <cstdint>

namespace heapmark::metrics::perf {

inline constexpr size_t kEvents = 12;

struct EventInfo {
  const char* name;  // "page-faults", "cycles", as perf(1) names them
  bool hardware;
  bool kernel_only;  // happens only in the kernel: counts nothing with exclude_kernel
};
const EventInfo& event_info(size_t i) noexcept;

// Why an event is not counted (errno 0: it is).
struct Availability {
  int error = 0;
  bool user_only = false;  // counted with exclude_kernel (perf_event_paranoid forbade the kernel part)
};

struct Reading {
  uint64_t value[kEvents] = {};
  uint64_t enabled_ns[kEvents] = {}, running_ns[kEvents] = {};
};

class Counters {
 public:
  Counters() = default;
  ~Counters();
  Counters(const Counters&) = delete;
  Counters& operator=(const Counters&) = delete;

  // Opens every event for process `pid` (0: this one; any CPU, inherit): call
  // before it creates the threads it should count. The counts stay readable
  // after that process exits (its final counts, as perf stat reads them).
  void open(int pid = 0) noexcept;
  bool any() const noexcept;
  const Availability& availability(size_t i) const noexcept { return avail_[i]; }
  // One reading of every open counter (unopened ones read 0 and stay unavailable).
  void read(Reading& out) const noexcept;

 private:
  int fd_[kEvents] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
  Availability avail_[kEvents];
};

// The count between two readings, scaled up when the counter was multiplexed
// (running < enabled); `multiplexed` is set then.
double delta(const Reading& from, const Reading& to, size_t i, bool* multiplexed) noexcept;

// One line on why an event is unavailable, for the results: errno, its name,
// and what it means here ("no hardware PMU", "perf_event_paranoid=2 forbids").
const char* unavailable_reason(size_t i, const Availability& a, char* buf, size_t cap) noexcept;

}  // namespace heapmark::metrics::perf
