#include "harness/runner/sites.h"

#include <boost/json.hpp>
#include <map>
#include <set>

#include "common/input_error.h"
#include "harness/results/results_dir.h"
#include "harness/symbols/symbolize.h"
#include "workloads/trace_sites.h"

namespace heapmark::runner {

namespace json = boost::json;

std::string write_sites(const std::string& dir) {
  std::map<std::string, std::set<uint32_t>> wanted;  // trace path -> listed sites
  for (const auto& line : results::read_cells(dir).lines) {
    const auto& c = line.result;
    const auto path = c.params.find("path");
    if (c.workload != "trace" || path == c.params.end()) continue;
    for (const auto& p : c.phases)
      if (p.end && p.end->attribution && p.end->attribution->site_count > 0)
        for (const auto& s : p.end->attribution->sites) wanted[path->second].insert(s.site);
  }
  if (wanted.empty()) return "";
  json::object traces;
  std::string warnings;
  for (const auto& [path, ids] : wanted) {
    json::object t;
    try {
      trace::TraceFile file(path);
      const trace::SiteTable table =
          trace::read_sites(file, trace::scan_chunks(file, [](uint32_t, const trace::ChunkRef&) {}));
      symbols::Symbolizer sym(table);
      json::object sites;
      for (uint32_t id : ids) {
        if (id == 0 || id > table.count()) continue;
        json::array frames;
        for (const auto& f : sym.stack(id)) frames.push_back(f.to_json());
        sites[std::to_string(id)] = std::move(frames);
      }
      json::array w;
      for (const auto& line : sym.warnings()) {
        w.push_back(json::string(line));
        warnings += line + "\n";
      }
      t = json::object{{"walker", table.walker()},
                       {"depth", table.depth()},
                       {"warnings", std::move(w)},
                       {"sites", std::move(sites)}};
    } catch (const InputError& e) {  // the trace moved or changed since the cells ran: sites stay numbers
      t = json::object{{"error", e.what()}, {"sites", json::object{}}};
      warnings += std::string(e.what()) + "\n";
    }
    traces[path] = std::move(t);
  }
  results::write_atomically(dir + "/sites.json",
                            json::serialize(json::object{
                                {"schema", "heapmark-sites"}, {"schema_version", 1}, {"traces", std::move(traces)}}) +
                                "\n");
  return warnings;
}

}  // namespace heapmark::runner
