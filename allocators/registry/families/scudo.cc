// LLVM's scudo (standalone), as Debian ships it with clang: hardened, no
// per-family introspection beyond mallinfo2 and mallopt; run on request.
#include <dlfcn.h>
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "allocators/registry/registry.h"

namespace heapmark::registry {
namespace {

constexpr int kMPurge = -101;  // scudo's mallopt(M_PURGE, 0): release every free page

class Scudo final : public Family {
 public:
  const char* name() const noexcept override { return "scudo"; }
  int order() const noexcept override { return 32; }

  void builtins(const std::string&, std::vector<Allocator>& out) const override {
    Allocator a = found_allocator(*this, "scudo",
                                  {"/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.scudo_standalone-x86_64.so",
                                   "/usr/lib/x86_64-linux-gnu/libscudo.so"},
                                  "libclang-rt-14-dev", "LLVM scudo standalone (Debian libclang-rt-14-dev)");
    a.on_request = true;
    out.push_back(a);
  }
  bool is_config_var(std::string_view v) const noexcept override { return v == "SCUDO_OPTIONS"; }

  bool bind(void* handle) noexcept override {
    print_stats_ = reinterpret_cast<decltype(print_stats_)>(own_symbol(handle, "__scudo_print_stats"));
    mallinfo2_ = reinterpret_cast<decltype(mallinfo2_)>(own_symbol(handle, "mallinfo2"));
    mallopt_ = reinterpret_cast<decltype(mallopt_)>(own_symbol(handle, "mallopt"));
    usable_ = reinterpret_cast<decltype(usable_)>(own_symbol(handle, "malloc_usable_size"));
    if (handle) {
      Dl_info info{};
      if (print_stats_ && dladdr(reinterpret_cast<void*>(print_stats_), &info) && info.dli_fname)
        std::snprintf(path_, sizeof path_, "%s", info.dli_fname);
    }
    return print_stats_ && mallinfo2_ && usable_;
  }
  bool claim(char* how, size_t len) noexcept override {
    const size_t before = mallinfo2_().uordblks;
    void* p = probe_allocation();
    const size_t after = mallinfo2_().uordblks, usable = usable_(p);
    std::snprintf(how, len, "scudo's mallinfo2().uordblks grew by %zu and malloc_usable_size is %zu for malloc(%zu)",
                  after - before, usable, kProbeSize);
    free(p);
    return after > before && usable >= kProbeSize;
  }
  // No version call: the LLVM release is in the library's path (/usr/lib/llvm-14/...).
  void version(char* out, size_t len) const noexcept override {
    const char* llvm = std::strstr(path_, "llvm-");
    int major = llvm ? std::atoi(llvm + 5) : 0;
    if (major) std::snprintf(out, len, "scudo standalone (LLVM %d)", major);
    else std::snprintf(out, len, "scudo standalone");
  }
  size_t stats(StatItem* out, size_t max) const noexcept override {
    const struct mallinfo2 m = mallinfo2_();
    const StatItem items[] = {{"uordblks", m.uordblks}, {"fordblks", m.fordblks}, {"hblkhd", m.hblkhd}};
    size_t n = 0;
    for (const auto& it : items)
      if (n < max) out[n++] = it;
    return n;
  }
  Horizon horizon() const noexcept override {
    Horizon h;
    // scudo releases free pages of a size class no more often than
    // release_to_os_interval_ms (SCUDO_OPTIONS), on later frees.
    h.ms = 5000;
    const char* opts = getenv("SCUDO_OPTIONS");
    if (const char* r = opts ? std::strstr(opts, "release_to_os_interval_ms=") : nullptr) {
      const long v = std::atol(r + std::strlen("release_to_os_interval_ms="));
      h.ms = v < 0 ? UINT64_MAX : static_cast<uint64_t>(v);
    }
    std::snprintf(h.what, sizeof h.what, "page release at most every release_to_os_interval_ms (%s ms), on later frees",
                  h.ms == UINT64_MAX ? "never" : std::to_string(h.ms).c_str());
    return h;
  }
  bool release() const noexcept override { return mallopt_ && mallopt_(kMPurge, 0) == 1; }
  const char* release_name() const noexcept override { return "mallopt(M_PURGE, 0)"; }
  size_t (*usable_size() const noexcept)(void*) override { return usable_; }

 private:
  void (*print_stats_)() = nullptr;
  struct mallinfo2 (*mallinfo2_)() = nullptr;
  int (*mallopt_)(int, int) = nullptr;
  size_t (*usable_)(void*) = nullptr;
  char path_[256] = "";
};

Scudo g_family;
const FamilyRegistrar g_reg{g_family};

}  // namespace
}  // namespace heapmark::registry
