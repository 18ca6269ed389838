// A Program written one step at a time: step() pushes the few ops of one
// step (a packet, a replacement, a handoff) and next() hands them out in
// chunks of whatever size the executor asks for.
#pragma once
#include <cstddef>

#include "workloads/op.h"

namespace heapmark::workloads {

class SteppedProgram : public Program {
 public:
  size_t next(Op* out, size_t cap) noexcept final {
    size_t n = 0;
    while (n < cap) {
      if (pos_ < len_) {
        out[n++] = pending_[pos_++];
        continue;
      }
      len_ = pos_ = 0;
      if (!step()) break;
    }
    return n;
  }

 protected:
  static constexpr size_t kMaxOpsPerStep = 16;
  // Pushes the ops of one step (at most kMaxOpsPerStep); false once the program has ended.
  virtual bool step() noexcept = 0;
  void push(const Op& op) noexcept { pending_[len_++] = op; }

 private:
  Op pending_[kMaxOpsPerStep];
  size_t len_ = 0, pos_ = 0;
};

}  // namespace heapmark::workloads
