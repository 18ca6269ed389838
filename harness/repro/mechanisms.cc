#include "harness/repro/mechanisms.h"

#include <cstdio>
#include <cstdlib>
#include <iterator>

#include "allocators/registry/family.h"

namespace heapmark::repro {

const std::vector<Explanation>& mechanism_catalogue() {
  // Built on first use, after static construction, when every family has
  // registered: each family's own texts, then what the measurement alone
  // shows for any allocator ("*").
  static const std::vector<Explanation> catalogue = [] {
    std::vector<Explanation> out;
    for (const registry::Family* f : registry::families())
      for (const auto& m : f->mechanisms()) out.push_back(Explanation{m.allocator, m.verdict, m.text});
    const Explanation any[] = {
        {"*", "retained-until-release",
         "Most resident pages hold no live block: the allocator keeps them as free memory; its release "
         "call returns them."},
        {"*", "fragmentation",
         "About one live block per page: every page still holds live data, so no allocator and no release "
         "call can return it. Only moving the live objects (compaction, an arena per lifetime) fixes this."},
    };
    out.insert(out.end(), std::begin(any), std::end(any));
    return out;
  }();
  return catalogue;
}

const Explanation* find_mechanism(std::string_view allocator, std::string_view verdict) {
  for (std::string_view who : {allocator, std::string_view("*")})
    for (const auto& e : mechanism_catalogue())
      if (e.allocator == who && e.verdict == verdict) return &e;
  return nullptr;
}

Explanation mechanism(std::string_view allocator, std::string_view verdict) {
  return Explanation{std::string(allocator), std::string(verdict), ""};
}

Explanation resolve(const Explanation& e) {
  if (!e.text.empty()) return e;  // the scenario's own text
  for (const auto& m : mechanism_catalogue())
    if (m.allocator == e.allocator && m.verdict == e.verdict) return m;
  std::fprintf(stderr,
               "heapmark: a scenario names the mechanism (%s, %s), which no allocator family defines "
               "(allocators/registry/families/)\n",
               e.allocator.c_str(), e.verdict.c_str());
  std::abort();
}

}  // namespace heapmark::repro
