#include "workloads/trace_sites.h"

#include "common/input_error.h"

namespace heapmark::trace {
namespace {

[[noreturn]] void bad(const std::string& name, uint64_t at, const std::string& expected) {
  throw InputError(name + ": bad stack table at byte " + std::to_string(at) + ": expected " + expected);
}

// A kSites chunk's payload in memory, read field by field; every problem names its byte in the file.
struct SiteCursor {
  const std::string& name;  // the file's
  const uint8_t* const begin;
  const uint8_t* p;
  const uint8_t* const end;
  const uint64_t base;  // the payload's offset in the file
  uint64_t at() const { return base + static_cast<uint64_t>(p - begin); }
  [[noreturn]] void fail(const std::string& expected) const { bad(name, at(), expected); }
  uint64_t varint(const char* what) {
    uint64_t v = 0;
    if (!get_varint(p, end, v)) bad(name, at(), what);
    return v;
  }
  std::string bytes(const char* what, size_t limit) {
    const uint64_t n = varint(what);
    if (n > limit || n > static_cast<uint64_t>(end - p)) bad(name, at(), what);
    std::string s(reinterpret_cast<const char*>(p), n);
    p += n;
    return s;
  }
};

// Reads the kSites chunk at `ref` into `buf`, checked against its checksum.
SiteCursor read_chunk(const TraceFile& file, const ChunkRef& ref, std::vector<uint8_t>& buf) {
  ChunkHeader h;
  file.read(ref.offset, &h, sizeof h);
  buf.resize(h.payload_bytes);
  file.read(ref.offset + sizeof h, buf.data(), buf.size());
  check_chunk_payload(h, buf.data(), ref.offset, file.name());
  return SiteCursor{file.name(), buf.data(), buf.data(), buf.data() + buf.size(), ref.offset + sizeof h};
}

Module read_module(SiteCursor& c, uint32_t image) {
  Module m;
  m.bias = c.varint("a module's load bias");
  m.lo = c.varint("a module's first address");
  m.hi = c.varint("a module's end address");
  if (m.hi < m.lo) c.fail("a module's end address at or above its first");
  m.path = c.bytes("a module path of at most 4096 bytes", 4096);
  m.build_id = c.bytes("a build-id of at most 64 bytes", 64);
  m.image = image;
  return m;
}

// The module that held the address when the stack was recorded: the
// latest of this image's modules covering it (a library dlclose'd and
// another loaded at its place comes later).
int32_t module_at(const std::vector<Module>& modules, size_t image_first_module, uint64_t addr) {
  int32_t mod = -1;
  for (size_t k = modules.size(); k-- > image_first_module;)
    if (addr >= modules[k].lo && addr < modules[k].hi) {
      mod = static_cast<int32_t>(k);
      break;
    }
  return mod;
}

// A stack record, the image's stack number `in_image` + 1; its frames' modules are among
// `modules` from `image_first_module` on.
Stack read_stack(SiteCursor& c, uint32_t image, uint32_t in_image, const std::vector<Module>& modules,
                 size_t image_first_module) {
  const uint64_t id = c.varint("a stack id");
  if (id != uint64_t{in_image} + 1)
    c.fail("stack id " + std::to_string(in_image + 1) + " (ids count up from 1 in each image), found " +
           std::to_string(id));
  const uint64_t depth = c.varint("a stack's depth");
  if (depth > kMaxStackDepth) c.fail("a stack of at most " + std::to_string(kMaxStackDepth) + " frames");
  Stack s;
  s.image = image;
  s.frames.reserve(depth);
  uint64_t addr = 0;
  for (uint64_t i = 0; i < depth; ++i) {
    const uint64_t v = c.varint("a frame address");
    addr = i == 0 ? v : addr + static_cast<uint64_t>(unzigzag(v));
    s.frames.push_back(addr);
    s.module.push_back(module_at(modules, image_first_module, addr));
  }
  return s;
}

// A symbol record into `sym`; returns the frame address it names.
uint64_t read_symbol(SiteCursor& c, Symbol& sym) {
  const uint64_t address = c.varint("a frame address");
  sym.function = c.bytes("a function name of at most 64 KiB", 65536);
  sym.file = c.bytes("a file name of at most 4096 bytes", 4096);
  const uint64_t line = c.varint("a line number");
  if (line > UINT32_MAX) c.fail("a line number below 2^32");
  sym.line = static_cast<uint32_t>(line);
  sym.module = c.bytes("a module name of at most 4096 bytes", 4096);
  return address;
}

}  // namespace

SiteTable read_sites(const TraceFile& file, const Layout& layout) {
  SiteTable t;
  std::vector<uint8_t> buf;
  uint32_t image = 0;
  size_t image_first_module = 0;
  t.image_base_.push_back(0);
  for (const ChunkRef& ref : layout.site_chunks) {
    while (image < ref.image.index) {  // images with no sites of their own still get a base
      ++image;
      t.image_base_.push_back(t.count());
      image_first_module = t.modules_.size();
    }
    SiteCursor c = read_chunk(file, ref, buf);
    while (c.p < c.end) {
      const uint64_t kind = c.varint("a site record kind");
      switch (static_cast<SiteRecord>(kind)) {
        case SiteRecord::kWalker: {
          const uint64_t depth = c.varint("the stack depth");
          if (depth == 0 || depth > kMaxStackDepth) c.fail("a stack depth of 1 to " + std::to_string(kMaxStackDepth));
          t.depth_ = static_cast<uint32_t>(depth);
          t.walker_ = c.bytes("the stack walker's name (at most 32 bytes)", 32);
          break;
        }
        case SiteRecord::kModule: t.modules_.push_back(read_module(c, image)); break;
        case SiteRecord::kStack:
          t.stacks_.push_back(read_stack(c, image, t.count() - t.image_base_.back(), t.modules_, image_first_module));
          break;
        case SiteRecord::kDropped: t.dropped_ += c.varint("a dropped-stack count"); break;
        case SiteRecord::kSymbol: {
          Symbol sym;
          const uint64_t address = read_symbol(c, sym);
          t.symbols_[{image, address}] = std::move(sym);
          break;
        }
        default: c.fail("a site record of kind 1 (walker), 2 (module), 3 (stack), 4 (dropped) or 5 (symbol)");
      }
    }
  }
  while (image + 1 < layout.images) {
    ++image;
    t.image_base_.push_back(t.count());
  }
  return t;
}

uint32_t site_bases(const TraceFile& file, const Layout& layout, uint8_t* buffer, uint32_t* base) {
  uint32_t total = 0, image = 0, in_image = 0;
  base[0] = 0;
  auto next_image = [&](uint32_t to) {
    while (image < to) {
      total += in_image;
      in_image = 0;
      base[++image] = total;
    }
  };
  for (const ChunkRef& ref : layout.site_chunks) {
    next_image(ref.image.index);
    ChunkHeader h;
    file.read(ref.offset, &h, sizeof h);
    file.read(ref.offset + sizeof h, buffer, h.payload_bytes);
    check_chunk_payload(h, buffer, ref.offset, file.name());
    const uint8_t* p = buffer;
    const uint8_t* const end = buffer + h.payload_bytes;
    uint64_t kind = 0, v = 0;
    auto skip_varints = [&](int n) {
      for (int i = 0; i < n; ++i)
        if (!get_varint(p, end, v))
          bad(file.name(), ref.offset + sizeof h + static_cast<uint64_t>(p - buffer), "a varint");
    };
    auto skip_bytes = [&]() {
      skip_varints(1);
      if (v > static_cast<uint64_t>(end - p))
        bad(file.name(), ref.offset + sizeof h + static_cast<uint64_t>(p - buffer), "bytes inside the chunk");
      p += v;
    };
    while (p < end) {
      skip_varints(1);
      kind = v;
      switch (static_cast<SiteRecord>(kind)) {
        case SiteRecord::kWalker:
          skip_varints(1);
          skip_bytes();
          break;
        case SiteRecord::kModule:
          skip_varints(3);
          skip_bytes();
          skip_bytes();
          break;
        case SiteRecord::kStack: {
          skip_varints(1);
          if (v != uint64_t{in_image} + 1)
            bad(file.name(), ref.offset + sizeof h, "stack ids counting up from 1 in each image");
          ++in_image;
          skip_varints(1);
          if (v > kMaxStackDepth)
            bad(file.name(), ref.offset + sizeof h, "a stack of at most " + std::to_string(kMaxStackDepth) + " frames");
          skip_varints(static_cast<int>(v));
          break;
        }
        case SiteRecord::kDropped: skip_varints(1); break;
        case SiteRecord::kSymbol:
          skip_varints(1);
          skip_bytes();
          skip_bytes();
          skip_varints(1);
          skip_bytes();
          break;
        default:
          bad(file.name(), ref.offset + sizeof h + static_cast<uint64_t>(p - buffer), "a site record of kind 1 to 5");
      }
    }
  }
  next_image(layout.images - 1);
  return total + in_image;
}

}  // namespace heapmark::trace
