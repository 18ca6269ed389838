// Streaming access to a trace (.hmt) of any size: the file is read with pread,
// one chunk at a time, never mapped or loaded whole, so what a reader holds
// does not grow with the number of events.
//
//   TraceFile     the open file and its header
//   scan_chunks   one pass over the chunk headers (event payloads are skipped):
//                 threads, images, lost and end chunks, and each events chunk's place
//   ThreadCursor  one recorded thread's events in order, from its chunks
//
// The trace workload replays through per-thread cursors in the cell, and
// trace-info merges them in time order; both check every chunk as the
// whole-file Reader does (the same decoder), and throw the same InputErrors.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "workloads/trace_format.h"

namespace heapmark::trace {

class TraceFile {
 public:
  explicit TraceFile(const std::string& path);  // opens it and checks the file header; throws InputError
  ~TraceFile();
  TraceFile(const TraceFile&) = delete;
  TraceFile& operator=(const TraceFile&) = delete;

  const std::string& name() const { return name_; }
  const Header& header() const { return header_; }
  uint64_t size() const { return size_; }
  uint64_t first_chunk() const { return first_chunk_; }
  // Reads `n` bytes at `offset` (all of them, or throws InputError).
  void read(uint64_t offset, void* buf, size_t n) const;

 private:
  std::string name_;
  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t first_chunk_ = 0;
  Header header_;
};

// Where one events chunk is, and the image it belongs to.
struct ChunkRef {
  uint64_t offset;  // of its header
  uint32_t payload_bytes;
  ImageBase image;
};

// What the chunk headers and the small non-event chunks say about a trace.
struct Layout {
  uint32_t threads = 0;  // recorded thread indices are below this
  uint32_t images = 1;
  uint64_t event_chunks = 0;
  uint32_t max_payload = 0;  // largest events payload: a cursor's buffer needs sizeof(ChunkHeader) more
  uint64_t lost = 0;         // events the recorder could not record (kLost chunks), and why
  uint32_t lost_reasons = 0;
  bool complete = false;  // the end chunk is there (the program exited normally)
  uint64_t recorder_counts[kEventKinds] = {};
  std::vector<ChunkRef> site_chunks;  // kSites chunks in file order (their payloads are read by read_sites)
};

// Reads every chunk header in file order and calls `on_events(thread, ref)`
// for each events chunk (its payload is checked when a cursor reads it).
// Throws InputError for a truncated or malformed file, as Reader does.
Layout scan_chunks(const TraceFile& file, const std::function<void(uint32_t thread, const ChunkRef&)>& on_events);

// One thread's events, in order. `buffer` holds sizeof(ChunkHeader) +
// Layout::max_payload bytes; `chunks` are the thread's events chunks in file order.
// Times never go backwards (an older trace's exec'd image restarted its clock).
class ThreadCursor {
 public:
  ThreadCursor(const TraceFile& file, const ChunkRef* chunks, size_t count, uint8_t* buffer)
      : file_(&file), chunks_(chunks), count_(count), buffer_(buffer) {}
  bool next(Event& e);  // false after the thread's last event

 private:
  const TraceFile* file_;
  const ChunkRef* chunks_;
  size_t count_;
  size_t at_ = 0;
  uint8_t* buffer_;
  bool started_ = false;
  ChunkDecoder decoder_;
  uint64_t last_ms_ = 0;
};

}  // namespace heapmark::trace

namespace heapmark::trace {

// Every thread's events in one order the recorded run could have had: by
// recorded time, and a free never before its block's allocation (threads'
// events within one clock tick are otherwise unordered). Keeps the live blocks
// (id -> size, birth) and one chunk per thread: memory grows with the live
// blocks, not with the events. For trace-info, replay's summary and diagnose.
class TimeMerge {
 public:
  explicit TimeMerge(const TraceFile& file);
  TimeMerge(const TimeMerge&) = delete;
  TimeMerge& operator=(const TimeMerge&) = delete;
  const Layout& layout() const { return layout_; }

  struct Step {
    Event e;
    bool consumed_live = false;  // kFree / kRealloc: the block it names was live (else made before the recording)
    uint64_t consumed_size = 0;  // its size
    uint64_t born_ms = 0;        // kFree / kRealloc of a live block: when that block (or its realloc chain) was made
    uint32_t consumed_site = 0;  // its recorded site (Event::site; its image is its id >> kImageIdShift)
    std::string name;            // kPhase: the mark's name (e.name points into a buffer the merge has moved past)
  };
  // The next event, with the live bytes and blocks updated; false at the end.
  bool next(Step& s);
  uint64_t live_bytes() const { return live_bytes_; }
  uint64_t live_blocks() const { return live_.size(); }

 private:
  struct Block {
    uint64_t size, born_ms;
    uint32_t site;
  };
  bool ready(uint32_t t) const;

  const TraceFile& file_;
  Layout layout_;
  std::vector<std::vector<ChunkRef>> chunks_;
  std::vector<std::vector<uint8_t>> buffers_;
  std::vector<ThreadCursor> cursors_;
  std::vector<Event> head_;
  std::vector<uint8_t> has_;
  std::unordered_map<uint64_t, Block> live_;
  uint64_t live_bytes_ = 0;
};

}  // namespace heapmark::trace
