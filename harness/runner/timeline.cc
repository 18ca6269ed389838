#include "harness/runner/timeline.h"

namespace heapmark::runner {

void Timeline::add(const Sample& s) {
  if (s.rss > peak_rss_) peak_rss_ = s.rss;
  if (s.anon > peak_anon_) peak_anon_ = s.anon;
  if (have_prev_ && s.t_ns > prev_.t_ns) {
    const double dt = static_cast<double>(s.t_ns - prev_.t_ns) * 1e-9;
    int_anon_ += 0.5 * dt * static_cast<double>(s.anon + prev_.anon);
    span_s_ += dt;
  }
  if (have_r0_ && s.phase > 0) {
    const uint64_t r = s.anon > r0_ ? s.anon - r0_ : 0;
    if (r > peak_r_ || (r == peak_r_ && s.live > live_at_peak_r_)) {
      peak_r_ = r;
      live_at_peak_r_ = s.live;
    }
    // Trapezoids between consecutive in-phase samples.
    if (have_prev_ && prev_.phase > 0 && s.t_ns > prev_.t_ns) {
      const double dt = static_cast<double>(s.t_ns - prev_.t_ns) * 1e-9;
      const uint64_t pr = prev_.anon > r0_ ? prev_.anon - r0_ : 0;
      int_r_ += 0.5 * dt * static_cast<double>(r + pr);
      int_l_ += 0.5 * dt * static_cast<double>(s.live + prev_.live);
      span_r_s_ += dt;
    }
  }
  prev_ = s;
  have_prev_ = true;

  if (samples_++ % stride_ != 0) return;
  points_.push_back(s);
  if (points_.size() >= max_points_) {
    size_t w = 0;
    for (size_t i = 0; i < points_.size(); i += 2) points_[w++] = points_[i];
    points_.resize(w);
    stride_ *= 2;
  }
}

}  // namespace heapmark::runner
