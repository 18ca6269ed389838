// libheapmark_attach.so: what heapmark attach loads into a running process
// (inject.py calls dlopen, then heapmark_attach_run, with every thread
// stopped outside the allocator and the dynamic loader). It asks the
// registry's families what serves malloc here, proves it as a cell does
// (Hooks::probe: one probe block), and writes the family's version, settings,
// statistics, accounting and heap walk as one JSON object to a file heapmark
// created. With action "release" it calls the family's release hook instead.
//
// Nothing runs when it is loaded beyond the families registering themselves;
// it starts no thread and installs no hook, so it stays loaded and inert. Its
// output goes through an mmap'd buffer and write(2): after the probe block,
// the only allocations are the family's own calls (mallinfo2, mallctl).
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "allocators/registry/hooks.h"
#include "allocators/registry/registry.h"

namespace {

using heapmark::registry::kUnknown;

// JSON text in anonymous memory, written to the file in one go.
class Out {
 public:
  Out() {
    buf_ = static_cast<char*>(mmap(nullptr, kCap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (buf_ == MAP_FAILED) buf_ = nullptr;
  }
  ~Out() {
    if (buf_) munmap(buf_, kCap);
  }
  void raw(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    if (!buf_ || len_ >= kCap) return;
    va_list ap;
    va_start(ap, fmt);
    const int n = std::vsnprintf(buf_ + len_, kCap - len_, fmt, ap);
    va_end(ap);
    if (n > 0) len_ = len_ + static_cast<size_t>(n) < kCap ? len_ + static_cast<size_t>(n) : kCap;
  }
  void str(const char* s) {
    raw("\"");
    for (; s && *s; ++s) {
      const unsigned char c = static_cast<unsigned char>(*s);
      if (c == '"' || c == '\\') raw("\\%c", c);
      else if (c < 0x20) raw("\\u%04x", c);
      else raw("%c", c);
    }
    raw("\"");
  }
  void key(const char* k) {
    raw("%s", first_ ? "" : ",");
    first_ = false;
    str(k);
    raw(":");
  }
  void open() {
    raw("{");
    first_ = true;
  }
  void close() {
    raw("}");
    first_ = false;
  }
  void num(const char* k, uint64_t v) {
    key(k);
    if (v == kUnknown) raw("null");
    else raw("%" PRIu64, v);
  }
  void text(const char* k, const char* v) {
    key(k);
    str(v);
  }
  void flag(const char* k, bool v) {
    key(k);
    raw(v ? "true" : "false");
  }
  bool write_to(const char* path) const {
    if (!buf_ || len_ >= kCap) return false;
    const int fd = ::open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) return false;
    size_t done = 0;
    while (done < len_) {
      const ssize_t w = ::write(fd, buf_ + done, len_ - done);
      if (w <= 0) break;
      done += static_cast<size_t>(w);
    }
    ::close(fd);
    return done == len_;
  }

 private:
  static constexpr size_t kCap = 1u << 20;
  char* buf_ = nullptr;
  size_t len_ = 0;
  bool first_ = true;
};

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

void write_accounting(Out& o, const heapmark::registry::Family& family) {
  heapmark::registry::Accounting a;
  o.key("accounting");
  if (!family.accounting(a)) {
    o.raw("null");
    return;
  }
  o.open();
  o.num("live", a.live);
  o.num("metadata", a.metadata);
  o.num("retained", a.retained);
  o.text("note", a.note);
  o.key("kept");
  o.raw("[");
  for (size_t i = 0; i < a.kept_count; ++i) {
    o.raw(i ? "," : "");
    o.open();
    o.text("mechanism", a.kept[i].mechanism);
    o.num("bytes", a.kept[i].bytes);
    o.flag("resident", a.kept[i].resident);
    o.flag("release_returns", a.kept[i].release_returns);
    o.flag("pinned", a.kept[i].pinned);
    o.close();
  }
  o.raw("]");
  o.close();
}

void write_walk(Out& o, const heapmark::registry::Family& family) {
  static heapmark::registry::HeapWalk w;  // 10 KiB of page map: not on the borrowed stack
  const uint64_t t0 = now_ns();
  o.key("walk");
  if (!family.walk(w)) {
    o.raw("null");
    return;
  }
  o.open();
  o.flag("ok", w.ok);
  o.text("why", w.why);
  o.num("ns", now_ns() - t0);
  for (const auto& [name, member] : heapmark::registry::kWalkCounts) o.num(name, w.*member);
  o.key("page_map");
  o.open();
  o.num("pages_per_bucket", w.map_pages_per_bucket);
  o.key("pages");
  o.raw("[%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "]", w.map_pages[0], w.map_pages[1], w.map_pages[2],
        w.map_pages[3], w.map_pages[4]);
  o.key("buckets");
  o.raw("[");
  for (uint64_t b = 0; b < w.map_buckets; ++b)
    o.raw("%s[%u,%u,%u,%u,%u]", b ? "," : "", w.map[b][0], w.map[b][1], w.map[b][2], w.map[b][3], w.map[b][4]);
  o.raw("]");
  o.close();
  o.close();
}

}  // namespace

// action: "snapshot" (with the heap walk), "accounting" (without it),
// "release" (the snapshot's figures, then the hook), "decay:MS" (the
// accounting, then the family's decay setting), or "release-thread" (the hook only, for a family whose release
// acts on the calling thread; nothing written). Returns 0 when `out_path` got
// the JSON object, -1 otherwise.
extern "C" __attribute__((visibility("default"))) int heapmark_attach_run(const char* action, const char* out_path) {
  namespace reg = heapmark::registry;
  char from[512] = "";
  const bool found = reg::Hooks::malloc_object(from, sizeof from);
  // The family serving malloc here, proved as a cell proves it.
  const bool libc = std::strstr(from, "/libc.so") != nullptr;
  const reg::Hooks hooks =
      found ? reg::Hooks::probe(*reg::find_family(libc ? "glibc" : "user"), libc ? "" : from) : reg::Hooks{};
  if (std::strcmp(action, "release-thread") == 0) return found && hooks.identity_ok() && hooks.release() ? 0 : -1;
  Out o;
  o.open();
  o.num("pid", static_cast<uint64_t>(getpid()));
  o.text("action", action);
  if (!found) {
    o.text("error", "dlsym(RTLD_DEFAULT, \"malloc\") found no malloc");
    o.close();
    return o.write_to(out_path) ? 0 : -1;
  }
  o.text("malloc_from", from);
  o.text("family", hooks.family().name());
  o.flag("identity_ok", hooks.identity_ok());
  o.text("proof", hooks.proof());
  o.text("version", hooks.version());
  o.text("release_name", hooks.release_name());
  o.flag("release_per_thread", hooks.release_per_thread());
  o.text("decay_name", hooks.decay_name());
  if (hooks.identity_ok()) {
    const reg::Family& f = hooks.family();
    // Everything below describes the allocator before the release, if any:
    // the prediction and the call share one stop.
    reg::StatItem stats[96];
    const size_t ns = hooks.stats(stats, 96);
    o.key("stats");
    o.open();
    for (size_t i = 0; i < ns; ++i) o.num(stats[i].name, stats[i].value);
    o.close();
    reg::ConfigItem config[32];
    const size_t nc = hooks.config(config, 32);
    o.key("config");
    o.open();
    for (size_t i = 0; i < nc; ++i) o.text(config[i].name, config[i].value);
    o.close();
    const reg::Horizon h = hooks.horizon();
    o.key("horizon");
    o.open();
    o.num("ms", h.ms);
    o.flag("background", h.background);
    o.text("what", h.what);
    o.close();
    write_accounting(o, f);
    const bool decay = std::strncmp(action, "decay:", 6) == 0;
    if (std::strcmp(action, "accounting") != 0 && !decay) write_walk(o, f);
    if (decay) {
      const uint64_t t0 = now_ns();
      o.flag("released", hooks.set_decay(std::strtoll(action + 6, nullptr, 10)));
      o.num("release_ns", now_ns() - t0);
    }
    if (std::strcmp(action, "release") == 0) {
      const uint64_t t0 = now_ns();
      o.flag("released", hooks.release());
      o.num("release_ns", now_ns() - t0);
    }
  }
  o.close();
  return o.write_to(out_path) ? 0 : -1;
}

// A program cell's release schedule: libheapmark_probe.so loads this library
// before the program's main and calls the first; its thread then calls the
// second at every interval. The first binds the family serving malloc here
// (as heapmark_attach_run does) and returns its hook's name, or null when it
// has none; *per_thread says the hook acts on the calling thread's caches
// only. The second calls the hook: 0 when it ran.
namespace {
heapmark::registry::Hooks g_scheduled;
}

extern "C" __attribute__((visibility("default"))) const char* heapmark_release_hook(int* per_thread) {
  namespace reg = heapmark::registry;
  char from[512] = "";
  if (!reg::Hooks::malloc_object(from, sizeof from)) return nullptr;
  const bool libc = std::strstr(from, "/libc.so") != nullptr;
  g_scheduled = reg::Hooks::probe(*reg::find_family(libc ? "glibc" : "user"), libc ? "" : from);
  if (!g_scheduled.identity_ok() || std::strcmp(g_scheduled.release_name(), "none") == 0) return nullptr;
  *per_thread = g_scheduled.release_per_thread() ? 1 : 0;
  return g_scheduled.release_name();
}

extern "C" __attribute__((visibility("default"))) int heapmark_release_now() {
  return g_scheduled.identity_ok() && g_scheduled.release() ? 0 : -1;
}
