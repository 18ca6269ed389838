#include "workloads/sizes.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

#include "common/text.h"
#include "workloads/params.h"

namespace heapmark::workloads {

static const char* const kKinds =
    "fixed:N, uniform:LO-HI, pow2:LO-HI, pareto:LO-HI[:SHAPE], invsq:LO-HI, mixed:LO-HI:LO-HI[:FRACTION], "
    "empirical:FILE.csv";
static constexpr int64_t kMaxSize = int64_t{1} << 40;

// "LO-HI" with 1 <= LO <= HI <= 1 TiB.
static bool parse_range(const std::string& s, uint64_t& lo, uint64_t& hi, std::string& err) {
  const size_t dash = s.find('-');
  int64_t a, b;
  if (dash == std::string::npos || !parse_quantity(s.substr(0, dash), a) || !parse_quantity(s.substr(dash + 1), b)) {
    err = "expected LO-HI, e.g. 16-4096 or 16-64K";
    return false;
  }
  if (a < 1 || b < a) {
    err = "need 1 <= LO <= HI";
    return false;
  }
  if (b > kMaxSize) {
    err = "HI above 1 TiB";
    return false;
  }
  lo = static_cast<uint64_t>(a);
  hi = static_cast<uint64_t>(b);
  return true;
}

static std::string trimmed(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && (s[a] == ' ' || s[a] == '\t' || s[a] == '\r')) ++a;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r')) --b;
  return s.substr(a, b - a);
}

// The column layouts an empirical CSV may have. The weight column weights the
// sampled sizes; fleetbench's num_live (the live heap at a snapshot) is checked
// but not sampled from: which blocks stay live is the workload's lifetime model.
struct CsvLayout {
  const char* header;  // "size,weight"
  const char* weight;  // the field that weights the sizes
  size_t fields;
};
static constexpr CsvLayout kLayouts[] = {{"size,weight", "weight", 2}, {"size,alloc_rate,num_live", "alloc_rate", 3}};
static constexpr const char* kLayoutsText = "'size,weight' or fleetbench's 'size,alloc_rate,num_live'";

static std::vector<std::string> split_fields(const std::string& t) {
  std::vector<std::string> f = split_list(t);  // every field kept, empty ones too
  for (auto& x : f) x = trimmed(x);
  return f;
}

static bool parse_nonnegative(const std::string& text, double& v) {
  char* end = nullptr;
  v = std::strtod(text.c_str(), &end);
  return !text.empty() && *end == '\0' && std::isfinite(v) && v >= 0;
}

bool SizeDist::read_csv(const std::string& text, const std::string& path, SizeDist& d, std::string* why) {
  auto fail = [&](const std::string& where, const std::string& msg) {
    if (why) *why = "size distribution '" + text + "': " + where + ": " + msg;
    return false;
  };
  std::ifstream in(path);
  if (!in) return fail(path, std::string("cannot open (") + std::strerror(errno) + ")");
  std::string line;
  size_t line_no = 0, layout_line = 0;
  const CsvLayout* layout = nullptr;  // fixed by the header or by the first row's field count
  double total = 0;
  d.rows_ = 0;
  d.lo_ = UINT64_MAX;
  d.hi_ = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string where = path + ":" + std::to_string(line_no);
    const std::string t = trimmed(line);
    if (t.empty() || t[0] == '#') continue;
    const std::vector<std::string> f = split_fields(t);
    if (!layout) {
      std::string names;  // the fields, lower case, as a header would name them
      for (const auto& x : f) names += (names.empty() ? "" : ",") + x;
      for (auto& c : names) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (names.starts_with("size,") || names == "size") {  // a header names the layout
        for (const auto& l : kLayouts)
          if (names == l.header) layout = &l;
        if (!layout) return fail(where, "unknown column layout '" + t + "' (expected " + kLayoutsText + ")");
        layout_line = line_no;
        continue;
      }
      if (f.size() == 1) return fail(where, std::string("expected ") + kLayoutsText + ", got '" + t + "'");
      for (const auto& l : kLayouts)
        if (f.size() == l.fields) layout = &l;
      if (!layout)
        return fail(where, "field " + std::to_string(f.size()) + ": unknown column layout (" +
                               std::to_string(f.size()) + " fields; expected " + kLayoutsText + ")");
      layout_line = line_no;
    }
    auto rows_are = [&] {
      return std::string("rows are '") + layout->header + "' from line " + std::to_string(layout_line);
    };
    if (f.size() > layout->fields)
      return fail(where,
                  "field " + std::to_string(layout->fields + 1) + ": unexpected extra field (" + rows_are() + ")");
    if (f.size() < layout->fields) {
      const std::string missing = split_fields(layout->header)[f.size()];
      return fail(where, "field " + std::to_string(f.size() + 1) + " (" + missing + "): missing (" + rows_are() + ")");
    }
    int64_t size;
    if (!parse_quantity(f[0], size) || size < 1 || size > kMaxSize)
      return fail(where, "field 1 (size): '" + f[0] + "' is not a size in [1, 1T] (K/M/G suffixes allowed)");
    double w, live;
    if (!parse_nonnegative(f[1], w))
      return fail(where, std::string("field 2 (") + layout->weight + "): '" + f[1] + "' is not a number >= 0");
    if (layout->fields == 3 && !parse_nonnegative(f[2], live))
      return fail(where, "field 3 (num_live): '" + f[2] + "' is not a number >= 0");
    if (d.rows_ == kEmpiricalCapacity)
      return fail(where, "more than " + std::to_string(kEmpiricalCapacity) + " rows (the table's capacity)");
    total += w;
    d.table_size_[d.rows_] = static_cast<uint64_t>(size);
    d.table_cum_[d.rows_] = total;
    ++d.rows_;
    if (w > 0) {
      d.lo_ = std::min(d.lo_, static_cast<uint64_t>(size));
      d.hi_ = std::max(d.hi_, static_cast<uint64_t>(size));
    }
  }
  if (in.bad()) return fail(path, "read error");
  if (d.rows_ == 0) return fail(path, std::string("no rows (expected ") + kLayoutsText + ")");
  if (!(total > 0)) return fail(path, std::string("every ") + layout->weight + " is 0");
  return true;
}

bool SizeDist::parse(const std::string& text, SizeDist* out, std::string* why) {
  auto fail = [&](const std::string& msg) {
    if (why) *why = "size distribution '" + text + "': " + msg + " (valid: " + kKinds + ")";
    return false;
  };
  const size_t colon = text.find(':');
  if (colon == std::string::npos) return fail("missing ':'");
  const std::string kind = text.substr(0, colon);
  std::string rest = text.substr(colon + 1);
  // The table is 16 KiB: build in place when there is an `out` (left undefined on failure).
  SizeDist local;
  SizeDist& d = out ? *out : local;
  d = SizeDist{};
  std::string err;
  if (kind == "fixed") {
    d.kind_ = Kind::kFixed;
    int64_t n;
    if (!parse_quantity(rest, n) || n < 1) return fail("'" + rest + "' is not a size >= 1");
    d.lo_ = d.hi_ = static_cast<uint64_t>(n);
  } else if (kind == "empirical") {
    d.kind_ = Kind::kEmpirical;
    if (rest.empty()) return fail("missing the CSV file name");
    return read_csv(text, rest, d, why);
  } else if (kind == "mixed") {
    d.kind_ = Kind::kMixed;
    // SMALL:LARGE[:FRACTION]
    const size_t c1 = rest.find(':');
    if (c1 == std::string::npos) return fail("expected mixed:LO-HI:LO-HI[:FRACTION], e.g. mixed:16-1K:64K-4M:0.01");
    const size_t c2 = rest.find(':', c1 + 1);
    const std::string small = rest.substr(0, c1);
    const std::string large = rest.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1);
    if (!parse_range(small, d.lo_, d.small_hi_, err)) return fail("small range: " + err);
    if (!parse_range(large, d.large_lo_, d.hi_, err)) return fail("large range: " + err);
    if (d.large_lo_ <= d.small_hi_) return fail("the large range must start above the small range");
    if (c2 != std::string::npos) {
      const std::string s = rest.substr(c2 + 1);
      char* end = nullptr;
      d.large_frac_ = std::strtod(s.c_str(), &end);
      if (s.empty() || *end != '\0' || !(d.large_frac_ > 0.0) || !(d.large_frac_ < 1.0))
        return fail("fraction '" + s + "' is not a number in (0, 1)");
    }
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
        if (s.empty() || *end != '\0' || !(d.shape_ > 0.0) || d.shape_ > 100)
          return fail("shape '" + s + "' is not a number in (0, 100]");
        rest = rest.substr(0, c2);
      }
    }
    if (!parse_range(rest, d.lo_, d.hi_, err)) return fail(err);
    if (d.kind_ == Kind::kPow2 && (!std::has_single_bit(d.lo_) || !std::has_single_bit(d.hi_)))
      return fail("pow2 bounds must be powers of two");
  }
  return true;
}

const char* SizeDist::kinds() noexcept { return kKinds; }

SizeDist SizeDist::parse_or_throw(const std::string& text) {
  SizeDist d;
  std::string why;
  if (!parse(text, &d, &why)) throw InputError(why);
  return d;
}

uint64_t SizeDist::sample(Rng& rng) const noexcept {
  switch (kind_) {
    case Kind::kFixed: return lo_;
    case Kind::kUniform: return lo_ + rng.below(hi_ - lo_ + 1);
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
    case Kind::kMixed:
      if (rng.unit() < large_frac_) return large_lo_ + rng.below(hi_ - large_lo_ + 1);
      return lo_ + rng.below(small_hi_ - lo_ + 1);
    case Kind::kEmpirical: {
      // The first row whose cumulative weight exceeds u: zero-weight rows are never chosen.
      const double u = rng.unit() * table_cum_[rows_ - 1];
      const double* end = table_cum_ + rows_;
      const double* it = std::upper_bound(table_cum_, end, u);
      size_t i = static_cast<size_t>(it - table_cum_);
      if (i == rows_) {  // u rounded up to the total: the last row with a weight
        i = rows_ - 1;
        while (i > 0 && table_cum_[i] == table_cum_[i - 1]) --i;
      }
      return table_size_[i];
    }
  }
  return lo_;
}

}  // namespace heapmark::workloads
