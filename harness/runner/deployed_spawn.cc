#include "harness/runner/deployed_spawn.h"

#include <sys/prctl.h>

#include "harness/metrics/tsc.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace heapmark::runner {
namespace {
std::mutex g_spawn_mu;  // one spawn at a time: the THP flag belongs to the process
}

DeployedSpawn::DeployedSpawn(const cpu_set_t* cpus, bool thp_never) : one_spawn_(g_spawn_mu) {
  remasked_ = cpus && sched_getaffinity(0, sizeof own_, &own_) == 0 && sched_setaffinity(0, sizeof *cpus, cpus) == 0;
  if (!thp_never) return;
  thp_off_ = prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0;
  if (thp_off_) return;
  const int err = errno;
  restore();
  throw std::runtime_error(std::string("prctl(PR_SET_THP_DISABLE): ") + std::strerror(err));
}

DeployedSpawn::~DeployedSpawn() { restore(); }

void DeployedSpawn::restore() noexcept {
  if (thp_off_) prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0);
  if (remasked_) sched_setaffinity(0, sizeof own_, &own_);
  thp_off_ = remasked_ = false;
}

pid_t spawn_deployed(const std::string& path, posix_spawn_file_actions_t* actions, char* const* argv, char* const* envp,
                     const cpu_set_t* cpus, bool thp_never, uint64_t* spawn_ns) {
  pid_t pid = -1;
  int rc = EINVAL;
  try {
    const DeployedSpawn deployed(cpus, thp_never);
    if (spawn_ns) *spawn_ns = metrics::tsc::monotonic_ns();
    rc = posix_spawn(&pid, path.c_str(), actions, nullptr, argv, envp);
  } catch (...) {
    posix_spawn_file_actions_destroy(actions);
    throw;
  }
  posix_spawn_file_actions_destroy(actions);
  if (rc != 0) throw std::runtime_error("cannot start " + path + ": " + std::strerror(rc));
  return pid;
}

}  // namespace heapmark::runner
