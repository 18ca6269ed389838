// Writes a trace (.hmt) from events that did not come from the recorder: what
// `heapmark import` converts (a heaptrack recording). One thread's events in
// order, the site records of its stacks, and the end chunk with the counts,
// in the format workloads/trace_format.h describes. The file appears under its
// name only when finish() succeeds (it is written beside it first), so a
// failed conversion never leaves half a trace or overwrites an older one.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "workloads/trace_format.h"

namespace heapmark::trace {

class Writer {
 public:
  // Throws InputError when `path` cannot be written.
  Writer(const std::string& path, const Header& header);
  ~Writer();  // without finish(): the partial file is removed
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void time(uint64_t ms);                        // the recording's clock, ms; never goes back
  uint64_t alloc(uint64_t size, uint32_t site);  // a malloc at the current time; returns its block id
  void free(uint64_t id);
  void rss(uint64_t resident_bytes);
  // Site records (SiteRecord in trace_format.h); stack ids count from 1.
  void walker(uint32_t depth, const std::string& name);
  void stack(uint32_t id, const std::vector<uint64_t>& frames);
  void symbol(uint64_t address, const std::string& function, const std::string& file, uint32_t line,
              const std::string& module);
  // Writes what is buffered and the end chunk, and moves the file into place.
  void finish();
  uint64_t events() const { return events_; }  // allocations, frees and RSS samples

 private:
  void event_room();
  void flush_events();
  void site_room(size_t n);
  void flush_sites();
  void put_string(std::vector<uint8_t>& buf, const std::string& s);
  void write(const void* data, size_t n);

  std::string path_, tmp_;
  int fd_ = -1;
  std::vector<uint8_t> events_buf_, sites_buf_;
  uint32_t chunk_events_ = 0, site_records_ = 0;
  uint64_t chunk_start_ms_ = 0, chunk_next_id_ = 0;
  uint64_t next_id_ = 0, now_ms_ = 0, events_ = 0;
  uint32_t site_ = 0;
  uint64_t counts_[kEventKinds] = {};
};

}  // namespace heapmark::trace
