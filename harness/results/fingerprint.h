// Machine fingerprints as run.json stores them (`fingerprint`, written by the
// runner: harness/runner/context.h): what differs between two, for merge's
// refusals, resume's check and compare's warning.
#pragma once
#include <boost/json.hpp>
#include <string>

namespace heapmark::results {

// "cpu_model: \"A\" vs \"B\"; kernel: ..." over the fields of `a` (the digest aside); "" when none differs.
inline std::string fingerprint_difference(const boost::json::object& a, const boost::json::object& b) {
  std::string out;
  for (const auto& [k, v] : a) {
    if (k == "digest") continue;
    const auto* w = b.if_contains(k);
    if (w && *w == v) continue;
    if (!out.empty()) out += "; ";
    out += std::string(k) + ": " + boost::json::serialize(v) + " vs " +
           (w ? boost::json::serialize(*w) : std::string("(none)"));
  }
  return out;
}

}  // namespace heapmark::results
