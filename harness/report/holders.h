// Who holds the memory: the report's view of the cells' attribution (cells
// run with --attribute: heapmark repro and diagnose). At the frees' end (F) of
// each allocator, the sites pinning memory and the sites holding live bytes,
// named from the run's sites.json, as a table and as flame graphs; and the
// heap's page map at every phase end. Reads only results files.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/report/document.h"
#include "harness/report/results.h"
#include "harness/report/table.h"

namespace heapmark::report {

struct Holder {
  uint32_t site = 0;
  double live = 0, pinned = 0, blocks = 0;  // medians over the allocator's ok cells
  std::optional<double> median_age_s;
  std::vector<std::string> frames;  // innermost first, as sites.json names them ("fn (file.c:12)"); empty: unnamed
  std::string name() const;         // its two innermost frames, "site N" without names
};

struct Holders {
  std::string allocator;
  bool variant = false;  // a remedy's configuration of a base allocator
  std::string phase;     // the phase these figures are from
  size_t cells = 0;
  double pinned_total = 0, live_total = 0;
  double r = 0;               // anonymous RSS above the cell's baseline R0 at the phase
  std::vector<Holder> sites;  // most pinned first
  Holder unknown, other;
  uint32_t site_count = 0;                             // 0: the program names no sites (every block is "unknown")
  const Cell* picture = nullptr;                       // the first ok cell: its flame graphs and page map are drawn
  std::map<uint32_t, std::vector<std::string>> names;  // every named site of its trace (sites.json)
};

// F: the phase "free" when the run has it (repro's phases), else each cell's last.
std::vector<Holders> holders(const Run& run);

// The top sites pinning memory, with each one's share of the pinned bytes.
Table pinning_table(const std::vector<Holders>& h, size_t top = 8);

// One drawing of the holders: its standalone file's name (svg/NAME.svg) and the SVG.
struct Picture {
  std::string name, svg;
  bool flame = false;  // a flame graph (else a page map)
  std::string pprof;   // a flame graph's data as a gzipped pprof profile (pprof.h), written as pprof/NAME.pb.gz
};

// The section, when cells carry attribution: the pinning table, the flame
// graphs of pinned and live bytes at F and of live bytes at the peak (each
// linked to its pprof profile), and the heap's page map of every phase end,
// per base allocator. Returns the pictures it drew (none without attribution).
std::vector<Picture> add_holders_section(Document& d, const Run& run);
// The pictures as standalone files in out_dir/svg/, and the flame graphs'
// profiles in out_dir/pprof/. Returns the files written.
std::vector<std::string> write_pictures(const std::vector<Picture>& pictures, const std::string& out_dir);

}  // namespace heapmark::report
