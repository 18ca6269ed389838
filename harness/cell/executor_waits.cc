// The executor's waits: idle and activity phases (kIdle, kActivity), fixed or
// until the allocator has given the freed memory back, with one thread per
// phase watching RSS for every waiting thread.
#include <time.h>

#include <algorithm>
#include <cmath>

#include "harness/cell/executor.h"
#include "harness/cell/executor_internal.h"
#include "harness/metrics/fragmentation.h"
#include "harness/metrics/procfs.h"
#include "harness/metrics/tsc.h"
#include "workloads/rng.h"

namespace heapmark::cell {

using workloads::Op;
using workloads::OpKind;
namespace tsc = metrics::tsc;

// How long a wait op may last. A fixed one: its own length. One that waits
// for the memory to come back: for activity, the allocator's return horizon
// plus a margin (its decay curve must have run out, so a slow start is not
// judged "retained"); for idle, the same where a background thread returns
// memory, else its own length (an idle process gets nothing back otherwise).
uint64_t Executor::wait_plan_ms(const Op& op, const workloads::WaitSpec& w) const noexcept {
  if (!(op.flags & workloads::kUntilReturned)) return op.size;
  if (op.kind == OpKind::kIdle && !horizon_.background) return std::min(op.size, w.max_ms);
  if (horizon_.ms == UINT64_MAX) return w.max_ms;
  const uint64_t margin = std::max<uint64_t>(1000, horizon_.ms / 5);
  return std::min(w.max_ms, horizon_.ms + margin);
}

// One millisecond of activity: `activity_rate` calls, each on a random slot of
// the working set, freeing its block if it is live, else allocating one of a
// log-uniform size (every small size class gets traffic, as in a program).
void Executor::activity_step(Thread& t, const workloads::WaitSpec& w) noexcept {
  const uint32_t slots = std::min(w.activity_slots, workloads::kMaxActivitySlots);
  const double span = std::log(static_cast<double>(w.activity_max) / static_cast<double>(w.activity_min));
  for (uint32_t i = 0; i < w.activity_rate; ++i) {
    const uint64_t r = workloads::splitmix64(t.act_rng);
    const uint32_t k = static_cast<uint32_t>(r % slots);
    if (t.act_ptr[k]) {
      free(t.act_ptr[k]);
      add_live(-static_cast<int64_t>(t.act_size[k]), 0, -1, 0);
      activity_live_.fetch_sub(t.act_size[k], std::memory_order_relaxed);
      t.act_ptr[k] = nullptr;
      continue;
    }
    const double u = static_cast<double>(r >> 11) * 0x1.0p-53;
    const uint64_t size = static_cast<uint64_t>(static_cast<double>(w.activity_min) * std::exp(u * span));
    void* p = malloc(size);
    g_sink = p;
    if (!p) continue;
    static_cast<volatile unsigned char*>(p)[0] = 1;  // a program writes what it allocates
    t.act_ptr[k] = p;
    t.act_size[k] = size;
    const uint64_t live = activity_live_.fetch_add(size, std::memory_order_relaxed) + size;
    add_live(static_cast<int64_t>(size), 0, 1, 0);
    uint64_t peak = activity_peak_live_.load(std::memory_order_relaxed);
    while (live > peak && !activity_peak_live_.compare_exchange_weak(peak, live)) {
    }
  }
  activity_ops_.fetch_add(w.activity_rate, std::memory_order_relaxed);
}

void Executor::activity_drain(Thread& t) noexcept {
  const uint32_t slots = std::min(t.program->wait_spec().activity_slots, workloads::kMaxActivitySlots);
  for (uint32_t k = 0; k < slots; ++k)
    if (t.act_ptr[k]) {
      free(t.act_ptr[k]);
      add_live(-static_cast<int64_t>(t.act_size[k]), 0, -1, 0);
      activity_live_.fetch_sub(t.act_size[k], std::memory_order_relaxed);
      t.act_ptr[k] = nullptr;
    }
}

// The watcher's RSS check: notes when 3/4 of the returnable memory is back and
// says whether the wait may end (RSS back at the live level, MADV_FREE'd pages
// counted as back). smaps_rollup, not statm, for LazyFree; nothing is timed here.
bool Executor::watch(uint64_t now) noexcept {
  metrics::procfs::SmapsRollup s;
  if (!metrics::procfs::read_smaps_rollup("/proc/self/smaps_rollup", s)) return false;
  const double r = static_cast<double>(static_cast<int64_t>(s.anonymous) - static_cast<int64_t>(r0_));
  const double live = static_cast<double>(live_.load(std::memory_order_relaxed));
  const double peak = static_cast<double>(max_phase_r_);
  const auto real = metrics::returned_share(peak, r, live);
  if (!real) return true;  // nothing worth waiting for
  if (*real >= metrics::kReturnedShare && returned_t_ns_.load(std::memory_order_relaxed) == 0)
    returned_t_ns_.store(now, std::memory_order_relaxed);
  const auto back = metrics::returned_share(peak, r - static_cast<double>(s.lazy_free), live);
  return back && *back >= metrics::kBackShare;
}

void Executor::wait(Thread& t, const Op& op) noexcept {
  const workloads::WaitSpec& w = t.program->wait_spec();
  const bool active = op.kind == OpKind::kActivity;
  const bool until_returned = op.flags & workloads::kUntilReturned;
  const uint64_t plan = wait_plan_ms(op, w);
  const uint64_t start = tsc::monotonic_ns(), deadline = start + plan * 1'000'000;
  const auto kind = static_cast<uint8_t>(active ? WaitKind::kActivity : WaitKind::kIdle);
  for (uint8_t k = wait_kind_.load(); k < kind && !wait_kind_.compare_exchange_weak(k, kind);) {
  }
  // The first thread to wait in this phase watches RSS for every waiting thread.
  uint32_t expected = watcher_phase_.load();
  const bool watcher =
      until_returned && expected != phase_ + 1 && watcher_phase_.compare_exchange_strong(expected, phase_ + 1);
  if (watcher || !until_returned) wait_planned_ms_.store(plan, std::memory_order_relaxed);
  // Why it ends if it runs its course: its own length, the horizon, or the maximum.
  const bool fixed = !until_returned || (!active && !horizon_.background);
  WaitStop stop = fixed ? WaitStop::kFixed : plan == w.max_ms ? WaitStop::kMax : WaitStop::kHorizon;
  constexpr uint64_t kCheckNs = 50'000'000;
  uint64_t next_check = start, tick = start;
  for (uint64_t now = start; now < deadline; now = tsc::monotonic_ns()) {
    if (until_returned && now >= next_check) {
      next_check = now + kCheckNs;
      if (watcher && watch(now)) wait_done_.store(true, std::memory_order_relaxed);
      if (wait_done_.load(std::memory_order_relaxed)) {
        stop = WaitStop::kReturned;
        break;
      }
    }
    uint64_t wake;
    if (active) {
      activity_step(t, w);
      tick = std::max(tick + 1'000'000, now);  // a millisecond grid; no burst after falling behind
      wake = tick;
    } else {
      wake = until_returned ? next_check : deadline;
    }
    // A release schedule goes on while the program waits, as a service's timer does when it is idle.
    if (calls_release(t)) {
      scheduled_release(t);
      wake = std::min(wake, now + config_.release_every_ns);
    }
    wake = std::min(wake, deadline);
    const timespec ts{static_cast<time_t>(wake / 1'000'000'000), static_cast<long>(wake % 1'000'000'000)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
  }
  if (active) activity_drain(t);
  if (watcher) wait_stop_.store(static_cast<uint8_t>(stop), std::memory_order_relaxed);
  else if (!until_returned && wait_stop_.load(std::memory_order_relaxed) == 0)
    wait_stop_.store(static_cast<uint8_t>(WaitStop::kFixed), std::memory_order_relaxed);
}

}  // namespace heapmark::cell
