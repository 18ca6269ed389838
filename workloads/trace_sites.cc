#include "workloads/trace_sites.h"

#include "common/input_error.h"

namespace heapmark::trace {
namespace {

[[noreturn]] void bad(const std::string& name, uint64_t at, const std::string& expected) {
  throw InputError(name + ": bad stack table at byte " + std::to_string(at) + ": expected " + expected);
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
    ChunkHeader h;
    file.read(ref.offset, &h, sizeof h);
    buf.resize(h.payload_bytes);
    file.read(ref.offset + sizeof h, buf.data(), buf.size());
    check_chunk_payload(h, buf.data(), ref.offset, file.name());
    const uint8_t* const begin = buf.data();
    const uint8_t* p = begin;
    const uint8_t* const end = begin + buf.size();
    const uint64_t base = ref.offset + sizeof h;
    auto at = [&]() { return base + static_cast<uint64_t>(p - begin); };
    auto varint = [&](const char* what) {
      uint64_t v = 0;
      if (!get_varint(p, end, v)) bad(file.name(), at(), what);
      return v;
    };
    auto bytes = [&](const char* what, size_t limit) {
      const uint64_t n = varint(what);
      if (n > limit || n > static_cast<uint64_t>(end - p)) bad(file.name(), at(), what);
      std::string s(reinterpret_cast<const char*>(p), n);
      p += n;
      return s;
    };
    while (p < end) {
      const uint64_t kind = varint("a site record kind");
      switch (static_cast<SiteRecord>(kind)) {
        case SiteRecord::kWalker: {
          const uint64_t depth = varint("the stack depth");
          if (depth == 0 || depth > kMaxStackDepth)
            bad(file.name(), at(), "a stack depth of 1 to " + std::to_string(kMaxStackDepth));
          t.depth_ = static_cast<uint32_t>(depth);
          t.walker_ = bytes("the stack walker's name (at most 32 bytes)", 32);
          break;
        }
        case SiteRecord::kModule: {
          Module m;
          m.bias = varint("a module's load bias");
          m.lo = varint("a module's first address");
          m.hi = varint("a module's end address");
          if (m.hi < m.lo) bad(file.name(), at(), "a module's end address at or above its first");
          m.path = bytes("a module path of at most 4096 bytes", 4096);
          m.build_id = bytes("a build-id of at most 64 bytes", 64);
          m.image = image;
          t.modules_.push_back(std::move(m));
          break;
        }
        case SiteRecord::kStack: {
          const uint64_t id = varint("a stack id");
          const uint32_t in_image = t.count() - t.image_base_.back();
          if (id != uint64_t{in_image} + 1)
            bad(file.name(), at(),
                "stack id " + std::to_string(in_image + 1) + " (ids count up from 1 in each image), found " +
                    std::to_string(id));
          const uint64_t depth = varint("a stack's depth");
          if (depth > kMaxStackDepth)
            bad(file.name(), at(), "a stack of at most " + std::to_string(kMaxStackDepth) + " frames");
          Stack s;
          s.image = image;
          s.frames.reserve(depth);
          uint64_t addr = 0;
          for (uint64_t i = 0; i < depth; ++i) {
            const uint64_t v = varint("a frame address");
            addr = i == 0 ? v : addr + static_cast<uint64_t>(unzigzag(v));
            s.frames.push_back(addr);
            // The module that held the address when the stack was recorded: the
            // latest of this image's modules covering it (a library dlclose'd and
            // another loaded at its place comes later).
            int32_t mod = -1;
            for (size_t k = t.modules_.size(); k-- > image_first_module;)
              if (addr >= t.modules_[k].lo && addr < t.modules_[k].hi) {
                mod = static_cast<int32_t>(k);
                break;
              }
            s.module.push_back(mod);
          }
          t.stacks_.push_back(std::move(s));
          break;
        }
        case SiteRecord::kDropped: t.dropped_ += varint("a dropped-stack count"); break;
        case SiteRecord::kSymbol: {
          const uint64_t address = varint("a frame address");
          Symbol sym;
          sym.function = bytes("a function name of at most 64 KiB", 65536);
          sym.file = bytes("a file name of at most 4096 bytes", 4096);
          const uint64_t line = varint("a line number");
          if (line > UINT32_MAX) bad(file.name(), at(), "a line number below 2^32");
          sym.line = static_cast<uint32_t>(line);
          sym.module = bytes("a module name of at most 4096 bytes", 4096);
          t.symbols_[{image, address}] = std::move(sym);
          break;
        }
        default:
          bad(file.name(), at(), "a site record of kind 1 (walker), 2 (module), 3 (stack), 4 (dropped) or 5 (symbol)");
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
