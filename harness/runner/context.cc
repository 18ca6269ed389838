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

#include "heapmark_build_id.h"  // HEAPMARK_GIT_COMMIT, written at build time (cmake/build_id.cmake)
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

results::BuildInfo build_info() {
  return results::BuildInfo{HEAPMARK_VERSION, HEAPMARK_GIT_COMMIT, __VERSION__, HEAPMARK_BUILD_TYPE};
}

results::MachineInfo machine_context(const TscInfo& tsc) {
  utsname u{};
  uname(&u);
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  const std::string flags = cpuinfo_field("flags");
  results::MachineInfo m;
  m.hostname = host;
  m.cpu_model = cpuinfo_field("model name");
  m.cpus_online = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  m.memory_total_bytes = meminfo_kb("MemTotal") * 1024;
  m.kernel = std::string(u.sysname) + " " + u.release + " " + u.version;
  m.arch = u.machine;
  m.thp_enabled = bracketed(read_trimmed("/sys/kernel/mm/transparent_hugepage/enabled"));
  m.thp_defrag = bracketed(read_trimmed("/sys/kernel/mm/transparent_hugepage/defrag"));
  m.clocksource = read_trimmed("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  m.glibc_version = gnu_get_libc_version();
  m.microcode = cpuinfo_field("microcode");
  m.tsc = results::TscFacts{tsc.invariant,
                            flags.find("constant_tsc") != std::string::npos,
                            flags.find("nonstop_tsc") != std::string::npos,
                            tsc.hz,
                            "CLOCK_MONOTONIC_RAW",
                            tsc.overhead_cycles,
                            tsc.overhead_mean_cycles,
                            tsc.resolution_cycles,
                            tsc.hz > 0 ? static_cast<double>(tsc.overhead_cycles) * 1e9 / tsc.hz : 0.0};
  m.loadavg_at_start = {load[0], load[1], load[2]};
  return m;
}

results::Fingerprint fingerprint(const results::MachineInfo& machine,
                                 const std::vector<results::AllocatorProbe>& allocators) {
  std::string kernel = machine.kernel;  // "Linux 6.1.0-13-amd64 #1 SMP ..." -> "Linux 6.1.0-13-amd64"
  if (const size_t sp = kernel.find(' '); sp != std::string::npos)
    if (const size_t sp2 = kernel.find(' ', sp + 1); sp2 != std::string::npos) kernel.resize(sp2);
  json::object allocs;
  for (const auto& a : allocators) allocs[a.name] = a.version;
  // Numbers as doubles: the digest of a fingerprint stays what earlier heapmarks computed.
  json::object f{{"cpu_model", machine.cpu_model},
                 {"cpus_online", static_cast<double>(machine.cpus_online)},
                 {"microcode", machine.microcode},
                 {"memory_gib", std::round(static_cast<double>(machine.memory_total_bytes) / (1024.0 * 1024 * 1024))},
                 {"kernel", kernel},
                 {"thp_enabled", machine.thp_enabled},
                 {"thp_defrag", machine.thp_defrag},
                 {"glibc_version", machine.glibc_version},
                 {"allocators", std::move(allocs)},
                 {"heapmark_commit", HEAPMARK_GIT_COMMIT}};
  f["digest"] = digest_hex(json::serialize(f));
  return results::Fingerprint{std::move(f)};
}

}  // namespace heapmark::runner
