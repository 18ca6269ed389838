// oneTBB's scalable allocator through its malloc proxy (libtbbmalloc_proxy,
// Debian libtbbmalloc2): identity from scalable_msize, release through
// scalable_allocation_command; run on request.
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include <cstdio>
#include <cstring>

#include "allocators/registry/registry.h"

namespace heapmark::registry {
namespace {

constexpr int kCleanAllBuffers = 0;  // TBBMALLOC_CLEAN_ALL_BUFFERS

class Tbbmalloc final : public Family {
 public:
  const char* name() const noexcept override { return "tbbmalloc"; }
  int order() const noexcept override { return 34; }

  void builtins(const std::string&, std::vector<Allocator>& out) const override {
    Allocator a = system_allocator(*this, "tbbmalloc", "libtbbmalloc_proxy.so.2", "libtbbmalloc2",
                                   "oneTBB scalable allocator via its malloc proxy (Debian libtbbmalloc2)");
    a.on_request = true;
    out.push_back(a);
  }
  bool is_config_var(std::string_view v) const noexcept override { return v.substr(0, 11) == "TBB_MALLOC_"; }

  bool bind(void* handle) noexcept override {
    proxy_ = own_symbol(handle, "__TBB_malloc_proxy");
    // The scalable_* functions live in libtbbmalloc, which the proxy loads.
    msize_ = reinterpret_cast<decltype(msize_)>(dlsym(RTLD_DEFAULT, "scalable_msize"));
    command_ = reinterpret_cast<decltype(command_)>(dlsym(RTLD_DEFAULT, "scalable_allocation_command"));
    usable_ = reinterpret_cast<decltype(usable_)>(own_symbol(handle, "malloc_usable_size"));
    if (proxy_) {
      Dl_info info{};
      char real[PATH_MAX];
      if (dladdr(proxy_, &info) && info.dli_fname && realpath(info.dli_fname, real))
        std::snprintf(path_, sizeof path_, "%s", real);
    }
    return proxy_ && msize_;
  }
  bool claim(char* how, size_t len) noexcept override {
    void* p = probe_allocation();
    const size_t size = msize_(p);
    std::snprintf(how, len, "scalable_msize(probe block) is %zu", size);
    free(p);
    return size >= kProbeSize;
  }
  // The library has no version call; its file name carries the soname version.
  void version(char* out, size_t len) const noexcept override {
    const char* so = std::strstr(path_, ".so.");
    std::snprintf(out, len, "tbbmalloc %s", so ? so + 4 : "?");
  }
  Horizon horizon() const noexcept override {
    Horizon h;
    std::snprintf(h.what, sizeof h.what,
                  "no timer: caches are cleaned on later calls and by scalable_allocation_command");
    return h;
  }
  bool release() const noexcept override { return command_ && command_(kCleanAllBuffers, nullptr) == 0; }
  const char* release_name() const noexcept override {
    return "scalable_allocation_command(TBBMALLOC_CLEAN_ALL_BUFFERS)";
  }
  size_t (*usable_size() const noexcept)(void*) override { return usable_; }

 private:
  void* proxy_ = nullptr;
  size_t (*msize_)(void*) = nullptr;
  int (*command_)(int, void*) = nullptr;
  size_t (*usable_)(void*) = nullptr;
  char path_[PATH_MAX] = "";
};

Tbbmalloc g_family;
const FamilyRegistrar g_reg{g_family};

}  // namespace
}  // namespace heapmark::registry
