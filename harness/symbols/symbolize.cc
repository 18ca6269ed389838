#include "harness/symbols/symbolize.h"

#include <cxxabi.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace heapmark::symbols {
namespace {

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%" PRIx64, v);
  return b;
}

std::string base_name(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The source-level name: demangled, without a symbol version ("fopen@@GLIBC_2.2.5").
std::string demangle(const char* raw) {
  std::string name(raw);
  if (const size_t at = name.find('@'); at != std::string::npos && at > 0) name.resize(at);
  int status = 0;
  char* d = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status);
  if (status != 0 || !d) return name;
  std::string out(d);
  std::free(d);
  return out;
}

std::string hex_bytes(const std::string& b) {
  std::string out;
  char x[3];
  for (unsigned char c : b) {
    std::snprintf(x, sizeof x, "%02x", c);
    out += x;
  }
  return out;
}

const Dwfl_Callbacks kOffline = {
    dwfl_build_id_find_elf,
    dwfl_standard_find_debuginfo,
    dwfl_offline_section_address,
    nullptr,
};

}  // namespace

std::string Frame::text() const {
  const std::string where = module.empty() ? hex(address) : module + "+" + hex(offset);
  if (function.empty()) return where;
  if (!file.empty()) return function + " (" + base_name(file) + ":" + std::to_string(line) + ")";
  return function + " (" + where + ")";
}

boost::json::object Frame::to_json() const {
  return boost::json::object{{"function", function}, {"file", file},     {"line", line},
                             {"module", module},     {"offset", offset}, {"text", text()}};
}

struct Symbolizer::Open {
  Dwfl* dwfl = nullptr;
  Dwfl_Module* mod = nullptr;
  ~Open() {
    if (dwfl) dwfl_end(dwfl);
  }
};

Symbolizer::Symbolizer(const trace::SiteTable& sites) : sites_(sites) {
  open_.resize(sites.modules().size());
  tried_.assign(sites.modules().size(), 0);
}

Symbolizer::~Symbolizer() = default;

Symbolizer::Open* Symbolizer::open(int32_t module) {
  if (module < 0) return nullptr;
  const auto i = static_cast<size_t>(module);
  if (tried_[i]) return open_[i].get();
  tried_[i] = 1;
  const trace::Module& m = sites_.modules()[i];
  if (m.path.empty() || m.path[0] != '/') return nullptr;  // the vDSO and other unnamed mappings
  const int fd = ::open(m.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    warnings_.push_back(m.path + ": " + std::strerror(errno) + "; its frames are shown as module+offset");
    return nullptr;
  }
  auto o = std::make_unique<Open>();
  o->dwfl = dwfl_begin(&kOffline);
  // dwfl takes the descriptor; the module sits where it was loaded (bias + p_vaddr).
  o->mod = o->dwfl ? dwfl_report_elf(o->dwfl, base_name(m.path).c_str(), m.path.c_str(), fd, m.bias, true) : nullptr;
  if (!o->mod) {
    if (!o->dwfl) close(fd);
    warnings_.push_back(m.path + ": not a readable ELF file (" + dwfl_errmsg(-1) +
                        "); its frames are shown as module+offset");
    return nullptr;
  }
  dwfl_report_end(o->dwfl, nullptr, nullptr);
  const unsigned char* bits = nullptr;
  GElf_Addr vaddr = 0;
  const int n = dwfl_module_build_id(o->mod, &bits, &vaddr);
  const std::string now =
      n > 0 ? std::string(reinterpret_cast<const char*>(bits), static_cast<size_t>(n)) : std::string();
  if (!m.build_id.empty() && now != m.build_id) {
    warnings_.push_back(m.path + ": build-id " + (now.empty() ? std::string("missing") : hex_bytes(now)) +
                        " differs from the recording's " + hex_bytes(m.build_id) +
                        " (the file was rebuilt or replaced since); its frames are shown as module+offset");
    return nullptr;
  }
  open_[i] = std::move(o);
  return open_[i].get();
}

const Frame& Symbolizer::frame(uint32_t dense, size_t i) {
  const trace::Stack& s = sites_.stack(dense);
  const uint64_t addr = s.frames[i];
  const int32_t module = s.module[i];
  auto [it, fresh] = cache_.try_emplace({module, addr});
  if (!fresh) return it->second;
  Frame& f = it->second;
  f.address = addr;
  if (const trace::Symbol* named = sites_.symbol(s.image, addr)) {  // an imported recording names its frames
    // Without a function name the module is all there is (no load address to make an offset from).
    f.function = named->function.empty() ? "[" + base_name(named->module) + "]" : named->function;
    f.file = named->file;
    f.line = named->line;
    f.module = base_name(named->module);
    return f;
  }
  if (module >= 0) {
    const trace::Module& m = sites_.modules()[static_cast<size_t>(module)];
    f.module = base_name(m.path);
    f.offset = addr - m.bias;
    f.build_id = hex_bytes(m.build_id);
  }
  if (Open* o = open(module)) {
    const Dwarf_Addr pc = addr - 1;  // a return address: the call is the instruction before it
    if (const char* name = dwfl_module_addrname(o->mod, pc)) f.function = demangle(name);
    if (Dwfl_Line* line = dwfl_module_getsrc(o->mod, pc)) {
      int ln = 0;
      if (const char* file = dwfl_lineinfo(line, nullptr, &ln, nullptr, nullptr, nullptr)) {
        f.file = file;
        f.line = static_cast<uint32_t>(ln);
      }
    }
  }
  return f;
}

std::vector<Frame> Symbolizer::stack(uint32_t dense) {
  std::vector<Frame> out;
  const size_t n = sites_.stack(dense).frames.size();
  for (size_t i = 0; i < n; ++i) out.push_back(frame(dense, i));
  return out;
}

}  // namespace heapmark::symbols
