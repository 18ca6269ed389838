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
  add(kLostThreads, "more threads than the format's 4096 (at once, or over the whole recording)");
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

constexpr uint64_t kRawIds = uint64_t{1} << kImageIdShift;  // raw ids an image can use

// Bounded cursor over a byte range for the header body and the end chunk.
struct Cursor {
  const uint8_t* p;
  const uint8_t* end;
  bool varint(uint64_t& v) { return get_varint(p, end, v); }
  bool string(std::string& s) {
    uint64_t n;
    if (!varint(n) || n > static_cast<uint64_t>(end - p)) return false;
    s.assign(reinterpret_cast<const char*>(p), n);
    p += n;
    return true;
  }
};

}  // namespace

bool parse_header_body(const uint8_t* body, size_t n, uint32_t version, Header& out) {
  Cursor c{body, body + n};
  uint64_t argc = 0;
  out.version = version;
  bool ok = c.string(out.program) && c.varint(argc) && argc <= n;
  for (uint64_t i = 0; ok && i < argc; ++i) ok = c.string(out.argv.emplace_back());
  ok = ok && c.string(out.machine) && c.varint(out.start_unix_ns) && c.varint(out.pid);
  if (ok && version >= 2) ok = c.string(out.allocator);
  return ok;
}

std::string unreadable_version(uint32_t version) {
  if (version >= kOldestVersion && version <= kVersion) return "";
  return "format version " + std::to_string(kOldestVersion) + " to " + std::to_string(kVersion) + ", found version " +
         std::to_string(version) + " (written by a newer heapmark?)";
}

bool parse_end_payload(const uint8_t* payload, size_t n, uint64_t (&counts)[kEventKinds]) {
  Cursor c{payload, payload + n};
  for (auto& v : counts)
    if (!c.varint(v)) return false;
  return true;
}

bool parse_lost_payload(const uint8_t* payload, size_t n, uint64_t& count, uint32_t& why) {
  Cursor c{payload, payload + n};
  uint64_t w = 0;
  if (!c.varint(count) || !c.varint(w) || w > 0xffffffffu) return false;
  why = static_cast<uint32_t>(w);
  return true;
}

void check_chunk_header(const ChunkHeader& h, uint64_t offset, uint64_t file_size, const std::string& name) {
  auto fail = [&](uint64_t at, const std::string& expected) {
    throw InputError(name + ": bad trace at byte " + std::to_string(at) + ": expected " + expected);
  };
  if (h.magic != kChunkMagic) fail(offset, "a chunk header (magic \"HMCK\")");
  if (h.payload_bytes > kMaxChunkPayload)
    fail(offset + 12, "a chunk payload of at most " + std::to_string(kMaxChunkPayload) + " bytes");
  if (h.payload_bytes > file_size - offset - sizeof h)
    fail(file_size, "the rest of a " + std::to_string(h.payload_bytes) + "-byte chunk payload starting at byte " +
                        std::to_string(offset + sizeof h) + " (the file is truncated)");
  if (h.thread >= kMaxThreads) fail(offset + 8, "a thread index below " + std::to_string(kMaxThreads));
  if (h.kind == static_cast<uint32_t>(ChunkKind::kEvents) && h.events > h.payload_bytes)
    fail(offset + 16, "at most one event per payload byte");
}

void check_chunk_payload(const ChunkHeader& h, const uint8_t* payload, uint64_t offset, const std::string& name) {
  if (kVerifyChecksums && chunk_checksum(h, payload) != h.checksum)
    throw InputError(name + ": bad trace at byte " + std::to_string(offset) +
                     ": expected a chunk matching its checksum (corrupted chunk)");
}

Reader::Reader(const uint8_t* data, size_t size, std::string name) : data_(data), size_(size), name_(std::move(name)) {
  FileHeader h;
  auto fail = [&](uint64_t at, const std::string& expected) {
    throw InputError(name_ + ": bad trace at byte " + std::to_string(at) + ": expected " + expected);
  };
  if (size_ < sizeof h) {
    if (size_ >= 8 && std::memcmp(data_, kMagic, 8) != 0)
      fail(0, "the heapmark trace magic \"HMTRACE\\x1a\" (not a heapmark trace)");
    fail(size_, "a " + std::to_string(sizeof h) + "-byte file header (the file is truncated)");
  }
  std::memcpy(&h, data_, sizeof h);
  if (std::memcmp(h.magic, kMagic, 8) != 0) fail(0, "the heapmark trace magic \"HMTRACE\\x1a\" (not a heapmark trace)");
  if (const std::string v = unreadable_version(h.version); !v.empty()) fail(8, v);
  if (h.body_bytes > size_ - sizeof h)
    fail(size_, "a header body of " + std::to_string(h.body_bytes) + " bytes (the file is truncated)");
  const uint8_t* body = data_ + sizeof h;
  if (kVerifyChecksums && checksum32(body, h.body_bytes) != h.body_checksum)
    fail(sizeof h, "a header body matching its checksum (corrupted)");
  if (!parse_header_body(body, h.body_bytes, h.version, header_))
    fail(sizeof h, "a well-formed header body (corrupted header)");
  pos_ = sizeof h + h.body_bytes;
}

bool Reader::next_chunk() {
  for (;;) {
    if (pos_ == size_) return false;
    if (have_end_)
      throw InputError(name_ + ": bad trace at byte " + std::to_string(pos_) +
                       ": expected the end of the file after the end chunk");
    ChunkHeader h;
    if (size_ - pos_ < sizeof h)
      throw InputError(name_ + ": bad trace at byte " + std::to_string(pos_) + ": expected a " +
                       std::to_string(sizeof h) +
                       "-byte chunk header (the file is truncated: " + std::to_string(size_ - pos_) + " bytes left)");
    std::memcpy(&h, data_ + pos_, sizeof h);
    check_chunk_header(h, pos_, size_, name_);
    const uint8_t* payload = data_ + pos_ + sizeof h;
    check_chunk_payload(h, payload, pos_, name_);
    const size_t chunk_offset = pos_;
    pos_ += sizeof h + h.payload_bytes;
    auto fail = [&](uint64_t at, const std::string& expected) {
      throw InputError(name_ + ": bad trace at byte " + std::to_string(at) + ": expected " + expected);
    };
    switch (static_cast<ChunkKind>(h.kind)) {
      case ChunkKind::kEvents:
        decoder_.start(h, payload, chunk_offset + sizeof h, image_, &name_, header_.version);
        if (h.thread > max_thread_) max_thread_ = h.thread;
        return true;
      case ChunkKind::kEnd:
        if (!parse_end_payload(payload, h.payload_bytes, end_counts_))
          fail(chunk_offset + sizeof h, "the recorder's event counts in the end chunk");
        have_end_ = true;
        continue;
      case ChunkKind::kLost: {
        uint64_t n = 0;
        uint32_t why = 0;
        if (!parse_lost_payload(payload, h.payload_bytes, n, why))
          fail(chunk_offset + sizeof h, "the count and reasons of a lost-events chunk");
        lost_ += n;
        lost_why_ |= why;
        continue;
      }
      case ChunkKind::kImage:
        if (image_.index + 1 >= (1u << (63 - kImageIdShift))) fail(chunk_offset, "fewer exec'd images");
        ++image_.index;
        image_.t_offset = h.start_ms;
        continue;
      case ChunkKind::kSites:  // read by read_sites (workloads/trace_sites.h)
        continue;
    }
    fail(chunk_offset + 4, "a chunk kind 0 (events), 1 (end), 2 (exec image), 3 (lost events) or 4 (sites)");
  }
}

bool Reader::next(Event& e) {
  while (!decoder_.next(e))
    if (!next_chunk()) return false;
  return true;
}

void ChunkDecoder::start(const ChunkHeader& h, const uint8_t* payload, uint64_t payload_offset, const ImageBase& image,
                         const std::string* name, uint32_t version) {
  p_ = base_ = payload;
  version_ = version;
  end_ = payload + h.payload_bytes;
  base_offset_ = payload_offset;
  name_ = name;
  thread_ = h.thread;
  left_ = h.events;
  next_id_ = h.next_id;
  t_ms_ = h.start_ms;
  site_ = 0;
  image_ = image;
  if (left_ == 0 && p_ != end_) fail(base_ - sizeof(ChunkHeader), "an empty payload for a chunk of 0 events");
}

void ChunkDecoder::fail(const uint8_t* at, const std::string& expected) const {
  throw InputError(*name_ + ": bad trace at byte " + std::to_string(base_offset_ + static_cast<uint64_t>(at - base_)) +
                   ": expected " + expected);
}

uint64_t ChunkDecoder::varint(const char* what) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p_ >= end_) fail(p_, std::string(what) + " (the chunk ends mid-event)");
    const uint8_t b = *p_++;
    v |= uint64_t{b & 0x7fu} << shift;
    if (!(b & 0x80)) {
      if (shift == 63 && b > 1) break;
      return v;
    }
  }
  fail(p_, std::string(what) + " as a varint of at most 64 bits");
}

void ChunkDecoder::count_down() {
  if (--left_ == 0 && p_ != end_) fail(p_, "the end of the chunk after its last event");
}

// The id the chunk's next allocation takes, unique across images.
uint64_t ChunkDecoder::take_id(const uint8_t* at, uint64_t id_base) {
  if (next_id_ >= kRawIds) fail(at, "a block id below 2^" + std::to_string(kImageIdShift));
  const uint64_t id = next_id_++ + id_base;
  if (id + 1 > max_id_) max_id_ = id + 1;
  return id;
}

// The block a free or realloc names: `z` is zigzag(distance back from the next id).
uint64_t ChunkDecoder::back_id(uint64_t z, const uint8_t* at, uint64_t id_base) const {
  const int64_t d = unzigzag(z);
  const uint64_t id = next_id_ - 1 - static_cast<uint64_t>(d);
  if (d >= static_cast<int64_t>(next_id_) || id >= kRawIds) fail(at, "a block id in range for this chunk");
  return id + id_base;
}

// An extension event of kind `v` other than kSite (a sample or a mark) into `e`. Rare, so kept out of next().
void ChunkDecoder::ext_event(Event& e, uint64_t v, const uint8_t* at) {
  if (v == static_cast<uint64_t>(ExtKind::kRss)) {
    e.op = Op::kRss;
    const uint64_t rss = varint("resident pages"), shared = varint("shared pages");
    const uint64_t own = version_ >= 2 ? varint("the recorder's own resident pages") : 0;
    if (rss > (uint64_t{1} << 40) || shared > (uint64_t{1} << 40) || own > (uint64_t{1} << 40))
      fail(at, "a page count below 2^40");
    e.size = rss * 4096;
    e.shared = shared * 4096;
    e.own = own * 4096;
  } else if (v == static_cast<uint64_t>(ExtKind::kFork)) {
    e.op = Op::kFork;
  } else if (version_ >= 2 && v == static_cast<uint64_t>(ExtKind::kThreadBegin)) {
    e.op = Op::kThreadBegin;
    e.size = varint("the thread ends before a thread's begin");
  } else if (version_ >= 2 && v == static_cast<uint64_t>(ExtKind::kThreadEnd)) {
    e.op = Op::kThreadEnd;
    e.size = varint("a thread end's place");
  } else if (v == static_cast<uint64_t>(ExtKind::kPhase)) {
    e.op = Op::kPhase;
    const uint64_t n = varint("a phase name's length");
    if (n > kMaxPhaseName || n > static_cast<uint64_t>(end_ - p_))
      fail(at, "a phase name of at most " + std::to_string(kMaxPhaseName) + " bytes inside the chunk");
    e.name = reinterpret_cast<const char*>(p_);
    e.name_len = static_cast<uint8_t>(n);
    p_ += n;
  } else {
    fail(at, version_ >= 2 ? "an extension event of kind 0 (rss), 1 (fork), 2 (phase), 3 (site), 4 (thread begin) or 5 "
                             "(thread end)"
                           : "an extension event of kind 0 (rss), 1 (fork), 2 (phase) or 3 (site) (format version 1)");
  }
}

bool ChunkDecoder::next(Event& e) {
  const uint64_t id_base = uint64_t{image_.index} << kImageIdShift;
  while (left_ > 0) {
    const uint8_t* at = p_;
    if (p_ >= end_) fail(at, "another event (the chunk header promised " + std::to_string(left_) + " more)");
    const uint8_t tag = *p_++;
    const auto kind = static_cast<Tag>(tag & 7);
    uint64_t v = tag >> 3;
    if (v == kInlineVarint && kind != Tag::kExt && kind != Tag::kAligned) {
      v = varint("an event value");
      if (v > UINT64_MAX - kInlineVarint) fail(at, "an event value below 2^64");
      v += kInlineVarint;
    }
    e = Event{};
    e.thread = thread_;
    e.offset = base_offset_ + static_cast<uint64_t>(at - base_);
    e.image = image_.index;
    switch (kind) {
      case Tag::kMalloc:
      case Tag::kCalloc:
        e.op = kind == Tag::kMalloc ? Op::kMalloc : Op::kCalloc;
        e.size = v;
        e.id = take_id(at, id_base);
        e.site = site_;
        break;
      case Tag::kFree:
        e.op = Op::kFree;
        e.id = back_id(v, at, id_base);
        break;
      case Tag::kRealloc:
        e.op = Op::kRealloc;
        e.old_id = back_id(v, at, id_base);
        e.size = varint("a realloc size");
        e.id = take_id(at, id_base);
        e.site = site_;
        break;
      case Tag::kAligned:
        if (v > 40) fail(at, "an alignment of at most 2^40");
        e.op = Op::kAligned;
        e.align_log2 = static_cast<uint8_t>(v);
        e.size = varint("an aligned allocation size");
        e.id = take_id(at, id_base);
        e.site = site_;
        break;
      case Tag::kTime:
        if (t_ms_ + v < t_ms_) fail(at, "a time below 2^64 ms");
        t_ms_ += v;
        count_down();
        continue;
      case Tag::kIdBase:
        if (next_id_ + v < next_id_ || next_id_ + v >= kRawIds)
          fail(at, "an id batch below 2^" + std::to_string(kImageIdShift));
        next_id_ += v;
        count_down();
        continue;
      case Tag::kExt:
        if (v == static_cast<uint64_t>(ExtKind::kSite)) {
          const uint64_t site = varint("a stack id");
          if (site > UINT32_MAX) fail(at, "a stack id below 2^32");
          site_ = static_cast<uint32_t>(site);
          count_down();
          continue;
        }
        ext_event(e, v, at);
        break;
    }
    if (t_ms_ > UINT64_MAX - image_.t_offset) fail(at, "a time below 2^64 ms");
    e.t_ms = t_ms_ + image_.t_offset;
    count_down();
    return true;
  }
  return false;
}

MappedFile::MappedFile(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would wait for a writer forever.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw InputError(path + ": cannot open trace: " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    throw InputError(path + ": not a regular file (a directory, FIFO or device): give a trace file");
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
