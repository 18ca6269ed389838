#include "harness/report/pprof.h"

#include <zlib.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <tuple>

namespace heapmark::report::pprof {
namespace {

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%" PRIx64, v);
  return b;
}

// The protocol buffer wire format, as much of it as profile.proto needs:
// varints (wire type 0) and length-delimited fields (wire type 2). proto3
// omits a scalar equal to its default, and packs repeated scalars.
class Message {
 public:
  void uint(int field, uint64_t v) {
    if (v == 0) return;
    key(field, 0);
    varint(v);
  }
  void sint(int field, int64_t v) { uint(field, static_cast<uint64_t>(v)); }  // int64: two's complement
  void boolean(int field, bool v) { uint(field, v ? 1 : 0); }
  void bytes(int field, const std::string& b) {
    key(field, 2);
    varint(b.size());
    out_ += b;
  }
  void message(int field, const Message& m) { bytes(field, m.out_); }
  template <class T>
  void packed(int field, const std::vector<T>& v) {
    if (v.empty()) return;
    Message inner;
    for (T x : v) inner.varint(static_cast<uint64_t>(x));
    bytes(field, inner.out_);
  }
  const std::string& str() const { return out_; }

 private:
  void key(int field, int wire) { varint(static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(wire)); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_ += static_cast<char>(v | 0x80);
      v >>= 7;
    }
    out_ += static_cast<char>(v);
  }
  std::string out_;
};

// profile.proto's string table: index 0 is "".
class Strings {
 public:
  Strings() { id(""); }
  int64_t id(const std::string& s) {
    const auto [it, fresh] = ids_.emplace(s, static_cast<int64_t>(list_.size()));
    if (fresh) list_.push_back(s);
    return it->second;
  }
  const std::vector<std::string>& list() const { return list_; }

 private:
  std::map<std::string, int64_t> ids_;
  std::vector<std::string> list_;
};

using FrameKey = std::tuple<std::string, std::string, uint32_t, std::string, uint64_t>;
FrameKey key_of(const Frame& f) { return {f.function, f.file, f.line, f.module, f.address}; }

bool all_zero(const Sample& s) {
  for (int64_t v : s.values)
    if (v != 0) return false;
  return true;
}

// Every distinct frame of the samples written (not all zero), numbered from 1
// in order of first use, with the first frame seen as its example.
struct Numbered {
  uint64_t id;
  const Frame* frame;
};
std::map<FrameKey, Numbered> number_frames(const Profile& p) {
  std::map<FrameKey, Numbered> ids;
  for (const auto& s : p.samples)
    if (!all_zero(s))
      for (const auto& f : s.stack) ids.emplace(key_of(f), Numbered{ids.size() + 1, &f});
  return ids;
}

}  // namespace

std::string Frame::where() const {
  if (!file.empty()) return file + ":" + std::to_string(line);
  return module.empty() ? hex(address) : module + "+" + hex(address);
}

std::string Frame::name() const { return function.empty() ? where() : function; }

size_t Profile::stacks() const {
  size_t n = 0;
  for (const auto& s : samples) n += !all_zero(s);
  return n;
}

int Profile::index_of(const std::string& type) const {
  for (size_t i = 0; i < sample_types.size(); ++i)
    if (sample_types[i].type == type) return static_cast<int>(i);
  return -1;
}

std::string Profile::type_list() const {
  std::string out;
  for (const auto& t : sample_types) out += (out.empty() ? "" : ", ") + t.type;
  return out;
}

std::string encode(const Profile& p) {
  Strings strings;
  Message out;
  for (const auto& t : p.sample_types) {
    Message vt;
    vt.sint(1, strings.id(t.type));
    vt.sint(2, strings.id(t.unit));
    out.message(1, vt);
  }
  const auto frame_ids = number_frames(p);
  for (const auto& s : p.samples) {
    if (all_zero(s)) continue;
    std::vector<uint64_t> locations;
    for (const auto& f : s.stack) locations.push_back(frame_ids.at(key_of(f)).id);
    Message m;
    m.packed(1, locations);
    m.packed(2, s.values);
    out.message(2, m);
  }
  // One mapping per module, spanning the addresses its frames name. Clients
  // take mapping 1 for the program: number them from the outermost frames in
  // (the first stack's outermost frame is the executable's _start).
  struct Span {
    uint64_t id = 0, lo = UINT64_MAX, hi = 0;
    std::string build_id;
  };
  std::map<std::string, Span> modules;
  for (const auto& s : p.samples)
    for (auto f = s.stack.rbegin(); f != s.stack.rend() && !all_zero(s); ++f) {
      if (f->module.empty()) continue;
      Span& span = modules[f->module];
      if (span.id == 0) span.id = modules.size();
      span.lo = std::min(span.lo, f->address);
      span.hi = std::max(span.hi, f->address + 1);
      if (!f->build_id.empty()) span.build_id = f->build_id;
    }
  std::vector<std::pair<std::string, Span>> by_id(modules.begin(), modules.end());
  std::sort(by_id.begin(), by_id.end(), [](const auto& a, const auto& b) { return a.second.id < b.second.id; });
  for (const auto& [name, span] : by_id) {
    Message m;
    m.uint(1, span.id);
    m.uint(2, span.lo);
    m.uint(3, span.hi);
    m.sint(5, strings.id(name));
    m.sint(6, strings.id(span.build_id));
    m.boolean(7, true);  // symbolised here: a client must not look the addresses up again
    m.boolean(8, true);
    m.boolean(9, true);
    out.message(3, m);
  }
  // Functions: one per (name, file); locations: one per frame.
  std::map<std::pair<std::string, std::string>, uint64_t> functions;
  for (const auto& [k, n] : frame_ids) {
    const Frame& frame = *n.frame;
    const auto [fit, fresh] = functions.emplace(std::make_pair(frame.name(), frame.file), functions.size() + 1);
    if (fresh) {
      Message f;
      f.uint(1, fit->second);
      f.sint(2, strings.id(fit->first.first));
      f.sint(3, strings.id(fit->first.first));
      f.sint(4, strings.id(fit->first.second));
      out.message(5, f);
    }
    Message line;
    line.uint(1, fit->second);
    line.sint(2, frame.line);
    Message loc;
    loc.uint(1, n.id);
    if (const auto m = modules.find(frame.module); m != modules.end()) loc.uint(2, m->second.id);
    loc.uint(3, frame.address);
    loc.message(4, line);
    out.message(4, loc);
  }
  std::vector<int64_t> comments;
  for (const auto& c : p.comments) comments.push_back(strings.id(c));
  const int64_t default_type = p.default_type.empty() ? 0 : strings.id(p.default_type);
  // Strings are all known now: the table, then the fields that point into it.
  for (const auto& s : strings.list()) out.bytes(6, s);
  out.sint(9, p.time_nanos);
  out.sint(10, p.duration_nanos);
  out.packed(13, comments);
  out.sint(14, default_type);
  return out.str();
}

std::string gzip(const std::string& bytes) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("gzip: deflateInit2 failed");
  std::string out(deflateBound(&z, bytes.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("gzip: deflate did not finish");
  return out;
}

std::string legacy_heap(const Profile& p, const std::string& inuse, const std::string& inuse_objects,
                        const std::string& alloc, const std::string& alloc_objects) {
  const int s1 = p.index_of(inuse), n1 = p.index_of(inuse_objects);
  const int s2 = alloc.empty() ? s1 : p.index_of(alloc), n2 = alloc.empty() ? n1 : p.index_of(alloc_objects);
  if (s1 < 0 || n1 < 0 || s2 < 0 || n2 < 0) throw std::invalid_argument("legacy_heap: unknown sample type");
  // Symbolised addresses: one made-up address per distinct frame, named in the symbol table.
  const auto frame_ids = number_frames(p);
  auto address = [](uint64_t id) { return 0x10000 + 0x10 * id; };
  std::string out = "--- symbol\nbinary=heapmark\n";
  for (const auto& [k, n] : frame_ids) {
    std::string name = n.frame->name();
    // google-pprof splits a symbol at "--" (it separates inlined functions).
    for (size_t at; (at = name.find("--")) != std::string::npos;) name.replace(at, 2, "- -");
    char b[32];
    std::snprintf(b, sizeof b, "0x%016" PRIx64 " ", address(n.id));
    out += b + name + "\n";
  }
  out += "---\n";
  int64_t total[4] = {};
  std::string lines;
  for (const auto& s : p.samples) {
    const int64_t v[4] = {s.values[n1], s.values[s1], s.values[n2], s.values[s2]};
    if (v[0] == 0 && v[1] == 0 && v[2] == 0 && v[3] == 0) continue;
    char b[96];
    std::snprintf(b, sizeof b, "%6" PRId64 ": %8" PRId64 " [%6" PRId64 ": %8" PRId64 "] @", v[0], v[1], v[2], v[3]);
    lines += b;
    for (const auto& f : s.stack) {
      std::snprintf(b, sizeof b, " 0x%016" PRIx64, address(frame_ids.at(key_of(f)).id));
      lines += b;
    }
    lines += "\n";
    for (int i = 0; i < 4; ++i) total[i] += v[i];
  }
  char head[128];
  std::snprintf(head, sizeof head,
                "heap profile: %6" PRId64 ": %8" PRId64 " [%6" PRId64 ": %8" PRId64 "] @ heapprofile\n", total[0],
                total[1], total[2], total[3]);
  return out + head + lines;
}

Frame parse_frame_text(const std::string& text) {
  Frame f;
  // "module+0xOFF" or "0xADDR": no function.
  auto place = [&f](const std::string& where) {
    const size_t plus = where.rfind("+0x");
    if (plus != std::string::npos) {
      f.module = where.substr(0, plus);
      f.address = std::strtoull(where.c_str() + plus + 1, nullptr, 16);
      return true;
    }
    if (where.rfind("0x", 0) == 0) {
      f.address = std::strtoull(where.c_str(), nullptr, 16);
      return true;
    }
    return false;
  };
  const size_t paren = text.rfind(" (");
  if (paren == std::string::npos || text.back() != ')') {
    if (!place(text)) f.function = text;
    return f;
  }
  f.function = text.substr(0, paren);
  const std::string where = text.substr(paren + 2, text.size() - paren - 3);
  const size_t colon = where.rfind(':');
  if (!place(where) && colon != std::string::npos) {
    f.file = where.substr(0, colon);
    f.line = static_cast<uint32_t>(std::strtoul(where.c_str() + colon + 1, nullptr, 10));
  }
  return f;
}

namespace {

Profile holder_types() {
  Profile p;
  p.sample_types = {{"pinned_space", "bytes"}, {"inuse_space", "bytes"}, {"inuse_objects", "count"}};
  p.default_type = "pinned_space";
  return p;
}

// A site's stack: its named frames, or one frame saying what it is.
std::vector<Frame> stack_of(uint32_t site, const std::vector<std::string>& frames, const std::string& fallback) {
  std::vector<Frame> out;
  for (const auto& t : frames) out.push_back(parse_frame_text(t));
  if (out.empty()) out.push_back(Frame::label(fallback.empty() ? "site " + std::to_string(site) : fallback));
  return out;
}

int64_t rounded(double v) { return static_cast<int64_t>(std::llround(v)); }

}  // namespace

Profile holders_profile(const Holders& h) {
  Profile p = holder_types();
  p.comments.push_back(h.allocator + " at " + h.phase + ": medians over " + std::to_string(h.cells) + " cells");
  auto add = [&p](const Holder& x, const std::string& fallback) {
    p.samples.push_back(
        {stack_of(x.site, x.frames, fallback), {rounded(x.pinned), rounded(x.live), rounded(x.blocks)}});
  };
  for (const auto& s : h.sites) add(s, "");
  add(h.unknown, "(no stack recorded)");
  add(h.other, "(other sites)");
  return p;
}

Profile attribution_profile(const results::Attribution& a, const std::map<uint32_t, std::vector<std::string>>& names,
                            const std::string& what) {
  Profile p = holder_types();
  p.comments.push_back(what);
  auto add = [&](const results::SiteShare& s, const std::string& fallback) {
    static const std::vector<std::string> none;
    const auto it = names.find(s.site);
    p.samples.push_back({stack_of(s.site, it == names.end() || fallback.size() ? none : it->second, fallback),
                         {rounded(s.pinned), static_cast<int64_t>(s.live), static_cast<int64_t>(s.blocks)}});
  };
  for (const auto& s : a.sites) add(s, "");
  add(a.unknown, "(no stack recorded)");
  add(a.other, "(other sites)");
  return p;
}

}  // namespace heapmark::report::pprof
