// A user's own library (--allocator NAME=PATH) that speaks none of the known
// introspection families: identity rests on where malloc and free resolve
// (checked for every family by Hooks::probe) plus, where it exports one, its
// malloc_usable_size of the probe block.
#include <cstdio>
#include <cstdlib>

#include "allocators/registry/registry.h"

namespace heapmark::registry {
namespace {

class User final : public Family {
 public:
  const char* name() const noexcept override { return "user"; }
  int order() const noexcept override { return 1000; }

  void builtins(const std::string&, std::vector<Allocator>&) const override {}
  bool is_config_var(std::string_view) const noexcept override { return false; }

  bool bind(void* handle) noexcept override {
    usable_ = reinterpret_cast<decltype(usable_)>(own_symbol(handle, "malloc_usable_size"));
    return true;
  }
  bool claim(char* how, size_t len) noexcept override {
    void* p = probe_allocation();
    if (!usable_) {
      std::snprintf(how, len, "free resolves there too; it exports no malloc_usable_size to ask about the probe block");
      free(p);
      return true;
    }
    const size_t usable = usable_(p);
    std::snprintf(how, len, "free resolves there too; its malloc_usable_size(probe block) is %zu", usable);
    free(p);
    return usable >= kProbeSize;
  }
  void version(char* out, size_t len) const noexcept override { std::snprintf(out, len, "unknown"); }
  Horizon horizon() const noexcept override {
    Horizon h;
    std::snprintf(h.what, sizeof h.what, "unknown: the library reports none");
    return h;
  }
  size_t (*usable_size() const noexcept)(void*) override { return usable_; }

 private:
  size_t (*usable_)(void*) = nullptr;
};

User g_family;
const FamilyRegistrar g_reg{g_family};

}  // namespace
}  // namespace heapmark::registry
