// The op program: what every workload generates and the one executor runs.
//
// A workload is a deterministic (seeded) generator of one op stream per thread.
// Streams are produced in bounded chunks (Program::next), so the harness's own
// footprint does not grow with the op count, and generation never allocates
// from the allocator under test: its state lives in Scratch memory (mmap).
#pragma once
#include <cstddef>
#include <cstdint>

namespace heapmark::workloads {

enum class OpKind : uint8_t {
  kAlloc = 0,     // id, size (align > 0: aligned allocation)
  kFree = 1,      // id
  kRealloc = 2,   // id, size
  kPhase = 3,     // id = phase index into Program::phase_name
  kIdle = 4,      // size = milliseconds without allocator calls (kUntilReturned: see WaitSpec)
  kSend = 5,      // id: hand the live block to another thread (size = that thread's index)
  kRecv = 6,      // id: wait until the block was sent to this thread; it is then this thread's
  kRelease = 7,   // call the allocator's explicit release hook on this thread (malloc_trim(0), mi_collect(true), ...)
  kActivity = 8,  // allocator activity like a program's (WaitSpec): size = milliseconds; untimed calls of
                  // mixed sizes over a working set, counted as live while they are (kUntilReturned: see WaitSpec)
};
inline constexpr int kOpKinds = 9;
const char* op_kind_name(OpKind k) noexcept;

// Op::flags.
// kUntilReturned on kIdle / kActivity: the phase waits for the allocator to give
// the freed memory back. It ends once RSS is back near the live bytes, or when
// the allocator's own return horizon (registry::Horizon, plus a margin) has
// passed, or at WaitSpec::max_ms. An idle wait lasts beyond `size` only for an
// allocator that returns memory from a background thread.
inline constexpr uint16_t kUntilReturned = 1;

// How a program's waits behave (Program::wait_spec).
struct WaitSpec {
  uint64_t max_ms = 30'000;       // the stated maximum of a kUntilReturned wait
  uint32_t activity_rate = 64;    // allocator calls per millisecond of activity, per thread
  uint32_t activity_slots = 256;  // working set: a call frees the slot's block if it is live, else fills it
  uint64_t activity_min = 16, activity_max = 8192;  // log-uniform block sizes: every small size class
  // Seeds the activity's sequence: the program's seed, so each repetition of a
  // block draws its own sequence and every allocator of the block the same one
  // (what follows the frees decides, for glibc, whether they come back).
  uint64_t seed = 0;
};
inline constexpr uint32_t kMaxActivitySlots = 4096;

struct Op {
  OpKind kind;
  uint8_t align_log2;  // kAlloc: 0 for malloc, else aligned allocation of 2^align_log2
  uint16_t flags;      // kUntilReturned
  uint32_t id;         // block id, dense in [0, Program::max_ids())
  uint64_t size;       // bytes (kAlloc, kRealloc) or milliseconds (kIdle)
  // kAlloc, kRealloc: where the block comes from, carried with it for the
  // attribution at phase ends. Not part of the checksum: the same program with
  // or without sites is the same program.
  uint32_t site = 0;     // allocation site, 1..Program::site_count(); 0 = none
  uint32_t born_ms = 0;  // the program's clock (Program::clock_ms) when it was made
};
static_assert(sizeof(Op) == 24);

// Incremental checksum over the program's ops: equal checksums mean equal
// programs, so comparisons can prove they compared like with like. A word at a
// time (multiply, xor-shift), not FNV-1a's byte at a time: it runs for every op
// of every cell, and FNV's 24 dependent multiplies per op were about a fifth of
// a trace replay's own time.
struct Checksum {
  uint64_t h = 0xcbf29ce484222325ull;
  void add(const Op& op) noexcept {
    const uint64_t words[3] = {
        static_cast<uint64_t>(op.kind) | (uint64_t{op.align_log2} << 8) | (uint64_t{op.flags} << 16), op.id, op.size};
    for (uint64_t w : words) {
      h = (h ^ w) * 0x9e3779b97f4a7c15ull;
      h ^= h >> 29;
    }
  }
};

// One thread's op stream. A workload with several threads gives one Program per
// thread; they share one id space (a block allocated on one thread and freed on
// another keeps its id), and every thread's program has the same phases in the
// same order: the executor starts each phase on all threads together.
class Program {
 public:
  virtual ~Program() = default;
  // Writes up to `cap` ops into `out`; returns how many. 0 means the program is done.
  virtual size_t next(Op* out, size_t cap) noexcept = 0;
  // Ids are dense: every op's id is below this.
  virtual uint32_t max_ids() const noexcept = 0;
  // Name of phase `index` (static storage).
  virtual const char* phase_name(uint32_t index) const noexcept = 0;
  virtual uint32_t phase_count() const noexcept = 0;
  // False for a program whose block ids, and where its phases fall among its
  // calls, depend on how its threads interleave (a recorded trace of several
  // threads): its checksum then covers the other ops' kinds and sizes, in order.
  virtual bool checksum_exact() const noexcept { return true; }
  // Allocation sites its ops name (Op::site), and the program's own clock in ms
  // (a trace's recorded time; Op::born_ms counts on it), 0 where it has none.
  virtual uint32_t site_count() const noexcept { return 0; }
  virtual uint64_t clock_ms() const noexcept { return 0; }
  // The time on that clock that the whole program has reached: every event
  // before it, of any thread, has been handed out (the RSS timeline's clock).
  virtual uint64_t reached_ms() const noexcept { return clock_ms(); }
  // How this program's idle and activity ops behave.
  virtual const WaitSpec& wait_spec() const noexcept {
    static const WaitSpec defaults;
    return defaults;
  }
};

}  // namespace heapmark::workloads
