// The kept corpus read by the real reader, checksums on: the fuzz target
// (tests/trace/fuzz_trace_reader.cc) turns checksums off and accepts either
// outcome, so this is where the named inputs' outcomes are asserted: a valid
// trace decodes whole, a truncated or corrupted one is refused naming the byte.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <unistd.h>
#include <vector>

#include "common/input_error.h"
#include "workloads/trace_format.h"
#include "workloads/trace_stream.h"

namespace {

std::string corpus(const char* name) {
  std::ifstream in(std::string(HEAPMARK_TRACE_CORPUS) + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Decoded {
  uint64_t events = 0;
  bool complete = false;
  std::string error;
};

Decoded decode(const std::string& bytes) {
  Decoded d;
  try {
    heapmark::trace::Reader r(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "t.hmt");
    heapmark::trace::Event e;
    while (r.next(e)) ++d.events;
    d.complete = r.complete();
  } catch (const heapmark::InputError& e) {
    d.error = e.what();
  }
  return d;
}

}  // namespace

TEST(TraceCorpus, AValidTraceDecodesWhole) {
  const Decoded d = decode(corpus("sort-small"));
  EXPECT_EQ(d.error, "");
  EXPECT_GT(d.events, 100u);
  EXPECT_TRUE(d.complete) << "the recorder's end chunk was read";
}

TEST(TraceCorpus, ATruncatedTraceIsRefusedAtTheByteWhereItEnds) {
  const std::string bytes = corpus("sort-truncated");
  const Decoded d = decode(bytes);
  EXPECT_NE(d.error.find("t.hmt: bad trace at byte 621"), std::string::npos) << d.error;
  EXPECT_NE(d.error.find("truncated"), std::string::npos) << d.error;
  EXPECT_LT(621u, bytes.size());
}

TEST(TraceCorpus, ACorruptedTraceIsRefusedAtTheChunkWhoseChecksumFails) {
  const Decoded d = decode(corpus("sort-corrupted"));
  EXPECT_NE(d.error.find("t.hmt: bad trace at byte 121"), std::string::npos) << d.error;
  EXPECT_NE(d.error.find("checksum"), std::string::npos) << d.error;
  // The same bytes but for the corruption decode: the two files differ only there.
  EXPECT_EQ(corpus("sort-corrupted").size(), corpus("sort-small").size());
}

// tests/trace/corpus/marks-small: a program that marks "fill", mallocs eight
// blocks of 100..107 bytes, marks "free" and frees them.
TEST(TraceCorpus, PhaseMarksDecodeWithTheirNamesWhereTheProgramWroteThem) {
  const std::string bytes = corpus("marks-small");
  heapmark::trace::Reader r(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "t.hmt");
  std::vector<std::string> names;
  size_t fill = 0, free_mark = 0, first_block = SIZE_MAX, last_block = 0, first_free = SIZE_MAX;
  size_t i = 0;
  for (heapmark::trace::Event e; r.next(e); ++i) {
    if (e.op == heapmark::trace::Op::kPhase) {
      names.emplace_back(e.name, e.name_len);
      (names.size() == 1 ? fill : free_mark) = i;
    } else if (e.op == heapmark::trace::Op::kMalloc && e.size >= 100 && e.size <= 107) {
      first_block = std::min(first_block, i);
      last_block = i;
    } else if (e.op == heapmark::trace::Op::kFree) {
      first_free = std::min(first_free, i);
    }
  }
  EXPECT_EQ(names, (std::vector<std::string>{"fill", "free"}));
  EXPECT_LT(fill, first_block);
  EXPECT_LT(last_block, free_mark);
  EXPECT_LT(free_mark, first_free);
}

// The streaming readers (trace_stream.h: pread, one chunk at a time) see what
// the whole-file Reader sees, event for event, and refuse what it refuses with
// the same message.
struct Streamed {
  std::vector<std::string> events;
  std::string error;
};
std::string describe(const heapmark::trace::Event& e) {
  return std::to_string(static_cast<int>(e.op)) + " t" + std::to_string(e.thread) + " id" + std::to_string(e.id) +
         " old" + std::to_string(e.old_id) + " size" + std::to_string(e.size) + " ms" + std::to_string(e.t_ms) + " @" +
         std::to_string(e.offset) + (e.op == heapmark::trace::Op::kPhase ? " " + std::string(e.name, e.name_len) : "");
}
Streamed whole(const std::string& bytes) {
  Streamed s;
  try {
    heapmark::trace::Reader r(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "t.hmt");
    for (heapmark::trace::Event e; r.next(e);) s.events.push_back(describe(e));
  } catch (const heapmark::InputError& e) {
    s.error = e.what();
  }
  return s;
}
Streamed streamed(const std::string& bytes) {
  char path[] = "/tmp/heapmark-corpus-XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  close(fd);
  Streamed s;
  try {
    heapmark::trace::TraceFile file(path);
    std::vector<heapmark::trace::ChunkRef> chunks;  // every thread's, in file order: one cursor reads them all
    const auto layout =
        heapmark::trace::scan_chunks(file, [&](uint32_t, const heapmark::trace::ChunkRef& c) { chunks.push_back(c); });
    std::vector<uint8_t> buffer(sizeof(heapmark::trace::ChunkHeader) + layout.max_payload);
    heapmark::trace::ThreadCursor c(file, chunks.data(), chunks.size(), buffer.data());
    for (heapmark::trace::Event e; c.next(e);) s.events.push_back(describe(e));
  } catch (const heapmark::InputError& e) {
    s.error = e.what();
    const size_t at = s.error.find(path);
    if (at != std::string::npos) s.error.replace(at, std::strlen(path), "t.hmt");
  }
  std::remove(path);
  return s;
}

TEST(TraceCorpus, StreamingCursorsDecodeWhatTheReaderDecodes) {
  for (const char* name : {"sort-small", "marks-small", "sort-truncated", "sort-corrupted", "header-only"}) {
    SCOPED_TRACE(name);
    const std::string bytes = corpus(name);
    const Streamed a = whole(bytes), b = streamed(bytes);
    EXPECT_EQ(a.error, b.error);
    if (a.error.empty()) {
      EXPECT_EQ(a.events, b.events);
    }
  }
  EXPECT_GT(whole(corpus("sort-small")).events.size(), 100u);
  EXPECT_FALSE(whole(corpus("sort-truncated")).error.empty());
}

TEST(TraceCorpus, AHeaderWithoutChunksIsAnIncompleteTrace) {
  const Decoded d = decode(corpus("header-only"));
  EXPECT_EQ(d.error, "");
  EXPECT_EQ(d.events, 0u);
  EXPECT_FALSE(d.complete) << "no end chunk: trace-info and replay must say the trace is incomplete";
}
