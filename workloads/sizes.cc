#include "workloads/sizes.h"

#include <bit>
#include <cmath>

#include "workloads/params.h"

namespace heapmark::workloads {

static const char* const kKinds = "fixed:N, uniform:LO-HI, pow2:LO-HI, pareto:LO-HI[:SHAPE], invsq:LO-HI";

bool SizeDist::parse(const std::string& text, SizeDist* out, std::string* why) {
  auto fail = [&](const std::string& msg) {
    if (why) *why = "size distribution '" + text + "': " + msg + " (valid: " + kKinds + ")";
    return false;
  };
  const size_t colon = text.find(':');
  if (colon == std::string::npos) return fail("missing ':'");
  const std::string kind = text.substr(0, colon);
  std::string rest = text.substr(colon + 1);
  SizeDist d;
  if (kind == "fixed") {
    d.kind_ = Kind::kFixed;
    int64_t n;
    if (!parse_quantity(rest, n) || n < 1) return fail("'" + rest + "' is not a size >= 1");
    d.lo_ = d.hi_ = static_cast<uint64_t>(n);
  } else {
    if (kind == "uniform") d.kind_ = Kind::kUniform;
    else if (kind == "pow2") d.kind_ = Kind::kPow2;
    else if (kind == "pareto") d.kind_ = Kind::kPareto;
    else if (kind == "invsq") d.kind_ = Kind::kInvSquare;
    else return fail("unknown kind '" + kind + "'");
    if (d.kind_ == Kind::kPareto) {
      const size_t c2 = rest.find(':');
      if (c2 != std::string::npos) {
        char* end = nullptr;
        const std::string s = rest.substr(c2 + 1);
        d.shape_ = std::strtod(s.c_str(), &end);
        if (s.empty() || *end != '\0' || !(d.shape_ > 0.0) || d.shape_ > 100) return fail("shape '" + s + "' is not a number in (0, 100]");
        rest = rest.substr(0, c2);
      }
    }
    const size_t dash = rest.find('-');
    int64_t lo, hi;
    if (dash == std::string::npos || !parse_quantity(rest.substr(0, dash), lo) ||
        !parse_quantity(rest.substr(dash + 1), hi))
      return fail("expected LO-HI, e.g. 16-4096 or 16-64K");
    if (lo < 1 || hi < lo) return fail("need 1 <= LO <= HI");
    if (hi > (int64_t{1} << 40)) return fail("HI above 1 TiB");
    d.lo_ = static_cast<uint64_t>(lo);
    d.hi_ = static_cast<uint64_t>(hi);
    if (d.kind_ == Kind::kPow2 && (!std::has_single_bit(d.lo_) || !std::has_single_bit(d.hi_)))
      return fail("pow2 bounds must be powers of two");
  }
  if (out) *out = d;
  return true;
}

SizeDist SizeDist::parse_or_throw(const std::string& text) {
  SizeDist d;
  std::string why;
  if (!parse(text, &d, &why)) throw InputError(why);
  return d;
}

uint64_t SizeDist::sample(Rng& rng) const noexcept {
  switch (kind_) {
    case Kind::kFixed:
      return lo_;
    case Kind::kUniform:
      return lo_ + rng.below(hi_ - lo_ + 1);
    case Kind::kPow2: {
      const int a = std::countr_zero(lo_), b = std::countr_zero(hi_);
      return uint64_t{1} << (a + static_cast<int>(rng.below(static_cast<uint64_t>(b - a + 1))));
    }
    case Kind::kPareto: {
      // Inverse CDF of a Pareto truncated to [lo, hi].
      const double l = static_cast<double>(lo_), h = static_cast<double>(hi_);
      const double ratio = std::pow(l / h, shape_);
      const double u = rng.unit();
      const double x = l / std::pow(1.0 - u * (1.0 - ratio), 1.0 / shape_);
      return std::min(hi_, std::max(lo_, static_cast<uint64_t>(x)));
    }
    case Kind::kInvSquare: {
      // F(s) = (1/lo - 1/s) / (1/lo - 1/hi)  =>  s = 1 / (1/lo - u (1/lo - 1/hi)).
      const double a = 1.0 / static_cast<double>(lo_), b = 1.0 / static_cast<double>(hi_);
      const double x = 1.0 / (a - rng.unit() * (a - b));
      return std::min(hi_, std::max(lo_, static_cast<uint64_t>(x)));
    }
  }
  return lo_;
}

}  // namespace heapmark::workloads
