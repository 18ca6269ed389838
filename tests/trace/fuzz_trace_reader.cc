// Fuzz target for the .hmt reader: any input either decodes or throws one
// InputError; it must never crash, hang or read outside the buffer.
#include <cstddef>
#include <cstdint>

#include "common/input_error.h"
#include "workloads/trace_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    heapmark::trace::Reader r(data, size, "fuzz-input");
    heapmark::trace::Event e;
    uint64_t n = 0;
    while (r.next(e)) {
      // The reader's own bound on ids must hold for every block an event allocates (samples, marks and thread
      // events carry no id: a thread event before any allocation once tripped a check that listed the others).
      if (heapmark::trace::is_block_op(e.op) && e.op != heapmark::trace::Op::kFree && e.id >= r.max_id())
        __builtin_trap();
      if (e.op == heapmark::trace::Op::kPhase && e.name_len > heapmark::trace::kMaxPhaseName) __builtin_trap();
      ++n;
    }
    if (n > size) __builtin_trap();  // every event takes at least one byte
  } catch (const heapmark::InputError&) {
  }
  return 0;
}
