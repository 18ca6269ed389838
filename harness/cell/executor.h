// The one interpreter of op programs. It times each allocator call with the TSC,
// keeps the pointer table and live-byte bookkeeping, touches memory outside the
// timed window, and reports phase boundaries to the runner. Everything it
// touches during measurement was mapped and faulted in by setup (Scratch).
#pragma once
#include <cstdint>

#include "allocators/registry/hooks.h"
#include "harness/cell/protocol.h"
#include "harness/cell/shared_page.h"
#include "harness/metrics/histogram.h"
#include "workloads/op.h"
#include "workloads/scratch.h"

namespace heapmark::cell {

enum class Touch { kNone, kPages, kFull };

struct ExecutorConfig {
  int event_fd = kEventFd;
  SharedPage* shared = nullptr;  // may be null (tests)
  Touch touch = Touch::kPages;
  double tsc_hz = 0;
};

class Executor {
 public:
  // Maps the pointer table, histograms and op buffer for `program` in `scratch`.
  Executor(const ExecutorConfig& config, const registry::Hooks& hooks, workloads::Program& program,
           workloads::Scratch& scratch);

  // Runs the whole program. Returns false if the runner went away.
  bool run() noexcept;
  // Sends histograms and the final Result (call after run()).
  bool finish() noexcept;

  const metrics::Histogram& histogram(workloads::OpKind k) const noexcept { return hist_[static_cast<int>(k)]; }
  const Result& result() const noexcept { return result_; }

 private:
  struct Slot {
    void* p;
    uint64_t size;
    uint64_t usable;
  };

  void begin_phase(uint32_t index) noexcept;
  bool end_phase() noexcept;
  void do_alloc(const workloads::Op& op) noexcept;
  void do_free(const workloads::Op& op) noexcept;
  void do_realloc(const workloads::Op& op) noexcept;
  void touch(void* p, uint64_t from, uint64_t to) const noexcept;
  void note_live(uint64_t tsc) noexcept;
  uint64_t tsc_to_ns(uint64_t tsc) const noexcept;

  ExecutorConfig config_;
  const registry::Hooks& hooks_;
  workloads::Program& program_;
  Slot* slots_;
  uint32_t slot_count_;
  metrics::Histogram* hist_;  // one per OpKind
  workloads::Op* buffer_;
  size_t buffer_cap_;
  unsigned char* hist_wire_;  // sparse histogram message buffer

  workloads::Checksum checksum_;
  Result result_{};
  uint64_t live_ = 0, live_usable_ = 0, live_blocks_ = 0;
  bool phase_open_ = false;
  uint32_t phase_ = 0;
  uint64_t phase_ops_ = 0, phase_cycles_ = 0;
  uint64_t tsc_anchor_ = 0, ns_anchor_ = 0;
  uint64_t peak_tsc_ = 0;
  bool runner_alive_ = true;
};

}  // namespace heapmark::cell
