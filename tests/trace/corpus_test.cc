// The kept corpus read by the real reader, checksums on: the fuzz target
// (tests/trace/fuzz_trace_reader.cc) turns checksums off and accepts either
// outcome, so this is where the named inputs' outcomes are asserted: a valid
// trace decodes whole, a truncated or corrupted one is refused naming the byte.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/input_error.h"
#include "workloads/trace_format.h"

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

TEST(TraceCorpus, AHeaderWithoutChunksIsAnIncompleteTrace) {
  const Decoded d = decode(corpus("header-only"));
  EXPECT_EQ(d.error, "");
  EXPECT_EQ(d.events, 0u);
  EXPECT_FALSE(d.complete) << "no end chunk: trace-info and replay must say the trace is incomplete";
}
