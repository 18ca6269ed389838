#include "harness/runner/deployed_spawn.h"

#include <sys/prctl.h>

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

}  // namespace heapmark::runner
