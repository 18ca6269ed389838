// The RSS timeline of one cell, sampled by the runner from /proc/PID/statm with
// the cell's live bytes read from the shared page at the same instant.
//
// Every sample feeds the running integrals and peaks (so F1, F3 and the peak
// use full resolution); only a bounded number of points is stored for plots:
// when the store is full, every other point is dropped and the stride doubles.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace heapmark::runner {

struct Sample {
  uint64_t t_ns;          // CLOCK_MONOTONIC
  uint64_t rss;           // bytes
  uint64_t anon;          // resident - shared, bytes
  uint64_t live;          // live requested bytes
  uint32_t phase;         // running phase + 1, 0 outside phases
  uint64_t clock_ms = 0;  // the program's own clock (a replay's recorded time); 0: none
};

class Timeline {
 public:
  explicit Timeline(size_t max_points = 2000) : max_points_(max_points < 4 ? 4 : max_points) {}

  // r0: the cell's baseline anonymous RSS; R(t) = anon - r0 from then on.
  void set_baseline(uint64_t r0_anon) {
    r0_ = r0_anon;
    have_r0_ = true;
  }
  void add(const Sample& s);

  const std::vector<Sample>& points() const { return points_; }
  uint64_t samples() const { return samples_; }
  uint64_t stride() const { return stride_; }
  uint64_t peak_rss() const { return peak_rss_; }
  uint64_t peak_anon() const { return peak_anon_; }
  // Largest R(t) seen inside phases, and the live bytes in that same sample.
  uint64_t peak_r() const { return peak_r_; }
  uint64_t live_at_peak_r() const { return live_at_peak_r_; }
  // Time integrals over samples inside phases, in byte-seconds, and the time they span.
  double integral_r() const { return int_r_; }
  double integral_l() const { return int_l_; }
  double span_in_phases_s() const { return span_r_s_; }
  // Anonymous RSS integrated over every pair of consecutive samples, phases or not, and the time they span.
  double integral_anon() const { return int_anon_; }
  double span_s() const { return span_s_; }

 private:
  size_t max_points_;
  std::vector<Sample> points_;
  uint64_t stride_ = 1, samples_ = 0;
  uint64_t r0_ = 0;
  bool have_r0_ = false;
  uint64_t peak_rss_ = 0, peak_anon_ = 0, peak_r_ = 0, live_at_peak_r_ = 0;
  double int_r_ = 0, int_l_ = 0, span_r_s_ = 0;
  double int_anon_ = 0, span_s_ = 0;
  bool have_prev_ = false;
  Sample prev_{};
};

}  // namespace heapmark::runner
