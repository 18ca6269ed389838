// bench_trace_gen OUT.hmt EVENTS [LIVE] [THREADS]
//
// Writes a complete trace in heapmark's format without recording anything:
// THREADS threads (default 1), each holding LIVE/THREADS live blocks
// (default LIVE 100000) of 16..1040 bytes; every step frees a random live
// block of the thread and allocates a new one, until EVENTS events are
// written. One recorded millisecond passes every 10000 events of a thread.
// The chunks are what the recorder writes (64 KiB buffers, the same tags), so
// the replay reads it like a recorded trace; the peak live bytes are printed.
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "workloads/trace_format.h"

namespace tr = heapmark::trace;

namespace {

struct Thread {
  std::vector<uint64_t> live_id;
  std::vector<uint32_t> live_size;
  std::vector<uint8_t> payload = std::vector<uint8_t>(64 * 1024 - 256);
  uint8_t* pos = nullptr;
  tr::ChunkHeader header{};
  uint64_t next_id = 0, now_ms = 0, steps = 0;
};

FILE* out;
uint64_t counts[tr::kEventKinds];

void flush(Thread& t, uint32_t index) {
  tr::ChunkHeader& h = t.header;
  if (h.events > 0) {
    h.magic = tr::kChunkMagic;
    h.kind = static_cast<uint32_t>(tr::ChunkKind::kEvents);
    h.thread = index;
    h.payload_bytes = static_cast<uint32_t>(t.pos - t.payload.data());
    h.checksum = tr::chunk_checksum(h, t.payload.data());
    std::fwrite(&h, sizeof h, 1, out);
    std::fwrite(t.payload.data(), 1, h.payload_bytes, out);
  }
  t.pos = t.payload.data();
  h = tr::ChunkHeader{};
  h.start_ms = t.now_ms;
  h.next_id = t.next_id;
}

void room(Thread& t, uint32_t index) {
  if (static_cast<size_t>(t.payload.data() + t.payload.size() - t.pos) < 4 * tr::kMaxEventBytes) flush(t, index);
}

// Header: program, argv, machine, start time, pid (varints and strings).
void write_file_header() {
  std::vector<uint8_t> body(4096);
  uint8_t* p = body.data();
  auto put_string = [&](const char* s) {
    p = tr::put_varint(p, std::strlen(s));
    std::memcpy(p, s, std::strlen(s));
    p += std::strlen(s);
  };
  put_string("bench_trace_gen");
  p = tr::put_varint(p, 0);
  put_string("synthetic");
  p = tr::put_varint(p, 0);
  p = tr::put_varint(p, 0);
  tr::FileHeader fh{};
  std::memcpy(fh.magic, tr::kMagic, sizeof fh.magic);
  fh.version = tr::kVersion;
  fh.body_bytes = static_cast<uint32_t>(p - body.data());
  fh.body_checksum = tr::checksum32(body.data(), fh.body_bytes);
  std::fwrite(&fh, sizeof fh, 1, out);
  std::fwrite(body.data(), 1, fh.body_bytes, out);
}

// The events of all threads: xorshift random numbers, and the totals printed at the end.
struct Generator {
  uint64_t per_thread;  // live blocks a thread keeps
  uint64_t x = 0x9e3779b97f4a7c15ull, written = 0, live_bytes = 0, peak = 0;
  uint64_t rnd() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  }
  void step(Thread& t, uint32_t index);
  void free_random(Thread& t);
  void malloc_new(Thread& t);
};

// One step of thread `index`: its clock, a free when it is full, then a malloc.
void Generator::step(Thread& t, uint32_t index) {
  room(t, index);
  if (++t.steps % 5000 == 0) {  // a millisecond per 10000 events
    t.pos = tr::put_tag(t.pos, tr::Tag::kTime, 1);
    ++t.now_ms;
    ++t.header.events;
  }
  if (t.live_id.size() > per_thread) {  // full: free a random block, then make one
    free_random(t);
    room(t, index);
  }
  malloc_new(t);
}

void Generator::free_random(Thread& t) {
  const size_t k = rnd() % t.live_id.size();
  const uint64_t id = t.live_id[k];
  t.pos = tr::put_tag(t.pos, tr::Tag::kFree, tr::zigzag(static_cast<int64_t>(t.next_id - 1 - id)));
  live_bytes -= t.live_size[k];
  t.live_id[k] = t.live_id.back();
  t.live_size[k] = t.live_size.back();
  t.live_id.pop_back();
  t.live_size.pop_back();
  ++counts[static_cast<int>(tr::EventKind::kFree)];
  ++t.header.events;
  ++written;
}

void Generator::malloc_new(Thread& t) {
  const uint32_t size = 16 + static_cast<uint32_t>(rnd() % 1025);
  t.pos = tr::put_tag(t.pos, tr::Tag::kMalloc, size);
  t.live_id.push_back(t.next_id++);
  t.live_size.push_back(size);
  live_bytes += size;
  peak = live_bytes > peak ? live_bytes : peak;
  ++counts[static_cast<int>(tr::EventKind::kMalloc)];
  ++t.header.events;
  ++written;
}

// The end chunk: the counts, as the recorder writes them at a clean exit.
void write_end_chunk() {
  uint8_t end[sizeof(tr::ChunkHeader) + 10 * tr::kEventKinds];
  uint8_t* q = end + sizeof(tr::ChunkHeader);
  for (uint64_t c : counts) q = tr::put_varint(q, c);
  tr::ChunkHeader eh{};
  eh.magic = tr::kChunkMagic;
  eh.kind = static_cast<uint32_t>(tr::ChunkKind::kEnd);
  eh.payload_bytes = static_cast<uint32_t>(q - end - sizeof eh);
  eh.checksum = tr::chunk_checksum(eh, end + sizeof eh);
  std::memcpy(end, &eh, sizeof eh);
  std::fwrite(end, 1, static_cast<size_t>(q - end), out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_trace_gen OUT.hmt EVENTS [LIVE] [THREADS]\n");
    return 2;
  }
  const uint64_t events = std::strtoull(argv[2], nullptr, 10);
  const uint64_t live = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 100000;
  const uint32_t threads = argc > 4 ? static_cast<uint32_t>(std::strtoul(argv[4], nullptr, 10)) : 1;
  if (events == 0 || live == 0 || threads == 0 || threads > tr::kMaxThreads) {
    std::fprintf(stderr, "bench_trace_gen: EVENTS and LIVE must be positive, THREADS 1..%u\n", tr::kMaxThreads);
    return 2;
  }
  out = std::fopen(argv[1], "wb");
  if (!out) {
    std::perror(argv[1]);
    return 2;
  }
  write_file_header();

  std::vector<Thread> ts(threads);
  const uint64_t batch = uint64_t{1} << 32;  // each thread's ids: a range of its own
  for (uint32_t i = 0; i < threads; ++i) {
    ts[i].next_id = i * batch;
    flush(ts[i], i);
    ts[i].live_id.reserve(live / threads + 1);
  }
  Generator g{live / threads};
  while (g.written < events)
    for (uint32_t i = 0; i < threads && g.written < events; ++i) g.step(ts[i], i);
  for (uint32_t i = 0; i < threads; ++i) flush(ts[i], i);
  write_end_chunk();
  if (std::fclose(out) != 0) {
    std::perror(argv[1]);
    return 1;
  }
  std::printf("%s: %" PRIu64 " events, %u threads, peak live %" PRIu64 " bytes\n", argv[1], g.written, threads, g.peak);
  return 0;
}
