// packets: network receive patterns. Packets arrive with frame sizes from IMIX
// (64/576/1500 bytes at 7:4:1, plus 9000-byte jumbo frames at weight `jumbo`),
// in `bursts` bursts separated by `idle-ms` idle gaps. Each packet allocates a
// header (`header` bytes, an sk_buff) and a payload (the frame) separately;
// both stay in flight for `window` packets, then are freed. A packet belongs
// to one of `connections` open connections (uniformly chosen) and carries
// min(frame, bytes missing) of that connection's current message (sizes from
// `messages`) into the connection's reassembly buffer: allocated with the
// first packet, grown with realloc by each later one, until the message is
// complete, then freed. A connection lives for `lifetime` messages on average
// (uniform 1..2*lifetime-1), owns a `conn-size` state block, and is replaced by
// a new one when it closes.
//
// mode=worker adds a worker thread: the receive thread (thread 0) hands each
// complete message to it with kSend, the worker frees it (a cross-thread free)
// and returns a token. Every connection alternates two buffer ids, and the
// receive thread takes the token back before it reuses one, so an id is never
// allocated while the worker still holds it. The worker runs the same seeded
// generator and emits only its own part, so both programs agree on the order.
// Phases: "traffic", then "drain" (in-flight packets, partial messages and
// connection state freed).
//
// Ids: [0, 2*window) packet header/payload, then one per connection state,
// then the buffers (one or two per connection), then the tokens.
#include <algorithm>

#include "workloads/catalog.h"
#include "workloads/rng.h"
#include "workloads/sizes.h"
#include "workloads/stepped.h"

namespace heapmark::workloads {
namespace {

constexpr uint64_t kFrames[4] = {64, 576, 1500, 9000};

class Packets final : public SteppedProgram {
 public:
  Packets(const Params& p, uint64_t seed, Scratch& scratch, bool worker_mode, bool is_worker)
      : rng_(seed),
        messages_(SizeDist::parse_or_throw(p.text("messages"))),
        packets_(static_cast<uint64_t>(p.integer("packets"))),
        conns_(static_cast<uint32_t>(p.integer("connections"))),
        lifetime_(static_cast<uint32_t>(p.integer("lifetime"))),
        window_(static_cast<uint32_t>(p.integer("window"))),
        bursts_(static_cast<uint64_t>(p.integer("bursts"))),
        idle_ms_(static_cast<uint64_t>(p.integer("idle-ms"))),
        header_(static_cast<uint64_t>(p.integer("header"))),
        conn_size_(static_cast<uint64_t>(p.integer("conn-size"))),
        worker_mode_(worker_mode),
        is_worker_(is_worker) {
    weights_[0] = 7;
    weights_[1] = 4;
    weights_[2] = 1;
    weights_[3] = static_cast<uint64_t>(p.integer("jumbo"));
    weight_total_ = weights_[0] + weights_[1] + weights_[2] + weights_[3];
    conn_ = scratch.array<Conn>(conns_);
    in_flight_ = scratch.array<uint8_t>(window_);
    conn_base_ = 2 * window_;
    buf_base_ = conn_base_ + conns_;
    token_base_ = buf_base_ + conns_ * (worker_mode_ ? 2 : 1);
    max_ids_ = worker_mode_ ? token_base_ + 2 * conns_ : token_base_;
  }

  // Ids the layout needs for these parameters (checked before building).
  static uint64_t ids_needed(const Params& p) {
    const auto w = static_cast<uint64_t>(p.integer("window")), c = static_cast<uint64_t>(p.integer("connections"));
    return 2 * w + c + c * (p.text("mode") == "worker" ? 4 : 1);
  }

  uint32_t max_ids() const noexcept override { return max_ids_; }
  uint32_t phase_count() const noexcept override { return 2; }
  const char* phase_name(uint32_t i) const noexcept override { return i == 0 ? "traffic" : "drain"; }

 private:
  struct Conn {
    uint64_t msg_size;   // current message's size; 0: none started
    uint64_t received;   // bytes of it in the reassembly buffer
    uint32_t msgs_left;  // messages before the connection closes
    uint8_t parity;      // worker mode: which of the two buffer ids the next message uses
    uint8_t used;        // worker mode: bit j set once buffer id j was handed to the worker
  };

  // Ops go to the receive thread unless `worker` is set; each role keeps only its own.
  void emit(bool worker, OpKind kind, uint32_t id, uint64_t size) noexcept {
    if (worker == is_worker_) push(Op{kind, 0, 0, id, size});
  }
  uint32_t buffer_id(uint32_t c) const noexcept { return buf_base_ + (worker_mode_ ? 2 * c + conn_[c].parity : c); }
  uint32_t token_id(uint32_t c) const noexcept { return token_base_ + 2 * c + conn_[c].parity; }
  uint32_t draw_lifetime() noexcept { return 1 + static_cast<uint32_t>(rng_.below(2 * uint64_t{lifetime_} - 1)); }
  uint64_t draw_frame() noexcept {
    uint64_t u = rng_.below(weight_total_);
    int k = 0;
    while (u >= weights_[k]) u -= weights_[k++];
    return kFrames[k];
  }

  // One step of the shared generator; false once the program ended.
  bool step() noexcept override {
    switch (stage_) {
      case Stage::kStart:
        emit(false, OpKind::kPhase, 0, 0);
        emit(true, OpKind::kPhase, 0, 0);
        stage_ = Stage::kOpen;
        return true;
      case Stage::kOpen:  // open every connection
        if (pos_ < conns_) {
          conn_[pos_].msgs_left = draw_lifetime();
          emit(false, OpKind::kAlloc, conn_base_ + pos_, conn_size_);
          ++pos_;
        } else {
          stage_ = Stage::kTraffic;
        }
        return true;
      case Stage::kTraffic:
        if (packet_ < packets_) {
          packet();
        } else {
          emit(false, OpKind::kPhase, 1, 0);
          emit(true, OpKind::kPhase, 1, 0);
          stage_ = Stage::kDrain;
          pos_ = 0;
        }
        return true;
      case Stage::kDrain:  // in-flight packets, then partial messages and connection state
        if (pos_ < window_) {
          if (in_flight_[pos_]) {
            emit(false, OpKind::kFree, 2 * pos_, 0);
            emit(false, OpKind::kFree, 2 * pos_ + 1, 0);
          }
        } else if (pos_ < window_ + conns_) {
          const uint32_t c = pos_ - window_;
          if (conn_[c].received > 0) emit(false, OpKind::kFree, buffer_id(c), 0);  // a partial message
          emit(false, OpKind::kFree, conn_base_ + c, 0);
        } else {
          stage_ = Stage::kDone;
        }
        ++pos_;
        return true;
      case Stage::kDone: return false;
    }
    return false;
  }

  void packet() noexcept {
    const uint64_t k = packet_++;
    if (k > 0 && k == burst_end_ && idle_ms_ > 0) emit(false, OpKind::kIdle, 0, idle_ms_);
    if (k == burst_end_) burst_end_ = ++burst_ * packets_ / bursts_;  // where the next burst starts
    // The packet `window` back leaves the window: its header and payload are freed.
    const auto slot = static_cast<uint32_t>(k % window_);
    if (in_flight_[slot]) {
      emit(false, OpKind::kFree, 2 * slot, 0);
      emit(false, OpKind::kFree, 2 * slot + 1, 0);
    }
    const auto c = static_cast<uint32_t>(rng_.below(conns_));
    Conn& cn = conn_[c];
    const uint64_t frame = draw_frame();
    emit(false, OpKind::kAlloc, 2 * slot, header_);
    emit(false, OpKind::kAlloc, 2 * slot + 1, frame);
    in_flight_[slot] = 1;
    if (cn.msg_size == 0) {
      cn.msg_size = messages_.sample(rng_);
      cn.received = 0;
    }
    const uint64_t data = std::min(frame, cn.msg_size - cn.received);
    if (cn.received == 0) {
      // Worker mode: this buffer id was last handed over; wait until the worker freed it.
      if (worker_mode_ && (cn.used >> cn.parity & 1)) emit(false, OpKind::kRecv, token_id(c), 0);
      emit(false, OpKind::kAlloc, buffer_id(c), data);
    } else {
      emit(false, OpKind::kRealloc, buffer_id(c), cn.received + data);
    }
    cn.received += data;
    if (cn.received < cn.msg_size) return;
    // The message is complete.
    if (worker_mode_) {
      emit(false, OpKind::kSend, buffer_id(c), 1);
      emit(true, OpKind::kRecv, buffer_id(c), 0);
      emit(true, OpKind::kFree, buffer_id(c), 0);
      emit(true, OpKind::kSend, token_id(c), 0);
      cn.used |= static_cast<uint8_t>(1u << cn.parity);
      cn.parity ^= 1;
    } else {
      emit(false, OpKind::kFree, buffer_id(c), 0);
    }
    cn.msg_size = cn.received = 0;
    if (--cn.msgs_left == 0) {  // the connection closes; a new one takes its place
      emit(false, OpKind::kFree, conn_base_ + c, 0);
      emit(false, OpKind::kAlloc, conn_base_ + c, conn_size_);
      cn.msgs_left = draw_lifetime();
    }
  }

  enum class Stage { kStart, kOpen, kTraffic, kDrain, kDone };

  Rng rng_;
  SizeDist messages_;
  uint64_t packets_;
  uint32_t conns_, lifetime_, window_;
  uint64_t bursts_, idle_ms_, header_, conn_size_;
  bool worker_mode_, is_worker_;
  uint64_t weights_[4], weight_total_;
  Conn* conn_;
  uint8_t* in_flight_;
  uint32_t conn_base_, buf_base_, token_base_, max_ids_;

  Stage stage_ = Stage::kStart;
  uint32_t pos_ = 0;
  uint64_t packet_ = 0, burst_ = 0, burst_end_ = 0;
};

const WorkloadDef kPackets{
    "packets",
    "IMIX packets in bursts, header+payload, per-connection reassembly grown with realloc; mode=worker hands "
    "messages to a second thread",
    {
        {"packets", "500000", "packets received", ParamType::kInt, 1, 10'000'000'000, {}},
        {"connections",
         "512",
         "connections open at a time (each holds at most one partial message)",
         ParamType::kInt,
         1,
         1'000'000,
         {}},
        {"messages",
         "pareto:1K-256K:1.2",
         "message size distribution (reassembled from the packets)",
         ParamType::kSizes,
         0,
         0,
         {}},
        {"lifetime",
         "8",
         "messages per connection on average (uniform 1..2*lifetime-1) before it closes",
         ParamType::kInt,
         1,
         1'000'000,
         {}},
        {"jumbo",
         "0",
         "weight of 9000-byte jumbo frames next to IMIX 64:576:1500 at 7:4:1",
         ParamType::kInt,
         0,
         1000,
         {}},
        {"header", "256", "bytes of each packet's header allocation", ParamType::kInt, 1, 65536, {}},
        {"conn-size", "1024", "bytes of each connection's state block", ParamType::kInt, 1, 1 << 20, {}},
        {"window",
         "128",
         "packets in flight: a packet's header and payload are freed this many packets later",
         ParamType::kInt,
         1,
         1'000'000,
         {}},
        {"bursts", "20", "bursts the packets arrive in", ParamType::kInt, 1, 1'000'000, {}},
        {"idle-ms",
         "10",
         "idle gap between bursts in ms (total idle = (bursts-1) x idle-ms)",
         ParamType::kInt,
         0,
         60'000,
         {}},
        {"mode",
         "single",
         "single: one thread; worker: a receive thread hands complete messages to a worker thread",
         ParamType::kChoice,
         0,
         0,
         {"single", "worker"}},
    },
    [](const Params& p, uint64_t seed, Scratch& s) -> std::vector<Program*> {
      if (Packets::ids_needed(p) > (uint64_t{1} << 30))
        throw InputError("workload 'packets': window and connections need more than 2^30 block ids");
      if (p.integer("bursts") > p.integer("packets"))
        throw InputError("workload 'packets': bursts (" + p.text("bursts") + ") must not exceed packets (" +
                         p.text("packets") + ")");
      if (p.text("mode") == "single") return {s.make<Packets>(p, seed, s, false, false)};
      return {s.make<Packets>(p, seed, s, true, false), s.make<Packets>(p, seed, s, true, true)};
    },
    [](const Params& p) -> size_t {
      return 2 * (sizeof(Packets) + static_cast<size_t>(p.integer("connections")) * 32 +
                  static_cast<size_t>(p.integer("window")) + 4096);
    },
};
const Registrar kRegister{kPackets};

}  // namespace
}  // namespace heapmark::workloads
