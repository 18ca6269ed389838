// The answer `heapmark attach` gives: of the process's RES, how much the
// program holds (live), how much is free memory the allocator keeps resident
// and why (the catalogue's mechanism text), how much is pinned by live blocks,
// and what the family's release hook would give back now, predicted from the
// heap walk (glibc) or the allocator's accounting. The verdict uses the
// catalogue's words (harness/results/verdicts.h):
//   returned                 the allocator keeps little free memory resident
//   retained until release   most of what it keeps, its release hook returns
//   fragmentation            free bytes sit on pages live blocks still use
//   retained even after release  it keeps memory its hook does not reach
//   unknown                  the allocator does not tell live from free
#pragma once
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/attach/inside.h"
#include "harness/attach/outside.h"

namespace heapmark::attach {

struct Assessment {
  uint64_t rss = 0;                         // the outside view's total
  std::optional<uint64_t> live;             // the allocator's count of what the program holds
  std::optional<uint64_t> free_resident;    // free memory it keeps, resident
  std::optional<uint64_t> pinned;           // free bytes on pages that hold live blocks (heap walk)
  std::optional<uint64_t> release_returns;  // what the release hook would return now
  std::string predicted_from;               // "heap walk", "allocator accounting"
  std::string verdict;                      // verdict id (harness/results/verdicts.h)
  std::string label;                        // its words
  std::string why;                          // the catalogue's mechanism text
  std::string remedy;                       // the live remedy, with its prediction, or why none
};

// --apply: the remedy, and the change in RES measured from outside.
struct Applied {
  std::string remedy, hook, error;
  bool ok = false;
  uint64_t rss_before = 0, rss_after = 0, returned = 0;
  // "stop": Rss read while the process was stopped, just before and after the calls (a release);
  // "outside": read before gdb stopped it and after it went on (a decay setting acts after the stop).
  std::string measured_in = "outside";
  std::optional<uint64_t> predicted;              // in the same stop as the call
  std::optional<uint64_t> predicted_at_snapshot;  // the snapshot's, before it
  double release_ms = 0, stopped_ms = 0;
  int threads = 1;
};

// Applies `remedy` (only "release": the family's release hook) in the process
// and measures every mapping's Rss before and after.
Applied apply(pid_t pid, const std::string& remedy, const InjectOptions& options, const InsideView& snapshot,
              const Assessment& at_snapshot, const std::vector<std::string>& allocator_libraries);
boost::json::object to_json(const Applied& a);
std::string render_text(const Applied& a);

// Thresholds: "little" free memory is under 10% of RES and under 8 MiB;
// the hook "returns most" when it reaches half of what is kept.
Assessment assess(const OutsideView& outside, const InsideView& inside, pid_t pid);

boost::json::object to_json(const Assessment& a);
std::string render_text(const InsideView& inside, const Assessment& a);

}  // namespace heapmark::attach
