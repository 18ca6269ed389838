#include "workloads/trace_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/input_error.h"

namespace heapmark::trace {
namespace {

constexpr size_t kChunkBytes = 60 * 1024;

ChunkHeader header_for(ChunkKind kind, const std::vector<uint8_t>& payload, uint32_t events) {
  ChunkHeader h{};
  h.magic = kChunkMagic;
  h.kind = static_cast<uint32_t>(kind);
  h.payload_bytes = static_cast<uint32_t>(payload.size());
  h.events = events;
  return h;
}

}  // namespace

Writer::Writer(const std::string& path, const Header& header) : path_(path), tmp_(path + ".partial") {
  fd_ = open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw InputError(path + ": cannot write the trace: " + std::strerror(errno));
  std::vector<uint8_t> body;
  auto varint = [&](uint64_t v) {
    uint8_t b[10];
    body.insert(body.end(), b, put_varint(b, v));
  };
  auto str = [&](const std::string& s) {
    varint(s.size());
    body.insert(body.end(), s.begin(), s.end());
  };
  str(header.program);
  varint(header.argv.size());
  for (const auto& a : header.argv) str(a);
  str(header.machine);
  varint(header.start_unix_ns);
  varint(header.pid);
  str(header.allocator);
  FileHeader fh{};
  std::memcpy(fh.magic, kMagic, sizeof fh.magic);
  fh.version = kVersion;
  fh.body_bytes = static_cast<uint32_t>(body.size());
  fh.body_checksum = checksum32(body.data(), body.size());
  write(&fh, sizeof fh);
  write(body.data(), body.size());
  events_buf_.reserve(kChunkBytes + 64);
}

Writer::~Writer() {
  if (fd_ >= 0) {
    close(fd_);
    unlink(tmp_.c_str());
  }
}

void Writer::write(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw InputError(path_ + ": cannot write the trace: " + std::strerror(errno));
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void Writer::flush_events() {
  if (chunk_events_ == 0) return;
  ChunkHeader h = header_for(ChunkKind::kEvents, events_buf_, chunk_events_);
  h.start_ms = chunk_start_ms_;
  h.next_id = chunk_next_id_;
  h.checksum = chunk_checksum(h, events_buf_.data());
  write(&h, sizeof h);
  write(events_buf_.data(), events_buf_.size());
  events_buf_.clear();
  chunk_events_ = 0;
}

// Before an event: a chunk with room for it, started at the current time and id.
void Writer::event_room() {
  if (events_buf_.size() + 3 * kMaxEventBytes > kChunkBytes) flush_events();
  if (chunk_events_ == 0) {
    chunk_start_ms_ = now_ms_;
    chunk_next_id_ = next_id_;
    site_ = 0;  // a chunk starts at site 0
  }
}

void Writer::time(uint64_t ms) {
  if (ms <= now_ms_) return;
  event_room();
  uint8_t b[kMaxEventBytes];
  events_buf_.insert(events_buf_.end(), b, put_tag(b, Tag::kTime, ms - now_ms_));
  now_ms_ = ms;
  ++chunk_events_;  // a chunk's count includes time and site events; events() counts what readers return
}

uint64_t Writer::alloc(uint64_t size, uint32_t site) {
  event_room();
  uint8_t b[2 * kMaxEventBytes];
  uint8_t* p = b;
  if (site != site_) {
    p = put_ext(p, ExtKind::kSite);
    p = put_varint(p, site);
    site_ = site;
    ++chunk_events_;
  }
  p = put_tag(p, Tag::kMalloc, size);
  events_buf_.insert(events_buf_.end(), b, p);
  ++chunk_events_;
  ++events_;
  ++counts_[static_cast<int>(EventKind::kMalloc)];
  return next_id_++;
}

void Writer::free(uint64_t id) {
  event_room();
  uint8_t b[kMaxEventBytes];
  events_buf_.insert(events_buf_.end(), b, put_tag(b, Tag::kFree, zigzag(static_cast<int64_t>(next_id_ - 1 - id))));
  ++chunk_events_;
  ++events_;
  ++counts_[static_cast<int>(EventKind::kFree)];
}

void Writer::rss(uint64_t resident_bytes) {
  event_room();
  uint8_t b[2 * kMaxEventBytes];
  uint8_t* p = b;
  p = put_ext(p, ExtKind::kRss);
  p = put_varint(p, resident_bytes / 4096);
  p = put_varint(p, 0);  // shared pages
  p = put_varint(p, 0);  // the recorder's own: none here
  events_buf_.insert(events_buf_.end(), b, p);
  ++chunk_events_;
  ++events_;
  ++counts_[static_cast<int>(EventKind::kRss)];
}

void Writer::put_string(std::vector<uint8_t>& buf, const std::string& s) {
  uint8_t b[10];
  buf.insert(buf.end(), b, put_varint(b, s.size()));
  buf.insert(buf.end(), s.begin(), s.end());
}

void Writer::site_room(size_t n) {
  if (sites_buf_.size() + n > kChunkBytes) flush_sites();
  ++site_records_;
}

void Writer::flush_sites() {
  if (site_records_ == 0) return;
  ChunkHeader h = header_for(ChunkKind::kSites, sites_buf_, site_records_);
  h.checksum = chunk_checksum(h, sites_buf_.data());
  write(&h, sizeof h);
  write(sites_buf_.data(), sites_buf_.size());
  sites_buf_.clear();
  site_records_ = 0;
}

void Writer::walker(uint32_t depth, const std::string& name) {
  site_room(32 + name.size());
  uint8_t b[20];
  uint8_t* p = put_varint(b, static_cast<uint64_t>(SiteRecord::kWalker));
  p = put_varint(p, depth);
  sites_buf_.insert(sites_buf_.end(), b, p);
  put_string(sites_buf_, name);
}

void Writer::stack(uint32_t id, const std::vector<uint64_t>& frames) {
  const size_t n = std::min<size_t>(frames.size(), kMaxStackDepth);
  site_room(32 + 10 * n);
  uint8_t b[32];
  uint8_t* p = put_varint(b, static_cast<uint64_t>(SiteRecord::kStack));
  p = put_varint(p, id);
  p = put_varint(p, n);
  sites_buf_.insert(sites_buf_.end(), b, p);
  for (size_t i = 0; i < n; ++i) {
    p = put_varint(b, i == 0 ? frames[0] : zigzag(static_cast<int64_t>(frames[i] - frames[i - 1])));
    sites_buf_.insert(sites_buf_.end(), b, p);
  }
}

void Writer::symbol(uint64_t address, const std::string& function, const std::string& file, uint32_t line,
                    const std::string& module) {
  site_room(64 + function.size() + file.size() + module.size());
  uint8_t b[32];
  uint8_t* p = put_varint(b, static_cast<uint64_t>(SiteRecord::kSymbol));
  p = put_varint(p, address);
  sites_buf_.insert(sites_buf_.end(), b, p);
  put_string(sites_buf_, function);
  put_string(sites_buf_, file);
  p = put_varint(b, line);
  sites_buf_.insert(sites_buf_.end(), b, p);
  put_string(sites_buf_, module);
}

void Writer::finish() {
  flush_events();
  flush_sites();
  std::vector<uint8_t> end;
  for (uint64_t c : counts_) {
    uint8_t b[10];
    end.insert(end.end(), b, put_varint(b, c));
  }
  ChunkHeader h = header_for(ChunkKind::kEnd, end, 0);
  h.checksum = chunk_checksum(h, end.data());
  write(&h, sizeof h);
  write(end.data(), end.size());
  if (fsync(fd_) != 0 || close(fd_) != 0) {
    fd_ = -1;
    unlink(tmp_.c_str());
    throw InputError(path_ + ": cannot write the trace: " + std::strerror(errno));
  }
  fd_ = -1;
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    unlink(tmp_.c_str());
    throw InputError(path_ + ": cannot write the trace: " + std::strerror(errno));
  }
}

}  // namespace heapmark::trace
