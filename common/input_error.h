// Bad input from the user: the message is one line naming the file, field or
// value and the valid choices. Every command prints it and exits with status 2.
// The lowest layer, so allocators/registry, workloads and the harness share it.
#pragma once
#include <stdexcept>

#include "common/exit_status.h"

namespace heapmark {

struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace heapmark
