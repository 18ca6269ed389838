// The deployment a cell's process starts with: its CPU mask and whether
// transparent huge pages are disabled for it. posix_spawn's child inherits the
// calling thread's CPU mask and the whole process's PR_SET_THP_DISABLE flag,
// through exec; a DeployedSpawn sets both on the runner for the moment of one
// spawn (one at a time, since the THP flag is every thread's) and puts them
// back when it goes. Generator and program cells start through it alike.
#pragma once
#include <sched.h>
#include <spawn.h>

#include <cstdint>
#include <mutex>
#include <string>

namespace heapmark::runner {

class DeployedSpawn {
 public:
  // cpus: the mask to start with (null: the runner's own). Throws
  // std::runtime_error naming prctl's error when thp_never cannot be set.
  DeployedSpawn(const cpu_set_t* cpus, bool thp_never);
  ~DeployedSpawn();
  DeployedSpawn(const DeployedSpawn&) = delete;
  DeployedSpawn& operator=(const DeployedSpawn&) = delete;

 private:
  void restore() noexcept;
  std::unique_lock<std::mutex> one_spawn_;
  cpu_set_t own_{};
  bool remasked_ = false, thp_off_ = false;
};

// posix_spawn of `path` under a DeployedSpawn; `actions` is destroyed whatever
// happens. Throws std::runtime_error naming the program when it cannot start.
// `spawn_ns`, when given, gets the monotonic time just before the spawn.
pid_t spawn_deployed(const std::string& path, posix_spawn_file_actions_t* actions, char* const* argv, char* const* envp,
                     const cpu_set_t* cpus, bool thp_never, uint64_t* spawn_ns = nullptr);

}  // namespace heapmark::runner
