// The allocation sites of a trace recorded with `heapmark record --stacks`:
// every distinct stack and the modules (executable, shared libraries, dlopen'ed
// ones) its frames lie in, read from the trace's kSites chunks. Addresses stay
// raw here; harness/symbols turns them into function, file and line offline.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "workloads/trace_stream.h"

namespace heapmark::trace {

struct Module {
  uint64_t bias = 0;        // load address minus link-time address
  uint64_t lo = 0, hi = 0;  // the mapped span of its loadable segments
  std::string path;
  std::string build_id;  // raw bytes of its GNU build-id note ("" when it has none)
  uint32_t image = 0;
};

struct Stack {
  std::vector<uint64_t> frames;  // return addresses, innermost first (the first is in the allocating function)
  std::vector<int32_t> module;   // per frame: index into SiteTable::modules(), -1 where no module held it
  uint32_t image = 0;
};

// A frame the trace names itself (SiteRecord::kSymbol: an imported recording).
struct Symbol {
  std::string function, file, module;
  uint32_t line = 0;
};

// Site ids are dense over the whole trace: 0 is "unknown" (no stack recorded),
// 1..count() are the stacks of every image in turn.
class SiteTable {
 public:
  SiteTable() = default;
  bool empty() const { return stacks_.empty(); }
  uint32_t count() const { return static_cast<uint32_t>(stacks_.size()); }
  // The dense id of a recorded (image, stack id) pair; 0 for raw 0 or a stack the table lacks.
  uint32_t dense(uint32_t image, uint32_t raw) const {
    if (raw == 0 || image >= image_base_.size()) return 0;
    const uint32_t base = image_base_[image];
    const uint32_t end = image + 1 < image_base_.size() ? image_base_[image + 1] : count();
    return raw <= end - base ? base + raw : 0;
  }
  const Stack& stack(uint32_t dense) const { return stacks_[dense - 1]; }
  const std::vector<Module>& modules() const { return modules_; }
  // The name the trace gives the frame at `address` in `image`, or null.
  const Symbol* symbol(uint32_t image, uint64_t address) const {
    const auto it = symbols_.find({image, address});
    return it == symbols_.end() ? nullptr : &it->second;
  }
  uint32_t depth() const { return depth_; }              // the recording's --stacks depth
  const std::string& walker() const { return walker_; }  // how the recorder walked the stack
  uint64_t dropped() const { return dropped_; }          // allocations recorded without a stack (table full)

 private:
  friend SiteTable read_sites(const TraceFile& file, const Layout& layout);
  std::vector<Stack> stacks_;
  std::vector<uint32_t> image_base_;  // per image: dense id of its stack 1, minus 1
  std::vector<Module> modules_;
  std::map<std::pair<uint32_t, uint64_t>, Symbol> symbols_;
  uint32_t depth_ = 0;
  std::string walker_;
  uint64_t dropped_ = 0;
};

// Reads every kSites chunk of `layout` (from scan_chunks). Throws InputError
// naming the file and byte offset for a corrupt table.
SiteTable read_sites(const TraceFile& file, const Layout& layout);

// What a replay needs of the table, without the heap (the cell sets up before
// measuring, inside the allocator under test): per image, the dense id of its
// stack 1 minus 1, into `base` (layout.images entries); returns the stack
// count. `buffer` holds kMaxChunkPayload bytes. The same ids as SiteTable::dense.
uint32_t site_bases(const TraceFile& file, const Layout& layout, uint8_t* buffer, uint32_t* base);

}  // namespace heapmark::trace
