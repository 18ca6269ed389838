#include "harness/cell/protocol.h"

#include <errno.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace heapmark::cell {

size_t fixed_size(MsgType t) {
  switch (t) {
    case MsgType::kHello: return sizeof(Hello);
    case MsgType::kPhaseBegin: return sizeof(PhaseBegin);
    case MsgType::kPhaseEnd: return sizeof(PhaseEnd);
    case MsgType::kStats: return sizeof(StatsMsg);
    case MsgType::kResult: return sizeof(Result);
    case MsgType::kError: return sizeof(ErrorMsg);
    case MsgType::kHistogram: return 0;
    case MsgType::kNativeJson: return 0;
    case MsgType::kConfig: return sizeof(ConfigMsg);
    case MsgType::kThreads: return sizeof(ThreadsMsg);
    case MsgType::kSites: return sizeof(SitesMsg);
    case MsgType::kPageMap: return sizeof(PageMapMsg);
  }
  return 0;
}

const char* wait_kind_name(WaitKind k) noexcept {
  switch (k) {
    case WaitKind::kNone: return "none";
    case WaitKind::kIdle: return "idle";
    case WaitKind::kActivity: return "activity";
  }
  return "?";
}

const char* wait_stop_name(WaitStop s) noexcept {
  switch (s) {
    case WaitStop::kNone: return "none";
    case WaitStop::kFixed: return "fixed";
    case WaitStop::kReturned: return "returned";
    case WaitStop::kHorizon: return "horizon";
    case WaitStop::kMax: return "max";
  }
  return "?";
}

void Reader::feed(const void* data, size_t n) {
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  const auto* p = static_cast<const unsigned char*>(data);
  buf_.insert(buf_.end(), p, p + n);
}

bool Reader::next(Message& out) {
  if (pending() < sizeof(MsgHeader)) return false;
  MsgHeader h;
  std::memcpy(&h, buf_.data() + pos_, sizeof h);
  if (h.type < static_cast<uint32_t>(MsgType::kHello) || h.type > kLastMsgType)
    throw std::runtime_error("cell protocol: unknown message type " + std::to_string(h.type));
  const auto type = static_cast<MsgType>(h.type);
  const size_t want = fixed_size(type);
  if (want && h.length != want)
    throw std::runtime_error("cell protocol: message type " + std::to_string(h.type) + " has length " +
                             std::to_string(h.length) + ", expected " + std::to_string(want));
  if (type == MsgType::kHistogram) {
    if (h.length < sizeof(HistogramHead) || (h.length - sizeof(HistogramHead)) % sizeof(BucketCount) != 0)
      throw std::runtime_error("cell protocol: histogram message of bad length " + std::to_string(h.length));
  }
  if (type == MsgType::kNativeJson && h.length > kMaxNativeJson)
    throw std::runtime_error("cell protocol: native report of " + std::to_string(h.length) +
                             " bytes exceeds the limit");
  if (pending() < sizeof h + h.length) return false;
  out.type = type;
  const unsigned char* body = buf_.data() + pos_ + sizeof h;
  out.payload.assign(body, body + h.length);
  if (type == MsgType::kHistogram) {
    const auto& head = out.as<HistogramHead>();
    if (sizeof(HistogramHead) + head.buckets * sizeof(BucketCount) != h.length)
      throw std::runtime_error("cell protocol: histogram bucket count does not match its length");
  }
  pos_ += sizeof h + h.length;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  return true;
}

static bool write_all(int fd, const void* data, size_t n) noexcept {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool write_message(int fd, MsgType type, const void* payload, size_t length) noexcept {
  // Header and payload in one write when they fit a pipe's atomic size, so a
  // message is never split by a crash between two writes.
  char small[4096];
  const MsgHeader h{static_cast<uint32_t>(type), static_cast<uint32_t>(length)};
  if (sizeof h + length <= sizeof small) {
    std::memcpy(small, &h, sizeof h);
    std::memcpy(small + sizeof h, payload, length);
    return write_all(fd, small, sizeof h + length);
  }
  return write_all(fd, &h, sizeof h) && write_all(fd, payload, length);
}

}  // namespace heapmark::cell
