#include "harness/repro/remedies.h"

#include <cstdio>
#include <cstdlib>

#include "allocators/registry/family.h"

namespace heapmark::repro {

const std::vector<Remedy>& remedy_catalogue() {
  // Built on first use, after static construction, when every family has
  // registered; in family order.
  static const std::vector<Remedy> catalogue = [] {
    std::vector<Remedy> out;
    for (const registry::Family* f : registry::families())
      for (const auto& r : f->remedies()) out.push_back(Remedy{r.name, r.allocator, r.env, r.what});
    return out;
  }();
  return catalogue;
}

Remedy use(std::string_view name, std::string here) { return Remedy{std::string(name), "", {}, std::move(here)}; }

Remedy resolve(const Remedy& named) {
  for (const auto& r : remedy_catalogue()) {
    if (r.name != named.name) continue;
    Remedy out = r;
    if (!named.what.empty()) out.what = named.what;
    return out;
  }
  std::fprintf(stderr,
               "heapmark: a scenario names the remedy '%s', which no allocator family defines "
               "(allocators/registry/families/)\n",
               named.name.c_str());
  std::abort();
}

std::vector<std::string> release_schedules(const std::vector<std::string>& remedies) {
  std::vector<std::string> out;
  for (const auto& r : remedies)
    if (is_schedule(r)) out.push_back(r.substr(kSchedulePrefix.size()));
  return out;
}

}  // namespace heapmark::repro
