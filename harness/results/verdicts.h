// The verdicts of `heapmark repro`, `diagnose` and `attach`, in one table:
// their ids, labels and order (how late, if ever, the freed memory left RSS).
// The judges (harness/repro, harness/attach) and every rendering (terminal,
// Markdown, HTML) read it; it sits in the results layer so that the report
// renders verdicts without knowing the code that reaches them.
#pragma once
#include <string_view>

namespace heapmark::results {

enum class Verdict { kReturned, kLazy, kUntilActivity, kUntilRelease, kFragmentation, kNotReturned, kSplit, kUnknown };

struct VerdictInfo {
  Verdict verdict;
  const char* id;     // in repro.json: "returned", "retained-until-release", ...
  const char* label;  // for people: "retained until release"
  const char* tag;    // short, for the catalogue grid: "R"
};

// In order of how late the memory came back; split and unknown last.
inline constexpr VerdictInfo kVerdicts[] = {
    {Verdict::kReturned, "returned", "returned", "ret"},
    {Verdict::kLazy, "lazy", "returned lazily (MADV_FREE, still in RSS)", "lazy"},
    {Verdict::kUntilActivity, "retained-until-activity", "retained until activity", "A"},
    {Verdict::kUntilRelease, "retained-until-release", "retained until release", "R"},
    {Verdict::kFragmentation, "fragmentation", "not returnable: fragmentation", "frag"},
    {Verdict::kNotReturned, "not-returned", "retained even after release", "kept"},
    {Verdict::kSplit, "split", "split between repetitions", "split"},
    {Verdict::kUnknown, "unknown", "no measurement", "?"},
};

constexpr const VerdictInfo& info(Verdict v) {
  for (const auto& i : kVerdicts)
    if (i.verdict == v) return i;
  return kVerdicts[sizeof kVerdicts / sizeof kVerdicts[0] - 1];
}
constexpr Verdict verdict_from_id(std::string_view id) {
  for (const auto& i : kVerdicts)
    if (id == i.id) return i.verdict;
  return Verdict::kUnknown;
}
constexpr const char* verdict_id(Verdict v) { return info(v).id; }
constexpr const char* verdict_label(Verdict v) { return info(v).label; }

// Position on the "how late did it come back" scale: returned at F is 0, at I
// is 1, then the verdicts in table order. A remedy worked when it moves left.
constexpr int lateness(Verdict v, std::string_view when) {
  if (v == Verdict::kReturned) return when == "F" ? 0 : 1;
  return static_cast<int>(v) + 1;
}

}  // namespace heapmark::results
