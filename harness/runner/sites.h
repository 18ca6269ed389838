// sites.json: the allocation sites a run's attribution names, symbolised once
// when the run ends (harness/symbols), so the report and compare, which read
// only results files, can show function, file and line. For each trace
// recorded with --stacks among the run's cells, the stacks of every site any
// phase end listed:
//   {"schema":"heapmark-sites","schema_version":1,"traces":{PATH:{"walker":..,
//    "depth":..,"warnings":[..],"sites":{"12":[{"function","file","line",
//    "module","offset","text"},...]}}}}
#pragma once
#include <string>

namespace heapmark::runner {

// Writes dir/sites.json when some cell carries attribution of a trace with
// sites; returns the warnings (modules missing or rebuilt), one line each.
std::string write_sites(const std::string& dir);

}  // namespace heapmark::runner
