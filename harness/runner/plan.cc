#include "harness/runner/plan.h"

#include <boost/json.hpp>
#include <cstdlib>

#include "common/input_error.h"
#include "common/text.h"

namespace heapmark::runner {

namespace json = boost::json;

Shard parse_shard(const std::string& text) {
  auto fail = [&]() -> Shard {
    throw InputError("--shard '" + text +
                     "': expected K/N with 1 <= K <= N, e.g. --shard 2/3 for the second of three shards");
  };
  const size_t slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= text.size()) return fail();
  const std::string ks = text.substr(0, slash), ns = text.substr(slash + 1);
  if (ks.find_first_not_of("0123456789") != std::string::npos ||
      ns.find_first_not_of("0123456789") != std::string::npos || ks.size() > 6 || ns.size() > 6)
    return fail();
  Shard s{std::atoi(ks.c_str()), std::atoi(ns.c_str())};
  if (s.n < 1 || s.k < 1 || s.k > s.n) return fail();
  return s;
}

std::string matrix_digest(const Matrix& m) { return digest_hex(json::serialize(m.to_json())); }

json::object plan_json(const Matrix& m, const std::vector<CellPlan>& cells, int shards) {
  json::array blocks;
  size_t current = SIZE_MAX;
  for (const auto& c : cells) {
    if (c.block != current) {
      current = c.block;
      json::object params;
      for (const auto& [k, v] : c.params) params[k] = v;
      json::object b{{"block", c.block},
                     {"workload", c.workload},
                     {"params", std::move(params)},
                     {"rep", c.rep},
                     {"cells", json::array{}}};
      b["shard"] = shards > 0 ? json::value(c.block % static_cast<size_t>(shards) + 1) : json::value(nullptr);
      blocks.push_back(std::move(b));
    }
    blocks.back().as_object()["cells"].as_array().push_back(
        json::object{{"key", c.key}, {"allocator", c.allocator->name}, {"index", c.index}});
  }
  return json::object{{"schema", "heapmark-plan"},
                      {"schema_version", 1},
                      {"matrix_digest", matrix_digest(m)},
                      {"seed", m.seed},
                      {"cells", cells.size()},
                      {"shards", shards > 0 ? json::value(shards) : json::value(nullptr)},
                      {"blocks", std::move(blocks)}};
}

}  // namespace heapmark::runner
