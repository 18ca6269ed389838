// Introspection of the allocator that serves malloc in THIS process, inside a
// cell: where malloc resolves, the family's identity proof, version, stats,
// self-configuration, return horizon and explicit release. Nothing here
// allocates after probe(): stats() and release() run between measured operations.
#pragma once
#include <cstddef>
#include <cstdint>

#include "allocators/registry/family.h"

namespace heapmark::registry {

class Hooks {
 public:
  // Checks that the process-wide malloc comes from `library` (from the C
  // library when `library` is empty), binds the family's symbols and asks it to
  // claim a probe allocation. A "user" library is tried against every family's
  // introspection first, so a user-built jemalloc gets jemalloc's stats.
  static Hooks probe(Family& family, const char* library) noexcept;
  // The object the process's malloc calls reach (heapmark attach: which
  // family to probe). False when there is no malloc.
  static bool malloc_object(char* out, size_t len) noexcept;

  bool identity_ok() const noexcept { return identity_ok_; }
  const char* proof() const noexcept { return proof_; }  // what was checked and seen
  const char* malloc_from() const noexcept { return malloc_from_; }
  const char* version() const noexcept { return version_; }
  const Family& family() const noexcept { return *family_; }  // the detected family

  size_t stats(StatItem* out, size_t max) const noexcept { return family_->stats(out, max); }
  size_t config(ConfigItem* out, size_t max) const noexcept { return family_->config(out, max); }
  Horizon horizon() const noexcept { return family_->horizon(); }
  bool release() const noexcept { return family_->release(); }
  const char* release_name() const noexcept { return family_->release_name(); }
  bool release_per_thread() const noexcept { return family_->release_per_thread(); }
  bool set_decay(int64_t ms) const noexcept { return family_->set_decay(ms); }
  const char* decay_name() const noexcept { return family_->decay_name(); }
  // malloc_usable_size of the serving allocator, or nullptr when it has none.
  size_t (*usable_size)(void*) = nullptr;

 private:
  Family* family_ = nullptr;
  bool identity_ok_ = false;
  char proof_[512] = "";
  char malloc_from_[256] = "";
  char version_[64] = "";
};

}  // namespace heapmark::registry
