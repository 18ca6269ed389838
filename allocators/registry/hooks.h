// Introspection of the allocator that serves malloc in THIS process, found with
// dlsym inside a cell: identity proof, version, stats and explicit release.
// Nothing here allocates after probe(): stats() and release() may run between
// measured operations.
#pragma once
#include <cstddef>
#include <cstdint>

#include "allocators/registry/registry.h"

namespace heapmark::registry {

struct StatItem {
  const char* name;  // static storage
  uint64_t value;
};

class Hooks {
 public:
  // Resolves the family's symbols (in `library` for preloaded kinds), checks
  // that malloc really comes from it and that it claims a probe allocation.
  // A kUser library is probed for every family's symbols and takes the first
  // that matches (a user-built jemalloc gets jemalloc stats).
  static Hooks probe(Kind kind, const char* library) noexcept;

  bool identity_ok() const noexcept { return identity_ok_; }
  const char* proof() const noexcept { return proof_; }        // what was checked and seen
  const char* malloc_from() const noexcept { return malloc_from_; }
  const char* version() const noexcept { return version_; }
  Kind family() const noexcept { return family_; }             // detected family

  // Writes up to `max` figures; returns how many. Units are bytes unless the
  // name says otherwise.
  size_t stats(StatItem* out, size_t max) const noexcept;
  // The allocator's own "give memory back" call; false when it has none.
  // Says in release_name() what it called.
  bool release() const noexcept;
  const char* release_name() const noexcept;
  // malloc_usable_size of the serving allocator, or nullptr when it has none.
  size_t (*usable_size)(void*) = nullptr;

 private:
  Kind family_ = Kind::kGlibc;
  bool identity_ok_ = false;
  void* handle_ = nullptr;
  char proof_[512] = "";
  char malloc_from_[256] = "";
  char version_[64] = "";
};

}  // namespace heapmark::registry
