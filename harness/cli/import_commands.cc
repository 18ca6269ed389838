// `heapmark import heaptrack FILE -o app.hmt`: a heaptrack recording (the
// interpreted data file heaptrack 1.1 and later write, heaptrack.APP.PID.zst,
// file format versions 2 and 3) as a heapmark trace, so it replays on every
// allocator and diagnose can name its sites. Converted: sizes, lifetimes,
// stacks with heaptrack's own symbol names, timestamps and RSS samples.
// Not in the format, so not in the trace (said when importing):
//   - threads: every event goes to one thread;
//   - which block a free releases: heaptrack records its kind (size and stack),
//     so each free releases the most recent live block of that kind;
//   - alignments and calloc/realloc: every allocation is a malloc (heaptrack
//     records realloc as a free and a malloc).
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/input_error.h"
#include "harness/cli/commands.h"
#include "harness/results/output_file.h"
#include "workloads/trace_writer.h"

namespace {

using heapmark::InputError;
namespace tr = heapmark::trace;

// Lines of a heaptrack data file, zstd-compressed or plain, in bounded memory.
class Lines {
 public:
  explicit Lines(const std::string& path) : path_(path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) throw InputError(path + ": cannot open: " + std::strerror(errno));
    if (!S_ISREG(st.st_mode))
      throw InputError(path + ": not a regular file (" +
                       (S_ISDIR(st.st_mode) ? "a directory" : "a FIFO, socket or device") +
                       "): give heaptrack's data file");
    in_.open(path, std::ios::binary);
    if (!in_) throw InputError(path + ": cannot open: " + std::strerror(errno));
    char magic[4] = {};
    in_.read(magic, 4);
    in_.clear();
    in_.seekg(0);
    zstd_ = static_cast<unsigned char>(magic[0]) == 0x28 && static_cast<unsigned char>(magic[1]) == 0xb5 &&
            static_cast<unsigned char>(magic[2]) == 0x2f && static_cast<unsigned char>(magic[3]) == 0xfd;
    if (static_cast<unsigned char>(magic[0]) == 0x1f && static_cast<unsigned char>(magic[1]) == 0x8b)
      throw InputError(path +
                       ": a gzip-compressed heaptrack file: decompress it first (gunzip -k), or record with a "
                       "heaptrack that writes .zst");
    if (zstd_) {
      ds_.reset(ZSTD_createDStream());
      ZSTD_initDStream(ds_.get());
      in_buf_.resize(ZSTD_DStreamInSize());
    }
  }
  // The next line without its newline; false at the end.
  bool next(std::string& line) {
    line.clear();
    for (;;) {
      const size_t nl = text_.find('\n', pos_);
      if (nl != std::string::npos) {
        line.assign(text_, pos_, nl - pos_);
        pos_ = nl + 1;
        ++number_;
        return true;
      }
      text_.erase(0, pos_);
      pos_ = 0;
      // heaptrack ends every line with a newline: text without one at the end
      // is a recording cut short, and a line this long is not heaptrack's.
      if (text_.size() > kMaxLine)
        throw InputError(path_ + ": line " + std::to_string(number_ + 1) +
                         " is longer than 64 MiB: not a heaptrack data file");
      if (!fill()) {
        if (text_.empty()) return false;
        throw InputError(path_ + ": line " + std::to_string(number_ + 1) +
                         " is cut short (no newline at the end of the file): the recording is incomplete");
      }
    }
  }
  // "FILE: line N: expected WHAT", for the line last read.
  InputError error(const std::string& expected) const {
    return InputError(path_ + ": line " + std::to_string(number_) + ": expected " + expected);
  }

 private:
  static constexpr size_t kMaxLine = 64u << 20;
  struct FreeStream {
    void operator()(ZSTD_DStream* d) const { ZSTD_freeDStream(d); }
  };
  bool fill() {
    char buf[1 << 16];
    if (!zstd_) {
      in_.read(buf, sizeof buf);
      const auto n = in_.gcount();
      text_.append(buf, static_cast<size_t>(n));
      return n > 0;
    }
    for (;;) {
      if (input_.pos == input_.size) {
        in_.read(reinterpret_cast<char*>(in_buf_.data()), static_cast<std::streamsize>(in_buf_.size()));
        input_ = ZSTD_inBuffer{in_buf_.data(), static_cast<size_t>(in_.gcount()), 0};
        if (input_.size == 0) {
          if (!frame_done_) throw InputError(path_ + ": truncated zstd data (the recording was cut short)");
          return false;
        }
      }
      ZSTD_outBuffer out{buf, sizeof buf, 0};
      const size_t r = ZSTD_decompressStream(ds_.get(), &out, &input_);
      if (ZSTD_isError(r)) throw InputError(path_ + ": corrupt zstd data: " + ZSTD_getErrorName(r));
      frame_done_ = r == 0;
      if (out.pos > 0) {
        text_.append(buf, out.pos);
        return true;
      }
    }
  }

  std::string path_;
  std::ifstream in_;
  bool zstd_ = false;
  std::unique_ptr<ZSTD_DStream, FreeStream> ds_;
  std::vector<unsigned char> in_buf_;
  ZSTD_inBuffer input_{nullptr, 0, 0};
  bool frame_done_ = true;
  std::string text_;
  size_t pos_ = 0;
  uint64_t number_ = 0;
};

// One line's fields after its mode character: hex numbers and, from format 3, sized strings.
struct Fields {
  const std::string& line;
  size_t at = 2;
  bool hex(uint64_t& v) {
    v = 0;
    const size_t start = at;
    while (at < line.size() && line[at] != ' ') {
      const char c = line[at];
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0 || v >> 60) return false;
      v = v * 16 + static_cast<uint64_t>(d);
      ++at;
    }
    if (at < line.size()) ++at;
    return at > start;
  }
  bool sized(std::string& s) {
    uint64_t n = 0;
    if (!hex(n) || n > line.size() - std::min(at, line.size())) return false;
    s.assign(line, at, n);
    at += n + 1;
    return true;
  }
};

struct Ip {
  uint64_t address = 0, module = 0, function = 0, file = 0, line = 0;
};

// The version line: heaptrack's file format, 2 or 3.
uint64_t read_format(Lines& lines, std::string& line, const std::string& in_path) {
  if (!lines.next(line) || line.size() < 2 || line[0] != 'v')
    throw InputError(in_path +
                     ": not a heaptrack data file (it does not start with a version line; heaptrack -r raw "
                     "files must go through heaptrack_interpret first)");
  uint64_t heaptrack_version = 0, format = 0;
  {
    Fields f{line};
    if (!f.hex(heaptrack_version) || !f.hex(format)) throw lines.error("\"v VERSION FORMAT\"");
  }
  if (format < 2 || format > 3) {
    char v[32];
    std::snprintf(v, sizeof v, "%" PRIx64 ".%" PRIx64 ".%" PRIx64, heaptrack_version >> 16,
                  (heaptrack_version >> 8) & 0xff, heaptrack_version & 0xff);
    throw InputError(in_path + ": heaptrack file format version " + std::to_string(format) + " (written by heaptrack " +
                     v + ") is not supported: heapmark reads versions 2 and 3 (heaptrack 1.1 and later)");
  }
  return format;
}

// The trace's header from the lines before the data; false when the file has no more lines, else `line`
// holds the first line still to convert.
bool read_header(Lines& lines, std::string& line, const std::string& in_path, tr::Header& header) {
  header.machine = "imported from " + std::filesystem::absolute(in_path).string();
  // The debuggee's command line comes first (X), before anything the trace's header cannot wait for.
  bool pending = lines.next(line);
  while (pending && (line.empty() || line[0] == '#' || line[0] == 'I')) pending = lines.next(line);
  if (pending && line[0] == 'X') {
    const std::string cmd = line.size() > 2 ? line.substr(2) : "";
    for (size_t s = 0, e; s < cmd.size(); s = e + 1) {
      e = cmd.find(' ', s);
      if (e == std::string::npos) e = cmd.size();
      if (e > s) header.argv.push_back(cmd.substr(s, e - s));
    }
    pending = lines.next(line);
  }
  header.program = header.argv.empty() ? "(imported from heaptrack)" : header.argv[0];
  struct stat st;  // heaptrack keeps no wall-clock start: the file's last write is close to the recording's end
  if (stat(in_path.c_str(), &st) == 0)
    header.start_unix_ns =
        static_cast<uint64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(st.st_mtim.tv_nsec);
  return pending;
}

struct Discard {  // the partial trace goes unless the import finished
  const std::string& path;
  bool keep = false;
  ~Discard() {
    if (!keep) std::remove(path.c_str());
  }
};

// What heaptrack's data lines define (strings, instruction pointers, traces, allocation kinds) and
// what of it the trace holds so far.
class Converter {
 public:
  Converter(const Lines& lines, tr::Writer& w, bool sized) : lines_(lines), w_(w), sized_(sized) {}
  // Converts one data line (neither empty nor a comment).
  void convert(const std::string& line);
  uint64_t allocations() const { return allocations_; }
  size_t stacks() const { return site_of_trace_.size(); }
  uint64_t unmatched_frees() const { return unmatched_frees_; }
  bool attached() const { return attached_; }

 private:
  struct Info {
    uint64_t size, trace;
  };
  void add_string(const std::string& line, Fields& f);
  void add_ip(Fields& f);
  void allocate(Fields& f);
  void release(Fields& f);
  uint32_t site(uint64_t trace);
  void name_ip(uint64_t ip);

  const Lines& lines_;
  tr::Writer& w_;
  const bool sized_;
  std::vector<std::string> strings_{""};                       // 1-based
  std::vector<Ip> ips_{Ip{}};                                  // 1-based
  std::vector<std::pair<uint64_t, uint64_t>> traces_{{0, 0}};  // (ip, parent), 1-based; 0 is the root
  std::vector<Info> infos_;                                    // 0-based
  std::unordered_map<uint64_t, uint32_t> site_of_trace_;       // trace index -> stack id
  std::vector<uint8_t> named_ip_;
  std::vector<std::vector<uint64_t>> live_;  // per allocation info: its live blocks, the newest last
  uint64_t unmatched_frees_ = 0, allocations_ = 0;
  bool attached_ = false;
};

void Converter::convert(const std::string& line) {
  Fields f{line};
  uint64_t a = 0, b = 0;
  switch (line[0]) {
    case 'X': throw lines_.error("one debuggee line (X), at the start");
    case 's': add_string(line, f); break;
    case 'i': add_ip(f); break;
    case 't':
      if (!f.hex(a) || !f.hex(b)) throw lines_.error("\"t IP PARENT\"");
      traces_.emplace_back(a, b);
      break;
    case 'a':
      if (!f.hex(a) || !f.hex(b)) throw lines_.error("\"a SIZE TRACE\"");
      infos_.push_back({a, b});
      break;
    case '+': allocate(f); break;
    case '-': release(f); break;
    case 'c':
      if (!f.hex(a)) throw lines_.error("\"c MILLISECONDS\"");
      w_.time(a);
      break;
    case 'R':
      if (!f.hex(a)) throw lines_.error("\"R PAGES\"");
      w_.rss(a * 4096);
      break;
    case 'A': attached_ = true; break;
    default:  // I (page size), S (suppressions), and anything newer: nothing a replay needs
      break;
  }
}

void Converter::add_string(const std::string& line, Fields& f) {
  std::string s;
  if (sized_) {
    if (!f.sized(s)) throw lines_.error("\"s LENGTH STRING\"");
  } else {
    s = line.size() > 2 ? line.substr(2) : "";
  }
  strings_.push_back(std::move(s));
}

void Converter::add_ip(Fields& f) {
  Ip ip;
  if (!f.hex(ip.address) || !f.hex(ip.module)) throw lines_.error("\"i ADDRESS MODULE [FUNCTION FILE LINE]...\"");
  uint64_t fn = 0, file = 0, ln = 0;
  if (f.hex(fn) && f.hex(file) && f.hex(ln))
    ip.function = fn, ip.file = file, ip.line = ln;  // inlined frames after it are dropped
  ips_.push_back(ip);
}

void Converter::allocate(Fields& f) {
  uint64_t a = 0;
  if (!f.hex(a) || a >= infos_.size()) throw lines_.error("\"+ ALLOCATION\" naming a defined allocation");
  const uint32_t s = site(infos_[a].trace);
  if (live_.size() <= a) live_.resize(a + 1);
  live_[a].push_back(w_.alloc(infos_[a].size, s));
  ++allocations_;
}

void Converter::release(Fields& f) {
  uint64_t a = 0;
  if (!f.hex(a) || a >= infos_.size()) throw lines_.error("\"- ALLOCATION\" naming a defined allocation");
  if (a < live_.size() && !live_[a].empty()) {
    w_.free(live_[a].back());
    live_[a].pop_back();
  } else {
    ++unmatched_frees_;  // made before heaptrack attached
  }
}

// The trace's stack id for a heaptrack trace index, written to the trace the first time it is seen.
uint32_t Converter::site(uint64_t trace) {
  if (trace == 0) return 0;
  const auto it = site_of_trace_.find(trace);
  if (it != site_of_trace_.end()) return it->second;
  std::vector<uint64_t> frames;
  for (uint64_t t = trace; t != 0 && frames.size() < tr::kMaxStackDepth;) {
    if (t >= traces_.size()) throw lines_.error("trace index " + std::to_string(t) + " defined before its use");
    const uint64_t ip = traces_[t].first;
    if (ip == 0 || ip >= ips_.size()) throw lines_.error("an instruction pointer index defined before its use");
    frames.push_back(ips_[ip].address);
    name_ip(ip);
    t = traces_[t].second;
  }
  const uint32_t id = static_cast<uint32_t>(site_of_trace_.size() + 1);
  w_.stack(id, frames);
  site_of_trace_.emplace(trace, id);
  return id;
}

// Writes the symbol of instruction pointer `ip` the first time a stack holds it.
void Converter::name_ip(uint64_t ip) {
  if (named_ip_.size() <= ip) named_ip_.resize(ip + 1);
  if (named_ip_[ip]) return;
  named_ip_[ip] = 1;
  const Ip& x = ips_[ip];
  auto str = [&](uint64_t i) { return i < strings_.size() ? strings_[i] : std::string(); };
  w_.symbol(x.address, str(x.function), str(x.file), static_cast<uint32_t>(x.line), str(x.module));
}

// The import's summary on stderr, and what heaptrack's format could not tell.
void report(const std::string& in_path, const std::string& out_path, uint64_t format, const Converter& c,
            const tr::Writer& w) {
  std::fprintf(stderr,
               "heapmark import: %s: %" PRIu64 " allocations, %zu stacks, %" PRIu64
               " events from %s (heaptrack format %" PRIu64 ")\n",
               out_path.c_str(), c.allocations(), c.stacks(), w.events(), in_path.c_str(), format);
  std::fprintf(stderr,
               "heapmark import: warning: heaptrack records no threads (all events are on one thread), no alignments "
               "and no calloc/realloc (all are malloc), and which kind of block a free releases, not which block: each "
               "free releases the most recent live block of its size and stack\n");
  if (c.attached() || c.unmatched_frees())
    std::fprintf(stderr,
                 "heapmark import: warning: heaptrack attached to a running program: %" PRIu64
                 " frees of blocks made before it are left out\n",
                 c.unmatched_frees());
}

int import_heaptrack(const std::string& in_path, const std::string& out_path) {
  Lines lines(in_path);
  std::string line;
  const uint64_t format = read_format(lines, line, in_path);
  const bool sized = format >= 3;
  tr::Header header;
  bool pending = read_header(lines, line, in_path, header);
  const std::string tmp = out_path + ".importing-" + std::to_string(getpid());
  Discard discard{tmp};
  tr::Writer w(tmp, header);
  w.walker(tr::kMaxStackDepth, "heaptrack");

  Converter converter(lines, w, sized);
  for (; pending; pending = lines.next(line)) {
    if (line.empty() || line[0] == '#') continue;
    converter.convert(line);
  }
  w.finish();
  if (std::rename(tmp.c_str(), out_path.c_str()) != 0)
    throw heapmark::EnvironmentError("rename the trace to", out_path, errno);
  discard.keep = true;
  report(in_path, out_path, format, converter, w);
  return 0;
}

const heapmark::cli::CommandRegistrar reg{[](CLI::App& app) -> heapmark::cli::Action {
  struct State {
    std::string format, in, out = "app.hmt";
    bool force = false;
  };
  auto st = std::make_shared<State>();
  auto* cmd = app.add_subcommand("import",
                                 "Convert another tool's recording into a heapmark trace: heapmark import heaptrack "
                                 "heaptrack.app.1234.zst -o app.hmt");
  cmd->add_option("format", st->format, "The recording's tool: heaptrack")
      ->required()
      ->check(CLI::IsMember({"heaptrack"}));
  cmd->add_option("file", st->in, "The recording (heaptrack: the .zst data file heaptrack writes)")->required();
  cmd->add_option("-o,--out", st->out, "Trace file to write (an existing file is replaced only with --force)");
  cmd->add_flag("--force", st->force, "Replace the -o file if it exists");
  return [cmd, st]() -> std::optional<int> {
    if (!*cmd) return std::nullopt;
    heapmark::results::claim_output(st->out, st->force, "import -o");
    return import_heaptrack(st->in, st->out);
  };
}};

}  // namespace
