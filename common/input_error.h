// Bad input from the user: the message is one line naming the file, field or
// value and the valid choices. Every command prints it and exits with status 2.
// The lowest layer, so allocators/registry, workloads and the harness share it.
#pragma once
#include <cstring>
#include <stdexcept>
#include <string>

#include "common/exit_status.h"

namespace heapmark {

struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The system refused what heapmark had to do with a file (ENOSPC, EROFS,
// EACCES, EDQUOT, EIO): the message names the path and errno's text, the
// command exits with kExitEnvironment, and what was finished before stays.
struct EnvironmentError : std::runtime_error {
  EnvironmentError(const std::string& doing, const std::string& path, int err)
      : std::runtime_error("cannot " + doing + " '" + path + "': " + std::strerror(err)), error(err) {}
  int error;
};

}  // namespace heapmark
