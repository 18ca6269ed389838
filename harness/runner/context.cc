#include "harness/runner/context.h"

#include <gnu/libc-version.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include "common/text.h"
#include "harness/metrics/tsc.h"

#ifndef HEAPMARK_GIT_COMMIT
#define HEAPMARK_GIT_COMMIT "unknown"
#endif
#ifndef HEAPMARK_VERSION
#define HEAPMARK_VERSION "0.0.0"
#endif

namespace json = boost::json;

namespace heapmark::runner {
namespace {

std::string read_trimmed(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// "always [madvise] never" -> "madvise"
std::string bracketed(const std::string& s) {
  const size_t a = s.find('['), b = s.find(']');
  return a != std::string::npos && b != std::string::npos && b > a ? s.substr(a + 1, b - a - 1) : s;
}

std::string cpuinfo_field(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  return "";
}

uint64_t meminfo_kb(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string k;
  uint64_t v;
  std::string unit;
  while (in >> k >> v) {
    std::getline(in, unit);
    if (k == key + ":") return v;
  }
  return 0;
}

}  // namespace

TscInfo measure_tsc() {
  TscInfo t;
  t.invariant = metrics::tsc::invariant();
  t.hz = metrics::tsc::calibrate_hz();
  const auto o = metrics::tsc::overhead();
  t.overhead_cycles = o.median_cycles;
  t.overhead_mean_cycles = o.mean_cycles;
  t.resolution_cycles = metrics::tsc::resolution_cycles();
  return t;
}

json::object build_info() {
  return json::object{{"version", HEAPMARK_VERSION},
                      {"commit", HEAPMARK_GIT_COMMIT},
                      {"compiler", __VERSION__},
                      {"build_type", HEAPMARK_BUILD_TYPE}};
}

json::object machine_context(const TscInfo& tsc) {
  utsname u{};
  uname(&u);
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  const std::string flags = cpuinfo_field("flags");
  return json::object{
      {"hostname", host},
      {"cpu_model", cpuinfo_field("model name")},
      {"cpus_online", sysconf(_SC_NPROCESSORS_ONLN)},
      {"memory_total_bytes", meminfo_kb("MemTotal") * 1024},
      {"kernel", std::string(u.sysname) + " " + u.release + " " + u.version},
      {"arch", u.machine},
      {"thp_enabled", bracketed(read_trimmed("/sys/kernel/mm/transparent_hugepage/enabled"))},
      {"thp_defrag", bracketed(read_trimmed("/sys/kernel/mm/transparent_hugepage/defrag"))},
      {"clocksource", read_trimmed("/sys/devices/system/clocksource/clocksource0/current_clocksource")},
      {"glibc_version", gnu_get_libc_version()},
      {"microcode", cpuinfo_field("microcode")},
      {"tsc",
       json::object{{"invariant", tsc.invariant},
                    {"constant_tsc_flag", flags.find("constant_tsc") != std::string::npos},
                    {"nonstop_tsc_flag", flags.find("nonstop_tsc") != std::string::npos},
                    {"hz", tsc.hz},
                    {"calibrated_against", "CLOCK_MONOTONIC_RAW"},
                    {"timer_overhead_cycles", tsc.overhead_cycles},
                    {"timer_overhead_mean_cycles", tsc.overhead_mean_cycles},
                    {"timer_resolution_cycles", tsc.resolution_cycles},
                    {"timer_overhead_ns", tsc.hz > 0 ? static_cast<double>(tsc.overhead_cycles) * 1e9 / tsc.hz : 0.0}}},
      {"loadavg_at_start", json::array{load[0], load[1], load[2]}},
  };
}

json::object fingerprint(const json::object& machine, const json::array& allocators) {
  auto text = [&](const char* k) {
    const auto* v = machine.if_contains(k);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  auto number = [&](const char* k) {
    const auto* v = machine.if_contains(k);
    return v && v->is_number() ? v->to_number<double>() : 0.0;
  };
  std::string kernel = text("kernel");  // "Linux 6.1.0-13-amd64 #1 SMP ..." -> "Linux 6.1.0-13-amd64"
  if (const size_t sp = kernel.find(' '); sp != std::string::npos)
    if (const size_t sp2 = kernel.find(' ', sp + 1); sp2 != std::string::npos) kernel.resize(sp2);
  json::object allocs;
  for (const auto& a : allocators)
    if (a.is_object() && a.as_object().if_contains("name")) {
      const auto* v = a.as_object().if_contains("version");
      allocs[a.as_object().at("name").as_string()] = v && v->is_string() ? v->as_string() : json::string();
    }
  json::object f{{"cpu_model", text("cpu_model")},
                 {"cpus_online", number("cpus_online")},
                 {"microcode", text("microcode")},
                 {"memory_gib", std::round(number("memory_total_bytes") / (1024.0 * 1024 * 1024))},
                 {"kernel", kernel},
                 {"thp_enabled", text("thp_enabled")},
                 {"thp_defrag", text("thp_defrag")},
                 {"glibc_version", text("glibc_version")},
                 {"allocators", std::move(allocs)},
                 {"heapmark_commit", HEAPMARK_GIT_COMMIT}};
  f["digest"] = digest_hex(json::serialize(f));
  return f;
}

}  // namespace heapmark::runner
