// The allocation trace format (.hmt) written by libheapmark_record.so and read
// by the `trace` workload, `heapmark trace-info` and `heapmark replay`.
//
// File = FileHeader + header body, then chunks. Each chunk holds the events of
// ONE recorded thread, in that thread's order, and is self-contained (its
// header restores the decoder state), so threads flush their own buffers
// without coordinating. Per thread the chunks appear in file order.
//
// Events are one tag byte (low 3 bits: kind, high 5 bits: a small inline value
// 0..30, 31 = "a varint follows"), then varints. Block ids are never encoded
// for allocations: each allocation takes the thread's next id (ids come from a
// global counter in per-thread batches, announced by kIdBase), and a free names
// its block as the distance back from that next id, so most events are 1-3 bytes.
//
// The encoding helpers below are header-only and allocation-free: the recorder
// (which runs inside malloc) uses them; the Reader lives in trace_format.cc.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace heapmark::trace {

inline constexpr char kMagic[8] = {'H', 'M', 'T', 'R', 'A', 'C', 'E', '\x1a'};
// Version 2 (Dec 2026) added the allocator in the header body, thread begin and
// end events, and the recorder's own resident pages in RSS samples. Readers
// take both versions; a version-1 trace simply has none of these.
inline constexpr uint32_t kVersion = 2;
inline constexpr uint32_t kOldestVersion = 1;
inline constexpr uint32_t kChunkMagic = 0x4b43'4d48;  // "HMCK" little-endian

struct FileHeader {
  char magic[8];
  uint32_t version;
  uint32_t body_bytes;     // header body that follows: varint-prefixed strings and numbers
  uint32_t body_checksum;  // checksum32 of the body
  uint32_t reserved;
};
static_assert(sizeof(FileHeader) == 24);

enum class ChunkKind : uint32_t {
  kEvents = 0,
  kEnd = 1,    // written once at a clean exit: payload = the recorder's own counts (varints, EventKind order)
  kImage = 2,  // the process exec'd a new image: ids restart, payload = the new program's path, start_ms =
               // the image's start on the recording's clock (its events' times count from there; 0 before Dec 2026)
  kLost = 3,   // events the recorder could not record: payload = varint count, varint LostReason bits
  kSites = 4,  // allocation sites (heapmark record --stacks): payload = SiteRecords, see below
};
// Why events went unrecorded (bits of a kLost chunk).
enum LostReason : uint32_t { kLostThreads = 1, kLostBufferMemory = 2, kLostTableMemory = 4 };
// "more than 4096 threads at once; ..." for the bits set.
std::string lost_reason_text(uint32_t bits);

struct ChunkHeader {
  uint32_t magic;
  uint32_t kind;
  uint32_t thread;  // recorder's thread index (dense from 0)
  uint32_t payload_bytes;
  uint32_t events;
  uint32_t checksum;  // checksum32 over this header (checksum field 0) and the payload
  uint64_t start_ms;  // time of the first event, ms since the recording started
  uint64_t next_id;   // the id the thread's next allocation takes
};
static_assert(sizeof(ChunkHeader) == 40);
inline constexpr uint32_t kMaxChunkPayload = 1u << 20;
inline constexpr uint32_t kMaxThreads = 4096;

// Tag kinds (low 3 bits of the tag byte).
enum class Tag : uint8_t {
  kMalloc = 0,   // inline/varint: size
  kCalloc = 1,   // inline/varint: size (count * size)
  kFree = 2,     // inline/varint: zigzag(next_id - 1 - id) (signed: another thread's batch may be ahead)
  kRealloc = 3,  // inline/varint: zigzag(next_id - 1 - old id); varint new size; the result takes next_id
  kAligned = 4,  // inline: log2 alignment; varint size
  kTime = 5,     // inline/varint: ms since the thread's previous time
  kIdBase = 6,   // inline/varint: new next_id - next_id (a new batch of ids)
  kExt = 7,      // inline: ExtKind
};
enum class ExtKind : uint8_t {
  kRss = 0,          // varint resident pages, varint shared pages (from /proc/self/statm, 4 KiB pages); version 2:
                     // varint pages of the recorder's own that were resident in them (its buffers and pointer table)
  kFork = 1,         // the process forked here (the child is not recorded)
  kPhase = 2,        // varint length, then the name: a `phase NAME` line the thread wrote to HEAPMARK_PHASE_FD
  kSite = 3,         // varint stack id (1-based, 0 = unknown): the site of this chunk's following allocations,
                     // until the next kSite (a chunk starts at site 0, so it stays self-contained)
  kThreadBegin = 4,  // (version 2) varint: thread ends recorded before it. The thread's first event: it began
                     // here, at its first allocator call, after that many kThreadEnd events (of any thread)
  kThreadEnd = 5,    // (version 2) varint: its place among the recording's thread ends (from 0). The thread is
                     // exiting (its thread-exit destructors run); a thread whose destructors allocate again
                     // ends again later: its last kThreadEnd is its end. The clock's 1-4 ms ticks cannot order
                     // a begin after an end in the same tick: these counts do
};
inline constexpr size_t kMaxPhaseName = 31;  // longer names are cut (the cell's phase names hold 31 bytes)

// The records of a kSites chunk, each a varint SiteRecord then its fields. The
// recorder writes them under one lock in the order it learns them, so a stack
// follows the modules its frames lie in, and a module loaded later (dlopen)
// comes before the first stack that needs it. Stack ids count from 1 in each
// exec'd image.
enum class SiteRecord : uint8_t {
  kWalker = 1,   // varint depth, varint name length, name ("libunwind" or "frame-pointers")
  kModule = 2,   // varint bias (load address minus link address), varint lo, varint hi (mapped span),
                 // varint path length, path, varint build-id length, build-id bytes
  kStack = 3,    // varint id, varint depth, then depth frames: the first a varint address, each next
                 // a varint zigzag(address - previous); return addresses, innermost first
  kDropped = 4,  // varint count: allocations whose stack did not fit in the recorder's table (site 0)
  kSymbol = 5,   // varint address, function, file (varint length + bytes each), varint line, module: a frame
                 // named already (an imported recording); such frames need no module record
};
inline constexpr uint32_t kMaxStackDepth = 64;

// Counted kinds, in the order of the kEnd payload.
enum class EventKind : uint8_t { kMalloc, kCalloc, kRealloc, kAligned, kFree, kRss, kCount };
inline constexpr int kEventKinds = static_cast<int>(EventKind::kCount);
const char* event_kind_name(EventKind k) noexcept;

inline constexpr uint8_t kInlineMax = 30;
inline constexpr uint8_t kInlineVarint = 31;

// FNV-1a, 32 bits, over `n` bytes, continuing from `h`.
inline uint32_t checksum32(const void* data, size_t n, uint32_t h = 0x811c9dc5u) noexcept {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x01000193u;
  }
  return h;
}
inline uint32_t chunk_checksum(const ChunkHeader& h, const uint8_t* payload) noexcept {
  ChunkHeader c = h;
  c.checksum = 0;
  return checksum32(payload, h.payload_bytes, checksum32(&c, sizeof c));
}

inline uint8_t* put_varint(uint8_t* p, uint64_t v) noexcept {
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v) | 0x80;
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return p;
}
// A tag with its value inline when it fits, else followed by varint(v - 31).
inline uint8_t* put_tag(uint8_t* p, Tag t, uint64_t v) noexcept {
  if (v <= kInlineMax) {
    *p++ = static_cast<uint8_t>(static_cast<uint8_t>(t) | (v << 3));
    return p;
  }
  *p++ = static_cast<uint8_t>(static_cast<uint8_t>(t) | (kInlineVarint << 3));
  return put_varint(p, v - kInlineVarint);
}
inline uint64_t zigzag(int64_t v) noexcept { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
inline int64_t unzigzag(uint64_t v) noexcept { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }
inline constexpr size_t kMaxEventBytes = 1 + 10 + 10;
// An extension event's tag (its kind inline); its varints, if any, follow.
inline uint8_t* put_ext(uint8_t* p, ExtKind k) noexcept { return put_tag(p, Tag::kExt, static_cast<uint64_t>(k)); }

// Reads a varint at p (not past end); false when it is cut off or longer than 64 bits.
inline bool get_varint(const uint8_t*& p, const uint8_t* end, uint64_t& v) noexcept {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p >= end) return false;
    const uint8_t b = *p++;
    v |= uint64_t{b & 0x7fu} << shift;
    if (!(b & 0x80)) return shift < 63 || b <= 1;
  }
  return false;
}
// The recording's start (Header::start_unix_ns) from a header body, without
// allocating (an exec'd image's recorder times its image from it).
inline bool header_start_unix_ns(const uint8_t* p, const uint8_t* end, uint64_t& out) noexcept {
  uint64_t n = 0, argc = 0;
  auto skip_string = [&]() {
    if (!get_varint(p, end, n) || n > static_cast<uint64_t>(end - p)) return false;
    p += n;
    return true;
  };
  if (!skip_string() || !get_varint(p, end, argc)) return false;
  for (uint64_t i = 0; i < argc; ++i)
    if (!skip_string()) return false;
  return skip_string() && get_varint(p, end, out);
}

// ---- Reading ----

struct Header {
  uint32_t version = kVersion;  // of the file
  std::string program;
  std::vector<std::string> argv;
  std::string machine;
  uint64_t start_unix_ns = 0;
  uint64_t pid = 0;
  // Version 2: the file of the allocator that served the program's malloc when
  // recording began (the object defining the next malloc after the recorder's); "" when unknown.
  std::string allocator;
};

enum class Op : uint8_t { kMalloc, kCalloc, kRealloc, kAligned, kFree, kRss, kFork, kPhase, kThreadBegin, kThreadEnd };
// An allocator call (the rest are samples and marks).
inline bool is_block_op(Op op) noexcept { return op <= Op::kFree; }

// One decoded event. Ids are made unique across exec'd images by the reader.
struct Event {
  Op op;
  uint8_t align_log2 = 0;  // kAligned
  uint32_t thread = 0;
  uint64_t id = 0;      // the block allocated (kMalloc..kAligned, the realloc result) or freed
  uint64_t old_id = 0;  // kRealloc: the block it replaced
  uint64_t size = 0;    // requested bytes; kRss: resident bytes; kThreadBegin: ends before it; kThreadEnd: its place
  uint64_t shared = 0;  // kRss: shared (file-backed) resident bytes
  uint64_t own = 0;     // kRss (version 2): the recorder's own resident bytes among them; 0 in version 1
  uint64_t t_ms = 0;
  uint64_t offset = 0;         // byte offset of the event in the file (for messages)
  uint32_t image = 0;          // exec'd images before this event's
  const char* name = nullptr;  // kPhase: the mark's name (name_len bytes, valid until the reader moves on)
  uint8_t name_len = 0;
  uint32_t site = 0;  // allocations: the recorded stack id in this image (1-based), 0 when unknown
};

// Raw ids restart at 0 in each exec'd image; the reader makes them unique by
// adding image << kImageIdShift (a raw id is below 2^kImageIdShift).
inline constexpr int kImageIdShift = 40;

// Checks a chunk header read at byte `offset` of a `file_size`-byte file
// (magic, payload bounds, thread index); the payload's checksum is checked by
// check_chunk_payload. Both throw InputError naming `name` and the offset.
void check_chunk_header(const ChunkHeader& h, uint64_t offset, uint64_t file_size, const std::string& name);
void check_chunk_payload(const ChunkHeader& h, const uint8_t* payload, uint64_t offset, const std::string& name);

// Where an exec'd image's ids and times start (from its kImage chunk).
struct ImageBase {
  uint32_t index = 0;     // images before this one
  uint64_t t_offset = 0;  // ms from the recording's start to the image's start
};

// Decodes the events of one events chunk whose payload is in memory: the part
// of reading shared by the whole-file Reader and the per-thread streaming
// cursors (workloads/trace_stream.h). Allocation-free.
class ChunkDecoder {
 public:
  // `payload` holds the chunk's payload, which starts at byte `payload_offset` of the file `name` (for
  // messages); `version` is the file's.
  void start(const ChunkHeader& h, const uint8_t* payload, uint64_t payload_offset, const ImageBase& image,
             const std::string* name, uint32_t version);
  // Decodes the chunk's next event into `e`; false once its events are done.
  bool next(Event& e);
  uint64_t max_id() const { return max_id_; }  // every id decoded so far is below this

 private:
  [[noreturn]] void fail(const uint8_t* at, const std::string& expected) const;
  uint64_t varint(const char* what);
  void count_down();
  // Steps of next() (`at`: the event's first byte, for messages); trace_format.cc defines them.
  uint64_t take_id(const uint8_t* at, uint64_t id_base);
  uint64_t back_id(uint64_t z, const uint8_t* at, uint64_t id_base) const;
  void ext_event(Event& e, uint64_t v, const uint8_t* at);

  const uint8_t* p_ = nullptr;
  const uint8_t* end_ = nullptr;
  const uint8_t* base_ = nullptr;  // payload start
  uint64_t base_offset_ = 0;
  const std::string* name_ = nullptr;
  uint32_t thread_ = 0, left_ = 0;
  uint64_t next_id_ = 0, t_ms_ = 0;
  uint32_t site_ = 0;  // the site of the chunk's next allocation (ExtKind::kSite)
  uint32_t version_ = kVersion;
  ImageBase image_;
  uint64_t max_id_ = 0;
};

// Reads a trace held in memory. Every problem (truncated, corrupted, foreign,
// unknown version) throws heapmark::InputError with one message naming the file,
// the byte offset and what was expected; no input makes it crash or read out of bounds.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, std::string name);
  const Header& header() const { return header_; }

  // Decodes the next event into `e`; false at the end of the file.
  bool next(Event& e);

  // Valid once next() returned false.
  bool complete() const { return have_end_; }  // the recorder wrote its end chunk (clean exit)
  // kEventKinds figures when complete(): what the last image's recorder counted (earlier images ended in exec).
  const uint64_t* recorder_counts() const { return end_counts_; }
  uint32_t threads() const { return max_thread_ + 1; }
  uint32_t images() const { return image_.index + 1; }
  uint64_t max_id() const { return decoder_.max_id(); }  // every event's id is below this
  // Events the recorder counted as not recorded (kLost chunks so far), and why.
  uint64_t lost() const { return lost_; }
  uint32_t lost_reasons() const { return lost_why_; }

 private:
  bool next_chunk();

  const uint8_t* data_;
  size_t size_;
  std::string name_;
  Header header_;
  size_t pos_ = 0;  // next chunk header
  ChunkDecoder decoder_;
  ImageBase image_;
  uint32_t max_thread_ = 0;
  bool have_end_ = false;
  uint64_t end_counts_[kEventKinds] = {};
  uint64_t lost_ = 0;
  uint32_t lost_why_ = 0;
};

// Parses the header body of a trace (everything after the FileHeader) of format `version`; false when it is malformed.
bool parse_header_body(const uint8_t* body, size_t n, uint32_t version, Header& out);
// "" when a reader takes format `version`, else what it expected ("format version 1 to 2, found version 9 ...").
std::string unreadable_version(uint32_t version);
// The payload of a kEnd chunk (the recorder's counts) and of a kLost chunk (count, reason bits); false when malformed.
bool parse_end_payload(const uint8_t* payload, size_t n, uint64_t (&counts)[kEventKinds]);
bool parse_lost_payload(const uint8_t* payload, size_t n, uint64_t& count, uint32_t& why);

// Maps a whole file read-only (no heap) and unmaps it when destroyed. Throws InputError.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace heapmark::trace
