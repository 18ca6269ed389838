// Offline symbolisation of a trace's allocation sites: each frame of a
// recorded stack becomes function, file and line (elfutils' libdw reading the
// module's symbols and DWARF, with the build-id debug files Debian's -dbgsym
// packages install), or module+offset where that is all there is. A module
// that is missing or was rebuilt since the recording (its build-id differs)
// is not trusted: its frames stay module+offset, with one warning per module.
#pragma once
#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "workloads/trace_sites.h"

namespace heapmark::symbols {

struct Frame {
  std::string function;  // demangled; "" when no symbol covers the address
  std::string file;      // source file ("" without line info)
  uint32_t line = 0;
  std::string module;    // the module's file name (no directory), "" when no module held the address
  uint64_t offset = 0;   // address minus the module's load bias: `addr2line -e MODULE OFFSET` finds it
  std::string build_id;  // the module's GNU build-id in hex ("" when unknown)
  uint64_t address = 0;
  // "fn (file.c:12)", "fn (libx.so+0x1a2b)", "libx.so+0x1a2b" or "0x7f12...".
  std::string text() const;
  // {"function","file","line","module","offset","text"}: as trace-info --json and sites.json write it.
  boost::json::object to_json() const;
};

class Symbolizer {
 public:
  explicit Symbolizer(const trace::SiteTable& sites);
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // Frame `i` of site `dense` (SiteTable ids); results are cached.
  const Frame& frame(uint32_t dense, size_t i);
  std::vector<Frame> stack(uint32_t dense);
  // Why some frames stay module+offset: one line per module (missing, rebuilt).
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  struct Open;
  Open* open(int32_t module);

  const trace::SiteTable& sites_;
  std::vector<std::unique_ptr<Open>> open_;  // per module, opened on first use
  std::vector<uint8_t> tried_;
  std::map<std::pair<int32_t, uint64_t>, Frame> cache_;
  std::vector<std::string> warnings_;
};

}  // namespace heapmark::symbols
