// The cell protocol: what the cell writes, the runner reads back whole, in any
// chunking, and a corrupt or cut stream is detected, never misread.
#include "harness/cell/protocol.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <vector>

using namespace heapmark::cell;

namespace {

std::vector<unsigned char> drain(int fd) {
  std::vector<unsigned char> all;
  unsigned char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) all.insert(all.end(), buf, buf + n);
  return all;
}

std::vector<unsigned char> sample_stream() {
  int p[2];
  EXPECT_EQ(pipe(p), 0);
  Hello h;
  h.identity_ok = 1;
  std::strcpy(h.version, "jemalloc 5.3.0");
  h.r0_anon = 12345;
  PhaseBegin b;
  b.index = 2;
  std::strcpy(b.name, "refill2");
  PhaseEnd e;
  e.index = 2;
  e.live_bytes = 999;
  e.smaps.lazy_free = 4096;
  // A histogram larger than a pipe's atomic write.
  std::vector<unsigned char> hist(sizeof(HistogramHead) + 1000 * sizeof(BucketCount));
  auto* head = reinterpret_cast<HistogramHead*>(hist.data());
  *head = HistogramHead{1, 1000, 5000, 3, 900, 12.5};
  auto* buckets = reinterpret_cast<BucketCount*>(hist.data() + sizeof(HistogramHead));
  for (uint32_t i = 0; i < 1000; ++i) buckets[i] = BucketCount{i, 0, i * 3u};
  Result r;
  r.checksum = 0xfeedface;
  EXPECT_TRUE(write_message(p[1], MsgType::kHello, &h, sizeof h));
  EXPECT_TRUE(write_message(p[1], MsgType::kPhaseBegin, &b, sizeof b));
  EXPECT_TRUE(write_message(p[1], MsgType::kPhaseEnd, &e, sizeof e));
  // The pipe buffer (64 KiB) holds all of this, so one thread can write then read.
  EXPECT_TRUE(write_message(p[1], MsgType::kHistogram, hist.data(), hist.size()));
  EXPECT_TRUE(write_message(p[1], MsgType::kResult, &r, sizeof r));
  close(p[1]);
  auto bytes = drain(p[0]);
  close(p[0]);
  return bytes;
}

}  // namespace

TEST(Protocol, RoundTripsEveryMessageInAnyChunking) {
  const auto bytes = sample_stream();
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{4096}, bytes.size()}) {
    Reader reader;
    std::vector<Message> got;
    for (size_t off = 0; off < bytes.size(); off += chunk) {
      reader.feed(bytes.data() + off, std::min(chunk, bytes.size() - off));
      Message m;
      while (reader.next(m)) got.push_back(m);
    }
    ASSERT_EQ(got.size(), 5u) << "chunk " << chunk;
    EXPECT_EQ(got[0].type, MsgType::kHello);
    EXPECT_STREQ(got[0].as<Hello>().version, "jemalloc 5.3.0");
    EXPECT_EQ(got[0].as<Hello>().r0_anon, 12345u);
    EXPECT_STREQ(got[1].as<PhaseBegin>().name, "refill2");
    EXPECT_EQ(got[2].as<PhaseEnd>().live_bytes, 999u);
    EXPECT_EQ(got[2].as<PhaseEnd>().smaps.lazy_free, 4096u);
    ASSERT_EQ(got[3].type, MsgType::kHistogram);
    EXPECT_EQ(got[3].as<HistogramHead>().buckets, 1000u);
    const auto* b = reinterpret_cast<const BucketCount*>(got[3].payload.data() + sizeof(HistogramHead));
    EXPECT_EQ(b[999].count, 999u * 3);
    EXPECT_EQ(got[4].as<Result>().checksum, 0xfeedfaceu);
    EXPECT_EQ(reader.pending(), 0u);
  }
}

TEST(Protocol, CutStreamYieldsOnlyWholeMessages) {
  const auto bytes = sample_stream();
  Reader reader;
  reader.feed(bytes.data(), sizeof(MsgHeader) + sizeof(Hello) + 10);  // Hello + a bit of the next
  Message m;
  ASSERT_TRUE(reader.next(m));
  EXPECT_EQ(m.type, MsgType::kHello);
  EXPECT_FALSE(reader.next(m));
  EXPECT_EQ(reader.pending(), 10u);
}

TEST(Protocol, RejectsUnknownTypeAndWrongLength) {
  MsgHeader bad{99, 0};
  Reader r1;
  r1.feed(&bad, sizeof bad);
  Message m;
  EXPECT_THROW(r1.next(m), std::runtime_error);

  MsgHeader short_hello{static_cast<uint32_t>(MsgType::kHello), 8};
  Reader r2;
  r2.feed(&short_hello, sizeof short_hello);
  EXPECT_THROW(r2.next(m), std::runtime_error);

  // A histogram whose bucket count disagrees with its length.
  std::vector<unsigned char> msg(sizeof(MsgHeader) + sizeof(HistogramHead) + sizeof(BucketCount));
  MsgHeader hh{static_cast<uint32_t>(MsgType::kHistogram),
               static_cast<uint32_t>(sizeof(HistogramHead) + sizeof(BucketCount))};
  std::memcpy(msg.data(), &hh, sizeof hh);
  HistogramHead head{0, 5, 0, 0, 0, 0};
  std::memcpy(msg.data() + sizeof hh, &head, sizeof head);
  Reader r3;
  r3.feed(msg.data(), msg.size());
  EXPECT_THROW(r3.next(m), std::runtime_error);
}
