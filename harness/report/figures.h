// The figures reports and compare talk about: where each lives in a cell, its
// unit, which direction is better, and whether two values are compared as a
// ratio or (for fractions such as F4 or "returned after free") as a difference.
#pragma once
#include <string>
#include <vector>

namespace heapmark::report {

enum class Unit { kOpsPerS, kNs, kBytes, kFraction, kSeconds, kCount };
enum class Scale { kRatio, kDifference };

struct Figure {
  std::string path;   // dotted path in a cell, as in cells.csv ("latency_ns.alloc.p99")
  std::string title;  // short column title ("alloc p99")
  std::string help;   // one sentence for the page
  Unit unit;
  bool higher_is_better;
  Scale scale;
  std::string better_word, worse_word;  // compare verdicts: "faster"/"slower", "smaller"/"larger", ...
  // A program's own metric: which direction is better is the program's
  // (program_run.metric_higher_is_better), not the figure's.
  bool direction_from_program = false;
};

// Throughput, alloc p99, peak R, returned after free, F4: the matrix at a glance.
const std::vector<Figure>& headline_figures();
// Real programs: wall, user and sys CPU, peak RSS, minor faults, and the
// program's own metric where its suite entry declares one.
const std::vector<Figure>& program_figures();
// What compare checks by default (the headline and program figures and more).
const std::vector<Figure>& compare_figures();
// A figure only program cells have a meaning for (wall, user CPU, faults, metric).
bool program_only(const Figure& f);
// Looks a figure up by path among compare_figures(); nullptr if unknown.
const Figure* find_figure(const std::string& path);

// Noise rule, one place: the spread of a figure's repetitions relative to its
// median (ratio scale) or absolute (difference scale, fractions).
inline constexpr double kNoisyRelativeIqr = 0.10;
inline constexpr double kNoisyAbsoluteIqr = 0.05;
std::string noise_rule_text();
// The rule applied to one figure's repetitions (fewer than 3 are noisy).
bool is_noisy(const Figure& f, const std::vector<double>& values);

// Human formatting: "3.09 M ops/s", "4.70 µs", "108 MiB", "12.5 %".
std::string format_value(const Figure& f, double v);
// A comparison value: "1.52×" on the ratio scale, "+7.1 pp" on the difference scale.
std::string format_change(const Figure& f, double v);
std::string format_bytes(double v);
// A fraction as signed percentage points without the unit: 0.071 -> "+7.1", never "-0.0".
std::string format_points(double v);
std::string format_ns(double v);
// Fixed significant digits without exponent noise: 3 -> "3.09", "30.9", "309".
std::string format_sig(double v, int digits = 3);

}  // namespace heapmark::report
