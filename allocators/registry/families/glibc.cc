// The C library's malloc (ptmalloc2): no preload; mallinfo2, malloc_trim.
#include <gnu/libc-version.h>
#include <malloc.h>

#include <cstdio>
#include <cstring>

#include "allocators/registry/glibc_heap.h"
#include "allocators/registry/registry.h"

namespace heapmark::registry {
namespace {

class Glibc final : public Family {
 public:
  const char* name() const noexcept override { return "glibc"; }
  int order() const noexcept override { return 0; }

  // Environments of its allocators that change how memory goes back (the repro catalogue tries them).
  std::vector<RemedyText> remedies() const override {
    return {
        {"glibc-trim-threshold",
         "glibc",
         {{"GLIBC_TUNABLES", "glibc.malloc.trim_threshold=0"}},
         "trim the top of the heap on every free that reaches it"},
        {"glibc-fixed-trim-threshold",
         "glibc",
         {{"GLIBC_TUNABLES", "glibc.malloc.trim_threshold=131072"}},
         "a fixed 128 KiB trim threshold; setting it also turns glibc's dynamic mmap threshold off"},
        {"glibc-mmap-threshold",
         "glibc",
         {{"GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=131072"}},
         "a fixed 128 KiB mmap threshold (setting it turns the dynamic threshold off): larger blocks are "
         "mmapped and munmapped on free"},
        {"glibc-mxfast-0",
         "glibc",
         {{"GLIBC_TUNABLES", "glibc.malloc.mxfast=0"}},
         "no fastbins: freed chunks coalesce at once and the top is trimmed on free"},
        {"glibc-tcache-0",
         "glibc",
         {{"GLIBC_TUNABLES", "glibc.malloc.tcache_count=0"}},
         "no per-thread cache: every free reaches _int_free"},
        {"glibc-arena-max-1", "glibc", {{"MALLOC_ARENA_MAX", "1"}}, "one arena for every thread"},
        {"glibc-tunable-arena-max-2", "glibc", {{"GLIBC_TUNABLES", "glibc.malloc.arena_max=2"}}, "at most two arenas"},
    };
  }

  // How its machinery explains a verdict (the repro catalogue and heapmark attach show these).
  std::vector<MechanismText> mechanisms() const override {
    return {
        {"glibc", "retained-until-release",
         "The free pages between live blocks sit inside the heap, never at its top, so free() cannot trim "
         "them; malloc_trim(0) madvises every whole free page inside the heap away."},
    };
  }

  void builtins(const std::string&, std::vector<Allocator>& out) const override {
    out.push_back(Allocator{"glibc", this, "", {}, "the C library's ptmalloc2 (no preload)", true, "", ""});
  }
  bool is_config_var(std::string_view v) const noexcept override {
    for (const char* name :
         {"GLIBC_TUNABLES", "MALLOC_ARENA_MAX", "MALLOC_ARENA_TEST", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
          "MALLOC_MMAP_THRESHOLD_", "MALLOC_MMAP_MAX_", "MALLOC_PERTURB_", "MALLOC_CHECK_"})
      if (v == name) return true;
    return false;
  }

  bool bind(void*) noexcept override {
    mallinfo2_ = reinterpret_cast<decltype(mallinfo2_)>(own_symbol(nullptr, "mallinfo2"));
    trim_ = reinterpret_cast<decltype(trim_)>(own_symbol(nullptr, "malloc_trim"));
    usable_ = reinterpret_cast<decltype(usable_)>(own_symbol(nullptr, "malloc_usable_size"));
    return mallinfo2_ != nullptr;
  }
  bool claim(char* how, size_t len) noexcept override {
    const size_t before = mallinfo2_().uordblks;
    void* p = probe_allocation();
    const size_t after = mallinfo2_().uordblks;
    std::snprintf(how, len, "mallinfo2().uordblks grew by %zu for malloc(%zu)", after - before, kProbeSize);
    free(p);
    return after >= before + kProbeSize;
  }
  void version(char* out, size_t len) const noexcept override {
    std::snprintf(out, len, "glibc %s", gnu_get_libc_version());
  }
  size_t stats(StatItem* out, size_t max) const noexcept override {
    const struct mallinfo2 m = mallinfo2_();
    const StatItem items[] = {{"arena", m.arena},           {"hblkhd", m.hblkhd},    {"uordblks", m.uordblks},
                              {"fordblks", m.fordblks},     {"fsmblks", m.fsmblks},  {"keepcost", m.keepcost},
                              {"ordblks_count", m.ordblks}, {"hblks_count", m.hblks}};
    size_t n = 0;
    for (const auto& it : items)
      if (n < max) out[n++] = it;
    return n;
  }
  Horizon horizon() const noexcept override {
    Horizon h;
    std::snprintf(h.what, sizeof h.what,
                  "no timer: free() trims the heap top, a later large malloc consolidates fastbins");
    return h;
  }
  bool accounting(Accounting& out) const noexcept override {
    const struct mallinfo2 m = mallinfo2_();
    out.live = m.uordblks + m.hblkhd;
    // mallinfo2 counts free bytes whether their pages are resident or not (a
    // trimmed free chunk keeps its size): the walk says which are.
    out.keep("the main arena's top chunk", m.keepcost, true, false);
    out.keep("fastbins", m.fsmblks, true, false);
    out.keep("free chunks in bins and other arenas' tops", m.fordblks - m.fsmblks - m.keepcost, true, false);
    out.note = "glibc counts free bytes, resident or not; the heap walk counts resident pages";
    return true;
  }
  bool walk(HeapWalk& out) const noexcept override {
    walk_glibc_heaps(out);
    return true;
  }
  bool release() const noexcept override { return trim_ && (trim_(0), true); }
  const char* release_name() const noexcept override { return "malloc_trim(0)"; }
  size_t (*usable_size() const noexcept)(void*) override { return usable_; }

 private:
  struct mallinfo2 (*mallinfo2_)() = nullptr;
  int (*trim_)(size_t) = nullptr;
  size_t (*usable_)(void*) = nullptr;
};

Glibc g_family;
const FamilyRegistrar g_reg{g_family};

}  // namespace
}  // namespace heapmark::registry
