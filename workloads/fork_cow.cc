// fork-cow: the Redis BGSAVE pattern. A parent builds a heap of small live
// blocks, then forks children one after another from that same heap; what a
// child costs is its private dirty memory, the pages copy-on-write had to copy.
// Four children separate the causes:
//   idle   does nothing: the fork and exit path's own dirtying (stack, libc and
//          allocator fork handlers, pages the waiting parent writes)
//   touch  writes one byte into touch_pct% of the inherited blocks, no allocator call
//   alloc  child_ops malloc/free calls writing nothing into any block: every page
//          it dirties is the allocator's own headers, free lists and metadata
//   both   the touches, then the same calls
// Each child works, reports its work time over a socket pair and waits; the
// parent reads /proc/CHILD/smaps_rollup from outside meanwhile, then releases
// it. net_private_dirty_bytes is a child's Private_Dirty minus the idle one's.
// It measures itself (one process tree, no op program), so the cell runs it
// natively and hands its Google Benchmark-shaped JSON to the runner.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string>
#include <string_view>

#include "workloads/catalog.h"
#include "workloads/native_json.h"
#include "workloads/rng.h"
#include "workloads/sizes.h"

namespace heapmark::workloads {
namespace {

// run_native gets no seed: a fixed one keeps the heap and the child's calls
// the same for every allocator.
constexpr uint64_t kSeed = 0x6b0f'c0de'5eed'0001ull;
constexpr uint64_t kPage = 4096;  // the unit of copy-on-write (a THP is split on a write fault)
constexpr uint8_t kFill = 0xa5;   // what the parent writes into its blocks

enum class Child { kIdle, kTouch, kAlloc, kBoth };
constexpr Child kChildren[] = {Child::kIdle, Child::kTouch, Child::kAlloc, Child::kBoth};
constexpr const char* kChildNames[] = {"idle", "touch", "alloc", "both"};
bool touches(Child c) { return c == Child::kTouch || c == Child::kBoth; }
bool calls(Child c) { return c == Child::kAlloc || c == Child::kBoth; }

// How a child sees one of the workload's tables.
enum class Inherit {
  kCopy,    // an ordinary private mapping: the children only read it
  kShared,  // MAP_SHARED, faulted in by the parent: a child's writes are shared, not
            // copied, and count in no one's Private_Dirty
  kNone,    // MADV_DONTFORK: the parent's measurement storage, which it writes just
            // after reading a child's figures; were the child to share those pages,
            // each write would turn one of them into the child's private page
};

// An anonymous mapping of n Ts, so the workload's own tables stay out of the
// heap under test.
template <class T>
class Table {
 public:
  Table(size_t n, Inherit inherit) : bytes_(std::max<size_t>(n * sizeof(T), 1)) {
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE,
                   (inherit == Inherit::kShared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("fork-cow: mmap of " + std::to_string(bytes_) + " bytes failed");
    data_ = static_cast<T*>(p);
    if (inherit == Inherit::kNone && madvise(p, bytes_, MADV_DONTFORK) != 0)
      throw std::runtime_error(std::string("fork-cow: madvise(MADV_DONTFORK) failed: ") + std::strerror(errno));
    if (inherit != Inherit::kCopy) std::memset(p, 0, bytes_);
  }
  ~Table() { munmap(data_, bytes_); }
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;
  T& operator[](size_t i) noexcept { return data_[i]; }
  const T& operator[](size_t i) const noexcept { return data_[i]; }
  T* data() noexcept { return data_; }

 private:
  size_t bytes_;
  T* data_;
};

// The fields of /proc/PID/smaps_rollup this workload reports, in bytes.
struct Rollup {
  uint64_t rss = 0, anonymous = 0, private_dirty = 0, anon_huge = 0;
};

// Raw open/read into `buf` (8 KiB, not inherited): the parent calls it
// between forks and must not touch its heap there.
constexpr size_t kRollupBuf = 8192;
bool read_rollup(pid_t pid, char* buf, Rollup& out) noexcept {
  constexpr size_t cap = kRollupBuf;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/smaps_rollup", static_cast<int>(pid));
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  size_t len = 0;
  ssize_t n;
  while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0) len += static_cast<size_t>(n);
  close(fd);
  buf[len] = '\0';
  struct Field {
    const char* key;
    uint64_t* to;
  } fields[] = {{"\nRss:", &out.rss},
                {"\nAnonymous:", &out.anonymous},
                {"\nPrivate_Dirty:", &out.private_dirty},
                {"\nAnonHugePages:", &out.anon_huge}};
  for (const auto& f : fields) {
    const char* at = std::strstr(buf, f.key);
    if (!at) return false;
    *f.to = std::strtoull(at + std::strlen(f.key), nullptr, 10) * 1024;  // the file says kB
  }
  return true;
}

uint64_t now_ns(clockid_t clock) noexcept {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

// The system-wide THP mode, e.g. "always [madvise] never".
std::string thp_system_mode() {
  char buf[256] = "";
  const int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
  if (fd >= 0) close(fd);
  if (n <= 0) return "unavailable";
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) --n;
  return std::string(buf, static_cast<size_t>(n));
}

// thp=never: PR_SET_THP_DISABLE for this process (inherited by the children)
// while the workload runs; the previous setting is restored afterwards.
class ThpSetting {
 public:
  explicit ThpSetting(bool disable) : before_(prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0)) {
    if (disable && prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0)
      throw std::runtime_error(std::string("fork-cow: prctl(PR_SET_THP_DISABLE) failed: ") + std::strerror(errno));
    changed_ = disable;
  }
  ~ThpSetting() {
    if (changed_ && before_ >= 0) prctl(PR_SET_THP_DISABLE, before_, 0, 0, 0);
  }

 private:
  int before_;
  bool changed_ = false;
};

using native_json::put_number;
using native_json::put_string;

// One call a child makes, planned by the parent before the first fork, so the
// child's loop touches nothing but the allocator and the shared pointer table.
struct ChildCall {
  enum Kind : uint32_t { kMalloc, kFreeOwn, kFreeInherited } kind;
  uint32_t size;   // kMalloc
  uint64_t index;  // own slot (kMalloc, kFreeOwn) or inherited block (kFreeInherited)
};

// The parent's live blocks.
struct Heap {
  explicit Heap(size_t cap) : blocks(cap, Inherit::kCopy), cap(cap) {}
  Table<void*> blocks;
  size_t cap, count = 0;
  uint64_t bytes = 0;  // requested bytes
};

// Builds the parent's heap: blocks until `target` bytes are live. fragmented
// allocates a hole after every live block and frees the holes at the end; the
// holes' sizes come from a stream of their own, so both patterns keep the same
// live blocks (sizes, count, bytes) and differ only in the holes between them.
void build_heap(Heap& heap, const SizeDist& sizes, uint64_t target, bool fragmented, Rng& rng) {
  Table<void*> holes(fragmented ? heap.cap : 1, Inherit::kCopy);
  size_t hole_count = 0;
  Rng hole_rng(~kSeed);
  while (heap.bytes < target && heap.count < heap.cap) {
    for (int k = 0; k < (fragmented ? 2 : 1); ++k) {
      const uint64_t size = sizes.sample(k == 0 ? rng : hole_rng);
      void* p = std::malloc(size);
      if (!p) throw std::runtime_error("fork-cow: malloc(" + std::to_string(size) + ") failed building the heap");
      std::memset(p, kFill, size);  // resident, as a real heap's data is
      if (k == 0) {
        heap.blocks[heap.count++] = p;
        heap.bytes += size;
      } else {
        holes[hole_count++] = p;
      }
    }
  }
  for (size_t i = 0; i < hole_count; ++i) std::free(holes[i]);
}

// Everything the children do, planned by the parent before the first fork, so
// a child's work touches nothing but the allocator, its blocks and `own`.
struct Plan {
  Plan(size_t touch_count, size_t ops)
      : touch(touch_count, Inherit::kCopy),
        touch_count(touch_count),
        calls(ops, Inherit::kCopy),
        call_count(ops),
        own(ops / 2 + 1, Inherit::kShared) {}
  Table<void*> touch;  // the blocks the touch and both children write one byte into
  size_t touch_count;
  uint64_t touch_pages = 0;  // distinct pages of the touched bytes
  Table<ChildCall> calls;
  size_t call_count, inherited_frees = 0;
  Table<void*> own;  // a child's own blocks by slot (shared: written without a copy)
};

// Plans the touches and the child's calls. Calls alternate malloc (same size
// distribution, into a new own slot) and free; the frees alternate between a
// random inherited block and a random block the child allocated itself (once
// the inherited blocks run out, own ones). Touches and inherited frees take
// random distinct blocks from the two ends of one shuffle.
void plan_children(Plan& plan, const Heap& heap, const SizeDist& sizes, Rng& rng) {
  Table<size_t> order(heap.count, Inherit::kCopy);
  for (size_t i = 0; i < heap.count; ++i) order[i] = i;
  for (size_t i = heap.count; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);

  Table<uint64_t> pages(plan.touch_count, Inherit::kCopy);
  for (size_t i = 0; i < plan.touch_count; ++i) {
    plan.touch[i] = heap.blocks[order[i]];
    pages[i] = reinterpret_cast<uintptr_t>(plan.touch[i]) / kPage;
  }
  std::sort(pages.data(), pages.data() + plan.touch_count);
  plan.touch_pages = static_cast<uint64_t>(std::unique(pages.data(), pages.data() + plan.touch_count) - pages.data());

  Table<uint64_t> live_own(plan.call_count / 2 + 1, Inherit::kCopy);  // own slots not yet freed
  size_t live = 0, next_slot = 0, next_inherited = 0;
  for (size_t i = 0; i < plan.call_count; ++i) {
    ChildCall& c = plan.calls[i];
    if (i % 2 == 0) {
      const uint64_t size = std::min<uint64_t>(sizes.sample(rng), UINT32_MAX);
      c = {ChildCall::kMalloc, static_cast<uint32_t>(size), next_slot};
      live_own[live++] = next_slot++;
    } else if (i % 4 == 1 && next_inherited < heap.count) {
      c = {ChildCall::kFreeInherited, 0, order[heap.count - 1 - next_inherited++]};
    } else {  // live >= 1: a malloc precedes every free
      const size_t pick = rng.below(live);
      c = {ChildCall::kFreeOwn, 0, live_own[pick]};
      live_own[pick] = live_own[--live];
    }
  }
  plan.inherited_frees = next_inherited;
}

// What a child reports before it waits.
struct WorkReport {
  uint64_t work_ns = 0, cpu_ns = 0;
  uint32_t failed_size = 0;  // a malloc that returned NULL: its size
  uint32_t failed = 0;
};

// The child: its work, its report, then it waits to be measured and released.
[[noreturn]] void child_main(Child kind, const Heap& heap, Plan& plan, int sock, int hold_ms) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // a held child never outlives the parent
  WorkReport r;
  const uint64_t t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
  if (touches(kind))
    for (size_t i = 0; i < plan.touch_count; ++i)
      *static_cast<volatile uint8_t*>(plan.touch[i]) = static_cast<uint8_t>(~kFill);
  if (calls(kind))
    for (size_t i = 0; i < plan.call_count; ++i) {
      const ChildCall& c = plan.calls[i];
      switch (c.kind) {
        case ChildCall::kMalloc:
          if (!(plan.own[c.index] = std::malloc(c.size))) {
            r.failed = 1;
            r.failed_size = c.size;
          }
          break;
        case ChildCall::kFreeOwn: std::free(plan.own[c.index]); break;
        case ChildCall::kFreeInherited: std::free(heap.blocks[c.index]); break;
      }
    }
  r.work_ns = now_ns(CLOCK_MONOTONIC) - t0;
  r.cpu_ns = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
  // Formatted before the parent measures, with or without hold_ms: printf's
  // stack would otherwise copy pages after the measurement, and an outside
  // reading of a held child would see more than the parent did.
  char line[128];
  const int n = std::snprintf(line, sizeof line, "heapmark fork-cow: child %d %s holding %d ms\n",
                              static_cast<int>(getpid()), kChildNames[static_cast<int>(kind)], hold_ms);
  // Held until the reader says it is done (SIGUSR1), at most hold_ms. The
  // signal is blocked, and the wait's arguments set, before the parent
  // measures too (a first write to a stack page after it would be copied):
  // a SIGUSR1 sent as soon as the line is read is kept until the wait.
  sigset_t done;
  sigemptyset(&done);
  sigaddset(&done, SIGUSR1);
  if (hold_ms > 0) sigprocmask(SIG_BLOCK, &done, nullptr);
  const timespec hold{hold_ms / 1000, (hold_ms % 1000) * 1'000'000L};
  char released;
  if (write(sock, &r, sizeof r) != sizeof r || read(sock, &released, 1) != 1) _exit(1);
  if (hold_ms > 0) {
    if (write(STDERR_FILENO, line, static_cast<size_t>(n)) < 0) _exit(1);
    while (sigtimedwait(&done, nullptr, &hold) < 0 && errno == EINTR) {
    }
  }
  _exit(0);
}

struct ChildResult {
  WorkReport work;
  Rollup rollup;
};

// Forks one child, waits for its report, reads its smaps_rollup while it
// waits, releases it and reaps it. Nothing here touches the parent's heap.
void run_child(Child kind, const Heap& heap, Plan& plan, int hold_ms, char* rollup_buf, ChildResult& out) {
  const char* name = kChildNames[static_cast<int>(kind)];
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    throw std::runtime_error(std::string("fork-cow: socketpair failed: ") + std::strerror(errno));
  const pid_t pid = fork();
  if (pid < 0) {
    close(sv[0]);
    close(sv[1]);
    throw std::runtime_error(std::string("fork-cow: fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    close(sv[0]);
    child_main(kind, heap, plan, sv[1], hold_ms);
  }
  close(sv[1]);
  const bool reported = read(sv[0], &out.work, sizeof out.work) == sizeof out.work;
  const bool measured = reported && read_rollup(pid, rollup_buf, out.rollup);
  if (measured) send(sv[0], "r", 1, MSG_NOSIGNAL);
  else kill(pid, SIGKILL);
  close(sv[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string why;
  if (!reported) why = "died before reporting";
  else if (!measured) why = "could not be measured: /proc/" + std::to_string(pid) + "/smaps_rollup unreadable";
  else if (out.work.failed) why = "malloc(" + std::to_string(out.work.failed_size) + ") returned NULL";
  else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) why = "exited abnormally";
  if (WIFSIGNALED(status) && !why.empty()) why += " (signal " + std::to_string(WTERMSIG(status)) + ")";
  if (!why.empty()) throw std::runtime_error(std::string("fork-cow: child '") + name + "' " + why);
}

std::string run_fork_cow(const Params& p) {
  const SizeDist sizes = SizeDist::parse_or_throw(p.text("sizes"));
  const uint64_t target = static_cast<uint64_t>(p.integer("heap_mib")) << 20;
  const bool fragmented = p.text("pattern") == "fragmented";
  const auto ops = static_cast<size_t>(p.integer("child_ops"));
  const int touch_pct = static_cast<int>(p.integer("touch_pct"));
  const int hold_ms = static_cast<int>(p.integer("hold_ms"));
  const std::string thp_system = thp_system_mode();
  const ThpSetting thp(p.text("thp") == "never");  // before the heap exists

  // The parent's measurement storage: the smaps_rollup reader's buffer and the results.
  Table<char> rollup_buf(kRollupBuf, Inherit::kNone);
  Table<ChildResult> res(4, Inherit::kNone);
  Rollup self;  // only to learn that the file is there
  if (!read_rollup(getpid(), rollup_buf.data(), self))
    throw std::runtime_error("fork-cow: /proc/self/smaps_rollup is unreadable (Linux 4.14 or later needed)");
  Rng rng(kSeed);
  // Blocks of at least lo() >= 1 bytes until `target`: an upper bound of the count.
  Heap heap(target / sizes.lo() + 1);
  build_heap(heap, sizes, target, fragmented, rng);
  Plan plan(heap.count * static_cast<size_t>(touch_pct) / 100, ops);
  plan_children(plan, heap, sizes, rng);

  for (const Child c : kChildren) run_child(c, heap, plan, hold_ms, rollup_buf.data(), res[static_cast<int>(c)]);
  for (size_t i = 0; i < heap.count; ++i) std::free(heap.blocks[i]);

  std::string json = "{\"source\":";
  put_string(json,
             "fork-cow: the parent built heap_bytes of live blocks and forked one child per row, one after "
             "another; a child's figures are its /proc/PID/smaps_rollup (Private_Dirty, Anonymous, Rss, "
             "AnonHugePages) read by the parent while the child waited after its work; net = minus the idle "
             "child's Private_Dirty; real_time and cpu_time = the child's work time (CLOCK_MONOTONIC, thread "
             "CPU) per allocator call for alloc and both (iterations = child_ops), the whole work for idle and "
             "touch (iterations = 1); expected_touch_bytes = distinct 4 KiB pages of the touched bytes x 4096. "
             "THP system mode: " +
                 thp_system + "; thp=" + p.text("thp"));
  json += ",\"thp_enabled\":";
  put_string(json, thp_system);
  json += ",\"thp_process\":";
  put_string(json, p.text("thp"));
  json += ",\"benchmarks\":[";
  const double idle_dirty = static_cast<double>(res[0].rollup.private_dirty);
  for (const Child c : kChildren) {
    const ChildResult& r = res[static_cast<int>(c)];
    const double iterations = calls(c) ? static_cast<double>(ops) : 1.0;
    const double real_ns = static_cast<double>(r.work.work_ns) / iterations;
    json += c == Child::kIdle ? "{\"name\":" : ",{\"name\":";
    put_string(json, std::string("fork-cow/") + kChildNames[static_cast<int>(c)]);
    json += ",\"time_unit\":\"ns\"";
    put_number(json, "iterations", iterations);
    put_number(json, "real_time", real_ns);
    put_number(json, "cpu_time", static_cast<double>(r.work.cpu_ns) / iterations);
    put_number(json, "items_per_second", real_ns > 0 ? 1e9 / real_ns : 0);
    put_number(json, "threads", 1);
    put_number(json, "private_dirty_bytes", static_cast<double>(r.rollup.private_dirty));
    put_number(json, "net_private_dirty_bytes", static_cast<double>(r.rollup.private_dirty) - idle_dirty);
    put_number(json, "anonymous_bytes", static_cast<double>(r.rollup.anonymous));
    put_number(json, "rss_bytes", static_cast<double>(r.rollup.rss));
    put_number(json, "anon_huge_bytes", static_cast<double>(r.rollup.anon_huge));
    put_number(json, "heap_bytes", static_cast<double>(heap.bytes));
    put_number(json, "heap_blocks", static_cast<double>(heap.count));
    put_number(json, "touched_blocks", touches(c) ? static_cast<double>(plan.touch_count) : 0);
    put_number(json, "expected_touch_bytes", touches(c) ? static_cast<double>(plan.touch_pages * kPage) : 0);
    put_number(json, "child_ops", calls(c) ? static_cast<double>(ops) : 0);
    put_number(json, "inherited_frees", calls(c) ? static_cast<double>(plan.inherited_frees) : 0);
    put_number(json, "work_ns", static_cast<double>(r.work.work_ns));
    json += '}';
  }
  json += "]}";
  return json;
}

const WorkloadDef kForkCow{
    "fork-cow",
    "Redis BGSAVE pattern: fork children from a built heap; their copy-on-write private dirty memory, by cause",
    {
        {"heap_mib", "64", "MiB of live blocks the parent builds before forking", ParamType::kInt, 1, 4096, {}},
        {"sizes",
         "uniform:16-1024",
         "size distribution of the parent's blocks and of the child's mallocs",
         ParamType::kSizes,
         0,
         0,
         {}},
        {"pattern",
         "dense",
         "dense: blocks back to back; fragmented: the same blocks with a freed hole after each one",
         ParamType::kChoice,
         0,
         0,
         {"dense", "fragmented"}},
        {"child_ops",
         "100000",
         "malloc/free calls of the alloc and both children: mallocs alternate with frees, which alternate between a "
         "random inherited block and a random block of the child's own",
         ParamType::kInt,
         1,
         10'000'000,
         {}},
        {"touch_pct",
         "10",
         "percent of the inherited blocks the touch and both children write one byte into",
         ParamType::kInt,
         0,
         100,
         {}},
        {"thp",
         "default",
         "default: the system-wide THP mode (/sys/kernel/mm/transparent_hugepage/enabled, recorded); never: "
         "prctl(PR_SET_THP_DISABLE) for this process before the heap is built",
         ParamType::kChoice,
         0,
         0,
         {"default", "never"}},
        {"hold_ms",
         "0",
         "after being measured each child prints 'heapmark fork-cow: child PID NAME holding MS ms' to stderr and "
         "waits until it gets SIGUSR1 or this long has passed, so its /proc can be read independently",
         ParamType::kInt,
         0,
         60'000,
         {}},
    },
    nullptr,
    [](const Params&) -> size_t { return 4096; },
    run_fork_cow,
};
const Registrar kRegister{kForkCow};

}  // namespace
}  // namespace heapmark::workloads
