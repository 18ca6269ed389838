#include "workloads/trace_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/input_error.h"

namespace heapmark::trace {
namespace {

[[noreturn]] void bad(const std::string& name, uint64_t at, const std::string& expected) {
  throw InputError(name + ": bad trace at byte " + std::to_string(at) + ": expected " + expected);
}

}  // namespace

TraceFile::TraceFile(const std::string& path) : name_(path) {
  // O_NONBLOCK: opening a FIFO for reading would wait for a writer forever.
  fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) throw InputError(path + ": cannot open trace: " + std::strerror(errno));
  struct stat st;
  if (fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd_);
    throw InputError(path + ": not a regular file (a directory, FIFO or device): give a trace file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
  FileHeader h;
  if (size_ < sizeof h) {
    char magic[8] = {};
    if (size_ >= 8) read(0, magic, 8);
    close(fd_);
    if (size_ >= 8 && std::memcmp(magic, kMagic, 8) != 0)
      bad(path, 0, "the heapmark trace magic \"HMTRACE\\x1a\" (not a heapmark trace)");
    bad(path, size_, "a " + std::to_string(sizeof h) + "-byte file header (the file is truncated)");
  }
  try {
    read(0, &h, sizeof h);
    if (std::memcmp(h.magic, kMagic, 8) != 0)
      bad(path, 0, "the heapmark trace magic \"HMTRACE\\x1a\" (not a heapmark trace)");
    if (const std::string v = unreadable_version(h.version); !v.empty()) bad(path, 8, v);
    if (h.body_bytes > size_ - sizeof h)
      bad(path, size_, "a header body of " + std::to_string(h.body_bytes) + " bytes (the file is truncated)");
    std::vector<uint8_t> body(h.body_bytes);
    read(sizeof h, body.data(), body.size());
    if (checksum32(body.data(), body.size()) != h.body_checksum)
      bad(path, sizeof h, "a header body matching its checksum (corrupted)");
    if (!parse_header_body(body.data(), body.size(), h.version, header_))
      bad(path, sizeof h, "a well-formed header body (corrupted header)");
  } catch (...) {
    close(fd_);
    throw;
  }
  first_chunk_ = sizeof h + h.body_bytes;
}

TraceFile::~TraceFile() {
  if (fd_ >= 0) close(fd_);
}

void TraceFile::read(uint64_t offset, void* buf, size_t n) const {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    const ssize_t r = pread(fd_, p, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0)
      throw InputError(name_ + ": cannot read the trace at byte " + std::to_string(offset) + ": " +
                       std::strerror(errno));
    if (r == 0) bad(name_, offset, "more bytes (the file shrank while it was read)");
    p += r;
    offset += static_cast<uint64_t>(r);
    n -= static_cast<size_t>(r);
  }
}

Layout scan_chunks(const TraceFile& file, const std::function<void(uint32_t, const ChunkRef&)>& on_events) {
  Layout out;
  ImageBase image;
  uint8_t small[4096];  // end and lost chunks are a few varints
  for (uint64_t pos = file.first_chunk(); pos < file.size();) {
    if (out.complete) bad(file.name(), pos, "the end of the file after the end chunk");
    ChunkHeader h;
    if (file.size() - pos < sizeof h)
      bad(file.name(), pos,
          "a " + std::to_string(sizeof h) +
              "-byte chunk header (the file is truncated: " + std::to_string(file.size() - pos) + " bytes left)");
    file.read(pos, &h, sizeof h);
    check_chunk_header(h, pos, file.size(), file.name());
    const uint64_t payload_at = pos + sizeof h;
    auto small_payload = [&]() {
      if (h.payload_bytes > sizeof small)
        bad(file.name(), pos + 12, "a small payload for a chunk of kind " + std::to_string(h.kind));
      file.read(payload_at, small, h.payload_bytes);
      check_chunk_payload(h, small, pos, file.name());
      return small;
    };
    switch (static_cast<ChunkKind>(h.kind)) {
      case ChunkKind::kEvents:
        if (h.thread + 1 > out.threads) out.threads = h.thread + 1;
        if (h.payload_bytes > out.max_payload) out.max_payload = h.payload_bytes;
        ++out.event_chunks;
        on_events(h.thread, ChunkRef{pos, h.payload_bytes, image});
        break;
      case ChunkKind::kEnd:
        if (!parse_end_payload(small_payload(), h.payload_bytes, out.recorder_counts))
          bad(file.name(), payload_at, "the recorder's event counts in the end chunk");
        out.complete = true;
        break;
      case ChunkKind::kLost: {
        uint64_t n = 0;
        uint32_t why = 0;
        if (!parse_lost_payload(small_payload(), h.payload_bytes, n, why))
          bad(file.name(), payload_at, "the count and reasons of a lost-events chunk");
        out.lost += n;
        out.lost_reasons |= why;
        break;
      }
      case ChunkKind::kImage: {
        std::vector<uint8_t> path(h.payload_bytes);
        file.read(payload_at, path.data(), path.size());
        check_chunk_payload(h, path.data(), pos, file.name());
        if (image.index + 1 >= (1u << (63 - kImageIdShift))) bad(file.name(), pos, "fewer exec'd images");
        ++image.index;
        image.t_offset = h.start_ms;
        ++out.images;
        break;
      }
      case ChunkKind::kSites: out.site_chunks.push_back(ChunkRef{pos, h.payload_bytes, image}); break;
      default:
        bad(file.name(), pos + 4, "a chunk kind 0 (events), 1 (end), 2 (exec image), 3 (lost events) or 4 (sites)");
    }
    pos = payload_at + h.payload_bytes;
  }
  return out;
}

bool ThreadCursor::next(Event& e) {
  for (;;) {
    if (started_ && decoder_.next(e)) {
      if (e.t_ms < last_ms_) e.t_ms = last_ms_;
      last_ms_ = e.t_ms;
      return true;
    }
    if (at_ == count_) return false;
    const ChunkRef& c = chunks_[at_++];
    file_->read(c.offset, buffer_, sizeof(ChunkHeader) + c.payload_bytes);
    ChunkHeader h;
    std::memcpy(&h, buffer_, sizeof h);
    if (h.payload_bytes != c.payload_bytes)
      bad(file_->name(), c.offset, "the chunk header it had (the file changed while it was read)");
    check_chunk_payload(h, buffer_ + sizeof h, c.offset, file_->name());
    decoder_.start(h, buffer_ + sizeof h, c.offset + sizeof h, c.image, &file_->name(), file_->header().version);
    started_ = true;
  }
}

}  // namespace heapmark::trace

namespace heapmark::trace {

TimeMerge::TimeMerge(const TraceFile& file) : file_(file) {
  std::vector<std::vector<ChunkRef>> chunks(kMaxThreads);
  layout_ = scan_chunks(file, [&](uint32_t t, const ChunkRef& c) { chunks[t].push_back(c); });
  const uint32_t threads = layout_.threads;
  chunks.resize(threads);
  chunks_ = std::move(chunks);
  buffers_.resize(threads);
  head_.resize(threads);
  has_.assign(threads, 0);
  cursors_.reserve(threads);
  for (uint32_t t = 0; t < threads; ++t) {
    uint32_t most = 0;
    for (const auto& c : chunks_[t]) most = std::max(most, c.payload_bytes);
    buffers_[t].resize(sizeof(ChunkHeader) + most);
    cursors_.emplace_back(file_, chunks_[t].data(), chunks_[t].size(), buffers_[t].data());
    has_[t] = cursors_[t].next(head_[t]);
  }
}

// A thread's next event may go now: it frees nothing, or a block that is live,
// or one no other thread can still make (their next events are later).
bool TimeMerge::ready(uint32_t t) const {
  const Event& e = head_[t];
  if (e.op != Op::kFree && e.op != Op::kRealloc) return true;
  if (live_.count(e.op == Op::kFree ? e.id : e.old_id)) return true;
  for (uint32_t u = 0; u < head_.size(); ++u)
    if (u != t && has_[u] && head_[u].t_ms <= e.t_ms) return false;
  return true;
}

bool TimeMerge::next(Step& s) {
  int best = -1;
  bool best_ready = false;
  for (uint32_t t = 0; t < head_.size(); ++t) {
    if (!has_[t]) continue;
    if (best >= 0 && head_[t].t_ms > head_[best].t_ms && best_ready) continue;
    const bool r = ready(t);
    if (best < 0 || (r && !best_ready) || (r == best_ready && head_[t].t_ms < head_[best].t_ms)) {
      best = static_cast<int>(t);
      best_ready = r;
    }
  }
  if (best < 0) return false;
  s = Step{};
  s.e = head_[best];
  if (s.e.op == Op::kPhase) s.name.assign(s.e.name, s.e.name_len);
  s.e.name = nullptr;
  has_[best] = cursors_[best].next(head_[best]);
  const Event& e = s.e;
  if (e.op == Op::kFree || e.op == Op::kRealloc) {
    const auto it = live_.find(e.op == Op::kFree ? e.id : e.old_id);
    if (it != live_.end()) {
      s.consumed_live = true;
      s.consumed_size = it->second.size;
      s.born_ms = it->second.born_ms;
      s.consumed_site = it->second.site;
      live_bytes_ -= it->second.size;
      live_.erase(it);
    }
  }
  if (e.op == Op::kMalloc || e.op == Op::kCalloc || e.op == Op::kAligned || e.op == Op::kRealloc) {
    live_.emplace(e.id, Block{e.size, s.consumed_live ? s.born_ms : e.t_ms, e.site});
    live_bytes_ += e.size;
  }
  return true;
}

}  // namespace heapmark::trace
