// heapmark-winprobe: "the working set does not drop after free", on Windows.
// Runs repro-style scenarios directly against each in-house allocator core
// (over the Windows implementation of the OS contract, allocators/os/) and
// against the Windows process heap, and reports at each phase end the working
// set, the commit charge and the reserved address space. Each allocator and
// scenario runs in a fresh child process of this program, as heapmark's cells
// do on Linux: a heap's state is per process.
//
// The figures come from the system, not from the allocators: the working set
// from GetProcessMemoryInfo, the private commit and reservation from a
// VirtualQuery walk of the address space (the commit charge of private memory
// is exactly its committed pages). PagefileUsage is printed as the system
// states it; under Wine it follows resident anonymous memory instead.
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>
// After windows.h: psapi.h needs its types.
#include <psapi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buddy/buddy_core.h"
#include "os/os.h"
#include "ptmalloc_style/core.h"
#include "shim/libc_semantics.h"
#include "slab/slab_core.h"

namespace {

using heapmark::shim::LibC;

// ---------------------------------------------------------------- allocators
// An allocator as the probe drives it. A variant is its base core with one
// setting in the environment, as heapmark's registry names them on Linux.
struct Allocator {
  const char* name;
  const char* env_var;  // nullptr: the defaults
  const char* env_value;
  const char* what;
  void* (*alloc)(size_t);
  void (*free)(void*);
  void (*release)();  // the "give memory back" call a program can make
  const char* release_call;
};

template <class Core>
void* core_alloc(size_t n) {
  return LibC<Core>::malloc(n);
}
template <class Core>
void core_free(void* p) {
  LibC<Core>::free(p);
}
template <class Core>
void core_release() {
  LibC<Core>::malloc_trim(0);
}

void* heap_alloc(size_t n) { return HeapAlloc(GetProcessHeap(), 0, n); }
void heap_free(void* p) { HeapFree(GetProcessHeap(), 0, p); }
void heap_release() { HeapCompact(GetProcessHeap(), 0); }

namespace buddy = heapmark::buddy;
namespace slab = heapmark::slab;
namespace pt = heapmark::pt;

const Allocator kAllocators[] = {
    {"buddy", nullptr, nullptr, "buddy allocator, free pages decommitted after 1-2 s (at a later call)",
     core_alloc<buddy::Core>, core_free<buddy::Core>, core_release<buddy::Core>, "malloc_trim"},
    {"buddy-threshold", "HEAPMARK_BUDDY_DECOMMIT", "threshold", "buddy allocator, decommit above an 8 MiB threshold",
     core_alloc<buddy::Core>, core_free<buddy::Core>, core_release<buddy::Core>, "malloc_trim"},
    {"buddy-eager", "HEAPMARK_BUDDY_DECOMMIT", "eager", "buddy allocator, every free page decommitted at once",
     core_alloc<buddy::Core>, core_free<buddy::Core>, core_release<buddy::Core>, "malloc_trim"},
    {"slab", nullptr, nullptr, "slab caches over the buddy allocator", core_alloc<slab::Core>, core_free<slab::Core>,
     core_release<slab::Core>, "malloc_trim"},
    {"ptmalloc-style", nullptr, nullptr, "model of glibc's ptmalloc2, glibc's release policy", core_alloc<pt::Core>,
     core_free<pt::Core>, core_release<pt::Core>, "malloc_trim"},
    {"ptmalloc-eager", "HEAPMARK_PT_RELEASE", "eager", "ptmalloc-style, free pages purged at once",
     core_alloc<pt::Core>, core_free<pt::Core>, core_release<pt::Core>, "malloc_trim"},
    {"process-heap", nullptr, nullptr, "the process heap (HeapAlloc/HeapFree)", heap_alloc, heap_free, heap_release,
     "HeapCompact"},
};
constexpr size_t kNumAllocators = sizeof kAllocators / sizeof kAllocators[0];

// ---------------------------------------------------------------- scenarios
struct Scenario {
  const char* name;
  const char* what;
  size_t min_size, max_size;
  unsigned keep_every;  // 0: every block is freed; k: every k-th block stays live
};

const Scenario kScenarios[] = {
    {"small-all", "64-1024 B blocks, all freed", 64, 1024, 0},
    {"small-sparse", "64-1024 B blocks, 1 in 64 kept live (pinned pages)", 64, 1024, 64},
    {"large-all", "64-512 KiB blocks, all freed", 64 << 10, 512 << 10, 0},
};
constexpr size_t kNumScenarios = sizeof kScenarios / sizeof kScenarios[0];

enum Phase { kStart, kPeak, kFreed, kIdle, kReleased, kPhases };
const char* const kPhaseNames[kPhases] = {"start", "peak", "freed", "idle", "released"};

// ---------------------------------------------------------------- figures
struct Figures {
  uint64_t working_set, pagefile_usage, private_commit, private_reserved;
  uint64_t live_bytes;                                 // requested bytes the scenario holds
  uint64_t os_committed, os_decommitted, os_released;  // the in-house OS contract's counters
};

Figures measure(uint64_t live_bytes) {
  Figures f{};
  PROCESS_MEMORY_COUNTERS c;
  memset(&c, 0, sizeof c);
  c.cb = sizeof c;
  if (GetProcessMemoryInfo(GetCurrentProcess(), &c, sizeof c)) {
    f.working_set = c.WorkingSetSize;
    f.pagefile_usage = c.PagefileUsage;
  }
  MEMORY_BASIC_INFORMATION m;
  for (char* a = nullptr; VirtualQuery(a, &m, sizeof m) == sizeof m;
       a = static_cast<char*>(m.BaseAddress) + m.RegionSize) {
    if (m.Type != MEM_PRIVATE) continue;
    if (m.State == MEM_COMMIT) f.private_commit += m.RegionSize;
    if (m.State == MEM_RESERVE) f.private_reserved += m.RegionSize;
  }
  heapmark::os::Counters oc = heapmark::os::counters();
  f.live_bytes = live_bytes;
  f.os_committed = oc.committed;
  f.os_decommitted = oc.decommitted;
  f.os_released = oc.released;
  return f;
}

// A DLL's export as a plain pointer (FARPROC's own type fits no real signature).
void* symbol(HMODULE dll, const char* name) {
  return dll ? reinterpret_cast<void*>(GetProcAddress(dll, name)) : nullptr;
}

// "Wine 8.0" under Wine (ntdll exports wine_get_version), else "Windows 10.0.19045".
void platform_name(char* out, size_t len) {
  HMODULE ntdll = GetModuleHandleA("ntdll.dll");
  using WineVersion = const char*(__cdecl*)();
  auto wine = reinterpret_cast<WineVersion>(symbol(ntdll, "wine_get_version"));
  if (wine) {
    snprintf(out, len, "Wine %s", wine());
    return;
  }
  using RtlGetVersionFn = LONG(WINAPI*)(OSVERSIONINFOW*);
  auto get = reinterpret_cast<RtlGetVersionFn>(symbol(ntdll, "RtlGetVersion"));
  OSVERSIONINFOW v;
  memset(&v, 0, sizeof v);
  v.dwOSVersionInfoSize = sizeof v;
  if (get && get(&v) == 0)
    snprintf(out, len, "Windows %lu.%lu.%lu", v.dwMajorVersion, v.dwMinorVersion, v.dwBuildNumber);
  else snprintf(out, len, "Windows");
}

// ---------------------------------------------------------------- options
struct Options {
  const Allocator* allocator = nullptr;  // nullptr: every allocator, each in a child
  const Scenario* scenario = nullptr;    // nullptr: every scenario
  unsigned mib = 64;
  unsigned idle_ms = 1000;
  bool json = false;
  bool child = false;  // run in this process, print rows only
};

[[noreturn]] void usage_error(const char* what, const char* value, const char* valid) {
  fprintf(stderr, "heapmark-winprobe: %s '%s' (valid: %s)\n", what, value, valid);
  exit(2);
}

void print_help() {
  printf(
      "usage: heapmark-winprobe [--allocator NAME] [--scenario NAME] [--mib N] [--idle-ms MS] [--json]\n"
      "\n"
      "Allocates N MiB (default 64) in one scenario's blocks, touches them, frees them, waits, then\n"
      "asks the allocator to give memory back, and reports at each phase end (start, peak, freed,\n"
      "idle, released) the working set, the private commit charge and the private reservation, as\n"
      "the system states them. Each allocator and scenario runs in a fresh child process.\n"
      "\n"
      "allocators (default: all):\n");
  for (const Allocator& a : kAllocators) printf("  %-15s %s\n", a.name, a.what);
  printf("scenarios (default: all):\n");
  for (const Scenario& s : kScenarios) printf("  %-15s %s\n", s.name, s.what);
  printf(
      "\n"
      "--idle-ms MS  the wait between freed and idle (default 1000)\n"
      "--json        one JSON object per allocator, scenario and phase instead of the table\n"
      "exit status: 0 every run finished, 1 a run failed, 2 bad input\n");
}

unsigned parse_uint(const char* flag, const char* v, unsigned lo, unsigned hi) {
  char* end = nullptr;
  unsigned long n = strtoul(v, &end, 10);
  if (!*v || *end || n < lo || n > hi) {
    char valid[64];
    snprintf(valid, sizeof valid, "a whole number from %u to %u", lo, hi);
    usage_error(flag, v, valid);
  }
  return unsigned(n);
}

template <class T, size_t N>
const T* find_named(const T (&table)[N], const char* flag, const char* v) {
  for (const T& t : table)
    if (strcmp(t.name, v) == 0) return &t;
  char valid[256] = "";
  for (const T& t : table) {
    if (valid[0]) strncat(valid, ", ", sizeof valid - strlen(valid) - 1);
    strncat(valid, t.name, sizeof valid - strlen(valid) - 1);
  }
  usage_error(flag, v, valid);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      if (i + 1 >= argc) usage_error("missing value after", flag, "see --help");
      return argv[++i];
    };
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      print_help();
      exit(0);
    } else if (!strcmp(a, "--allocator")) {
      o.allocator = find_named(kAllocators, "unknown --allocator", value(a));
    } else if (!strcmp(a, "--scenario")) {
      o.scenario = find_named(kScenarios, "unknown --scenario", value(a));
    } else if (!strcmp(a, "--mib")) {
      o.mib = parse_uint("bad --mib", value(a), 1, 4096);
    } else if (!strcmp(a, "--idle-ms")) {
      o.idle_ms = parse_uint("bad --idle-ms", value(a), 0, 600000);
    } else if (!strcmp(a, "--json")) {
      o.json = true;
    } else if (!strcmp(a, "--child")) {
      o.child = true;
    } else {
      usage_error("unknown option", a, "--allocator, --scenario, --mib, --idle-ms, --json, --help");
    }
  }
  return o;
}

// ---------------------------------------------------------------- one run
// Deterministic sizes (xorshift), drawn before measurement starts.
uint64_t next_random(uint64_t& s) {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

void print_row(const Options& o, const char* platform, const Allocator& al, const Scenario& sc, Phase ph,
               const Figures& f, const Figures& start) {
  const double mib = 1024.0 * 1024.0;
  if (o.json) {
    printf(
        "{\"platform\":\"%s\",\"allocator\":\"%s\",\"scenario\":\"%s\",\"phase\":\"%s\",\"release_call\":\"%s\","
        "\"working_set_bytes\":%llu,\"pagefile_usage_bytes\":%llu,\"private_commit_bytes\":%llu,"
        "\"private_reserved_bytes\":%llu,\"live_bytes\":%llu,\"os_committed_bytes\":%llu,"
        "\"os_decommitted_bytes\":%llu,\"os_released_bytes\":%llu}\n",
        platform, al.name, sc.name, kPhaseNames[ph], al.release_call, (unsigned long long)f.working_set,
        (unsigned long long)f.pagefile_usage, (unsigned long long)f.private_commit,
        (unsigned long long)f.private_reserved, (unsigned long long)f.live_bytes, (unsigned long long)f.os_committed,
        (unsigned long long)f.os_decommitted, (unsigned long long)f.os_released);
    return;
  }
  auto d = [&](uint64_t now, uint64_t then) { return (double(now) - double(then)) / mib; };
  printf("%-15s %-13s %-9s %10.1f %10.1f %10.1f %10.1f %10.1f\n", al.name, sc.name, kPhaseNames[ph],
         double(f.live_bytes) / mib, d(f.working_set, start.working_set), d(f.private_commit, start.private_commit),
         d(f.private_reserved, start.private_reserved), d(f.pagefile_usage, start.pagefile_usage));
}

int run_one(const Options& o, const Allocator& al, const Scenario& sc) {
  const size_t target = size_t(o.mib) << 20;
  const size_t max_blocks = target / sc.min_size + 1;
  // The probe's own tables come from VirtualAlloc, committed and touched before
  // the start figure: they are constant across the phases.
  const size_t table_bytes = max_blocks * (sizeof(void*) + sizeof(uint32_t));
  char* table = static_cast<char*>(VirtualAlloc(nullptr, table_bytes, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE));
  if (!table) {
    fprintf(stderr, "heapmark-winprobe: cannot map the probe's table of %zu bytes\n", table_bytes);
    return 1;
  }
  memset(table, 0, table_bytes);
  void** blocks = reinterpret_cast<void**>(table);
  uint32_t* sizes = reinterpret_cast<uint32_t*>(table + max_blocks * sizeof(void*));
  uint64_t seed = 0x9E3779B97F4A7C15ull, total = 0;
  size_t n = 0;
  while (total < target && n < max_blocks) {
    size_t s = sc.min_size + size_t(next_random(seed) % (sc.max_size - sc.min_size + 1));
    sizes[n++] = uint32_t(s);
    total += s;
  }

  Figures fig[kPhases];
  fig[kStart] = measure(0);
  for (size_t i = 0; i < n; ++i) {
    blocks[i] = al.alloc(sizes[i]);
    if (!blocks[i]) {
      fprintf(stderr, "heapmark-winprobe: %s: allocation %zu of %u bytes failed\n", al.name, i, sizes[i]);
      return 1;
    }
    memset(blocks[i], int(i & 0xff) | 1, sizes[i]);  // resident, as a program's data is
  }
  fig[kPeak] = measure(total);
  uint64_t live = 0;
  for (size_t i = 0; i < n; ++i) {
    if (sc.keep_every && i % sc.keep_every == 0) {
      live += sizes[i];
      continue;
    }
    al.free(blocks[i]);
  }
  fig[kFreed] = measure(live);
  Sleep(o.idle_ms);
  fig[kIdle] = measure(live);
  al.release();
  fig[kReleased] = measure(live);

  char platform[128];
  platform_name(platform, sizeof platform);
  for (int p = 0; p < kPhases; ++p) print_row(o, platform, al, sc, Phase(p), fig[p], fig[kStart]);
  fflush(stdout);
  return 0;
}

// Runs one allocator and scenario in a fresh child process of this program,
// with the allocator's setting in its environment. Returns its exit status.
int run_child(const Options& o, const Allocator& al, const Scenario& sc) {
  char self[MAX_PATH];
  if (!GetModuleFileNameA(nullptr, self, sizeof self)) return 1;
  char cmd[2 * MAX_PATH];
  snprintf(cmd, sizeof cmd, "\"%s\" --child --allocator %s --scenario %s --mib %u --idle-ms %u%s", self, al.name,
           sc.name, o.mib, o.idle_ms, o.json ? " --json" : "");
  if (al.env_var) SetEnvironmentVariableA(al.env_var, al.env_value);
  STARTUPINFOA si;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  PROCESS_INFORMATION pi;
  BOOL ok = CreateProcessA(self, cmd, nullptr, nullptr, TRUE, 0, nullptr, nullptr, &si, &pi);
  if (al.env_var) SetEnvironmentVariableA(al.env_var, nullptr);
  if (!ok) {
    fprintf(stderr, "heapmark-winprobe: cannot start %s (error %lu)\n", self, GetLastError());
    return 1;
  }
  WaitForSingleObject(pi.hProcess, INFINITE);
  DWORD status = 1;
  GetExitCodeProcess(pi.hProcess, &status);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  if (status != 0) fprintf(stderr, "heapmark-winprobe: %s / %s failed (exit status %lu)\n", al.name, sc.name, status);
  return int(status);
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  if (o.child) {
    // A child runs exactly what its parent named.
    if (!o.allocator || !o.scenario) usage_error("--child needs", "--allocator and --scenario", "both");
    return run_one(o, *o.allocator, *o.scenario);
  }
  if (!o.json) {
    char platform[128];
    platform_name(platform, sizeof platform);
    printf("heapmark-winprobe: %u MiB per scenario, idle %u ms; measured under %s", o.mib, o.idle_ms, platform);
    if (!strncmp(platform, "Wine", 4)) printf(" (Wine's heap and counters, not Windows': see docs/windows.md)");
    printf("\nfigures in MiB; working set, commit and reserved are changes since the run's start\n");
    printf("%-15s %-13s %-9s %10s %10s %10s %10s %10s\n", "allocator", "scenario", "phase", "live", "working set",
           "commit", "reserved", "pagefile");
  }
  int failed = 0;
  for (size_t a = 0; a < kNumAllocators; ++a) {
    if (o.allocator && o.allocator != &kAllocators[a]) continue;
    for (size_t s = 0; s < kNumScenarios; ++s) {
      if (o.scenario && o.scenario != &kScenarios[s]) continue;
      if (run_child(o, kAllocators[a], kScenarios[s]) != 0) failed = 1;
    }
  }
  return failed;
}
