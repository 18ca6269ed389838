// Trace reader: every read is bounds-checked, every inconsistency becomes one
// InputError naming the byte offset and what was expected there.
#include "workloads/trace_format.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/input_error.h"

namespace heapmark::trace {

std::string lost_reason_text(uint32_t bits) {
  std::string out;
  auto add = [&](uint32_t bit, const char* text) {
    if (!(bits & bit)) return;
    if (!out.empty()) out += "; ";
    out += text;
  };
  add(kLostThreads, "more threads at once than the format's 4096");
  add(kLostBufferMemory, "no memory for a thread's event buffer (mmap failed)");
  add(kLostTableMemory, "no memory for the pointer table (mmap failed)");
  if (bits & ~uint32_t{7}) out += out.empty() ? "an unknown reason" : "; an unknown reason";
  return out;
}

const char* event_kind_name(EventKind k) noexcept {
  switch (k) {
    case EventKind::kMalloc: return "malloc";
    case EventKind::kCalloc: return "calloc";
    case EventKind::kRealloc: return "realloc";
    case EventKind::kAligned: return "aligned";
    case EventKind::kFree: return "free";
    case EventKind::kRss: return "rss";
    case EventKind::kCount: break;
  }
  return "?";
}

namespace {

#ifdef HEAPMARK_TRACE_FUZZING
constexpr bool kVerifyChecksums = false;  // the fuzz target's build: lets mutations reach the event decoder
#else
constexpr bool kVerifyChecksums = true;
#endif

// Bounded cursor over a byte range for the header body and the end chunk.
struct Cursor {
  const uint8_t* p;
  const uint8_t* end;
  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) return false;
      const uint8_t b = *p++;
      v |= uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return shift < 63 || b <= 1;
    }
    return false;
  }
  bool string(std::string& s) {
    uint64_t n;
    if (!varint(n) || n > static_cast<uint64_t>(end - p)) return false;
    s.assign(reinterpret_cast<const char*>(p), n);
    p += n;
    return true;
  }
};

}  // namespace

Reader::Reader(const uint8_t* data, size_t size, std::string name) : data_(data), size_(size), name_(std::move(name)) {
  FileHeader h;
  if (size_ < sizeof h) {
    if (size_ >= 8 && std::memcmp(data_, kMagic, 8) != 0) fail(0, "the heapmark trace magic \"HMTRACE\\x1a\" (not a heapmark trace)");
    fail(size_, "a " + std::to_string(sizeof h) + "-byte file header (the file is truncated)");
  }
  std::memcpy(&h, data_, sizeof h);
  if (std::memcmp(h.magic, kMagic, 8) != 0) fail(0, "the heapmark trace magic \"HMTRACE\\x1a\" (not a heapmark trace)");
  if (h.version != kVersion)
    fail(8, "format version " + std::to_string(kVersion) + ", found version " + std::to_string(h.version));
  if (h.body_bytes > size_ - sizeof h)
    fail(size_, "a header body of " + std::to_string(h.body_bytes) + " bytes (the file is truncated)");
  const uint8_t* body = data_ + sizeof h;
  if (kVerifyChecksums && checksum32(body, h.body_bytes) != h.body_checksum) fail(sizeof h, "a header body matching its checksum (corrupted)");
  Cursor c{body, body + h.body_bytes};
  uint64_t argc = 0;
  bool ok = c.string(header_.program) && c.varint(argc) && argc <= h.body_bytes;
  for (uint64_t i = 0; ok && i < argc; ++i) ok = c.string(header_.argv.emplace_back());
  ok = ok && c.string(header_.machine) && c.varint(header_.start_unix_ns) && c.varint(header_.pid);
  if (!ok) fail(sizeof h + static_cast<size_t>(c.p - body), "a well-formed header field (corrupted header)");
  pos_ = sizeof h + h.body_bytes;
}

void Reader::fail(uint64_t offset, const std::string& expected) const {
  throw InputError(name_ + ": bad trace at byte " + std::to_string(offset) + ": expected " + expected);
}

uint64_t Reader::varint(const char* what) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p_ >= end_) fail(static_cast<uint64_t>(p_ - data_), std::string(what) + " (the chunk ends mid-event)");
    const uint8_t b = *p_++;
    v |= uint64_t{b & 0x7fu} << shift;
    if (!(b & 0x80)) {
      if (shift == 63 && b > 1) break;
      return v;
    }
  }
  fail(static_cast<uint64_t>(p_ - data_), std::string(what) + " as a varint of at most 64 bits");
}

bool Reader::next_chunk() {
  for (;;) {
    if (pos_ == size_) return false;
    if (have_end_) fail(pos_, "the end of the file after the end chunk");
    ChunkHeader h;
    if (size_ - pos_ < sizeof h)
      fail(pos_, "a " + std::to_string(sizeof h) + "-byte chunk header (the file is truncated: " +
                     std::to_string(size_ - pos_) + " bytes left)");
    std::memcpy(&h, data_ + pos_, sizeof h);
    if (h.magic != kChunkMagic) fail(pos_, "a chunk header (magic \"HMCK\")");
    if (h.payload_bytes > kMaxChunkPayload)
      fail(pos_ + 12, "a chunk payload of at most " + std::to_string(kMaxChunkPayload) + " bytes");
    if (h.payload_bytes > size_ - pos_ - sizeof h)
      fail(size_, "the rest of a " + std::to_string(h.payload_bytes) + "-byte chunk payload starting at byte " +
                      std::to_string(pos_ + sizeof h) + " (the file is truncated)");
    const uint8_t* payload = data_ + pos_ + sizeof h;
    if (kVerifyChecksums && chunk_checksum(h, payload) != h.checksum) fail(pos_, "a chunk matching its checksum (corrupted chunk)");
    if (h.thread >= kMaxThreads) fail(pos_ + 8, "a thread index below " + std::to_string(kMaxThreads));
    chunk_offset_ = pos_;
    pos_ += sizeof h + h.payload_bytes;
    switch (static_cast<ChunkKind>(h.kind)) {
      case ChunkKind::kEvents:
        if (h.events > h.payload_bytes) fail(chunk_offset_ + 16, "at most one event per payload byte");
        p_ = payload;
        end_ = payload + h.payload_bytes;
        thread_ = h.thread;
        left_ = h.events;
        next_id_ = h.next_id;
        t_ms_ = h.start_ms;
        if (thread_ > max_thread_) max_thread_ = thread_;
        if (left_ > 0) return true;
        if (p_ != end_) fail(chunk_offset_, "an empty payload for a chunk of 0 events");
        continue;
      case ChunkKind::kEnd: {
        Cursor c{payload, payload + h.payload_bytes};
        for (auto& n : end_counts_)
          if (!c.varint(n)) fail(chunk_offset_ + sizeof h, "the recorder's event counts in the end chunk");
        have_end_ = true;
        continue;
      }
      case ChunkKind::kLost: {
        Cursor c{payload, payload + h.payload_bytes};
        uint64_t n = 0, why = 0;
        if (!c.varint(n) || !c.varint(why) || why > 0xffffffffu) fail(chunk_offset_ + sizeof h, "the count and reasons of a lost-events chunk");
        lost_ += n;
        lost_why_ |= static_cast<uint32_t>(why);
        continue;
      }
      case ChunkKind::kImage:
        // ids restart in the new image: shift them above every id seen so far.
        id_offset_ = max_id_;
        ++images_;
        continue;
    }
    fail(chunk_offset_ + 4, "a chunk kind 0 (events), 1 (end), 2 (exec image) or 3 (lost events)");
  }
}

bool Reader::next(Event& e) {
  while (left_ == 0)
    if (!next_chunk()) return false;
  for (;;) {
    const uint64_t off = static_cast<uint64_t>(p_ - data_);
    if (p_ >= end_) fail(off, "another event (the chunk header promised " + std::to_string(left_) + " more)");
    const uint8_t tag = *p_++;
    const auto kind = static_cast<Tag>(tag & 7);
    uint64_t v = tag >> 3;
    if (v == kInlineVarint && kind != Tag::kExt && kind != Tag::kAligned) {
      v = varint("an event value");
      if (v > UINT64_MAX - kInlineVarint) fail(off, "an event value below 2^64");
      v += kInlineVarint;
    }
    e = Event{};
    e.thread = thread_;
    e.offset = off;
    e.image = images_ - 1;
    auto take_id = [&]() {
      if (next_id_ >= (uint64_t{1} << 48)) fail(off, "a block id below 2^48");
      e.id = next_id_++ + id_offset_;
      if (e.id + 1 > max_id_) max_id_ = e.id + 1;
    };
    auto back_id = [&](uint64_t z) {
      const int64_t d = unzigzag(z);
      const uint64_t id = next_id_ - 1 - static_cast<uint64_t>(d);
      if (d >= static_cast<int64_t>(next_id_) || id >= (uint64_t{1} << 48)) fail(off, "a block id in range for this chunk");
      return id + id_offset_;
    };
    switch (kind) {
      case Tag::kMalloc:
      case Tag::kCalloc:
        e.op = kind == Tag::kMalloc ? Op::kMalloc : Op::kCalloc;
        e.size = v;
        take_id();
        break;
      case Tag::kFree:
        e.op = Op::kFree;
        e.id = back_id(v);
        break;
      case Tag::kRealloc:
        e.op = Op::kRealloc;
        e.old_id = back_id(v);
        e.size = varint("a realloc size");
        take_id();
        break;
      case Tag::kAligned:
        if (v > 40) fail(off, "an alignment of at most 2^40");
        e.op = Op::kAligned;
        e.align_log2 = static_cast<uint8_t>(v);
        e.size = varint("an aligned allocation size");
        take_id();
        break;
      case Tag::kTime:
        if (t_ms_ + v < t_ms_) fail(off, "a time below 2^64 ms");
        t_ms_ += v;
        if (--left_ == 0 && p_ != end_) fail(static_cast<uint64_t>(p_ - data_), "the end of the chunk after its last event");
        while (left_ == 0)
          if (!next_chunk()) return false;
        continue;
      case Tag::kIdBase:
        if (next_id_ + v < next_id_ || next_id_ + v >= (uint64_t{1} << 48)) fail(off, "an id batch below 2^48");
        next_id_ += v;
        if (--left_ == 0 && p_ != end_) fail(static_cast<uint64_t>(p_ - data_), "the end of the chunk after its last event");
        while (left_ == 0)
          if (!next_chunk()) return false;
        continue;
      case Tag::kExt:
        if (v == static_cast<uint64_t>(ExtKind::kRss)) {
          e.op = Op::kRss;
          const uint64_t rss = varint("resident pages"), shared = varint("shared pages");
          if (rss > (uint64_t{1} << 40) || shared > (uint64_t{1} << 40)) fail(off, "a page count below 2^40");
          e.size = rss * 4096;
          e.shared = shared * 4096;
        } else if (v == static_cast<uint64_t>(ExtKind::kFork)) {
          e.op = Op::kFork;
        } else {
          fail(off, "an extension event of kind 0 (rss) or 1 (fork)");
        }
        break;
    }
    e.t_ms = t_ms_;
    if (--left_ == 0 && p_ != end_) fail(static_cast<uint64_t>(p_ - data_), "the end of the chunk after its last event");
    return true;
  }
}

MappedFile::MappedFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InputError(path + ": cannot open trace: " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    throw InputError(path + ": not a regular file");
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* m = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      close(fd);
      throw InputError(path + ": cannot map trace: " + std::strerror(errno));
    }
    data_ = static_cast<const uint8_t*>(m);
  } else {
    static const uint8_t empty = 0;
    data_ = &empty;
  }
  close(fd);
}

MappedFile::~MappedFile() {
  if (size_ > 0) munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace heapmark::trace
