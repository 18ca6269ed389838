// How an allocator's own mechanism explains a verdict, written once by its
// family (allocators/registry/families/) for every scenario whose measurement
// shows it: a scenario lists mechanism("jemalloc", "retained-until-release")
// beside the explanations only it can give (scenario.h).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace heapmark::repro {

struct Explanation {
  std::string allocator;  // allocator name, its kind ("glibc", "jemalloc", ...) or "*"
  std::string verdict;    // verdict id it explains (harness/results/verdicts.h), "split" included
  std::string text;
};

// The explanations more than one reader gives: two scenarios or more, or
// scenarios and heapmark attach, which explains these verdicts of a running
// process with the catalogue's text for its allocator (or the general "*" one).
inline constexpr const char* kAttachExplains[] = {"retained-until-release", "fragmentation", "not-returned"};
const std::vector<Explanation>& mechanism_catalogue();

// The explanation for `allocator` and `verdict`, else the catalogue's general
// one ("*") for `verdict`, else null (heapmark attach, for any allocator).
const Explanation* find_mechanism(std::string_view allocator, std::string_view verdict);

// A scenario's reference to the catalogue's explanation for `allocator` and
// `verdict`, resolved when the catalogue is first read (scenarios are built
// while static objects are constructed, before the families register).
Explanation mechanism(std::string_view allocator, std::string_view verdict);
// The explanation a reference names (an explanation with its own text is
// itself). A pair no family defines is a defect in a scenario file: it
// aborts when the catalogue is first read (repro, the tests), naming it.
Explanation resolve(const Explanation& e);

}  // namespace heapmark::repro
