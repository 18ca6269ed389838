#include "allocators/registry/elf_exports.h"

#include <elf.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

namespace heapmark::registry {
namespace {

#if defined(__x86_64__)
constexpr uint16_t kMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr uint16_t kMachine = EM_AARCH64;
#else
#error "set kMachine for this architecture"
#endif

// A view of the file with bounds-checked reads: a truncated or hostile file
// yields a problem, never a read past its end.
struct Image {
  std::vector<char> bytes;
  template <class T>
  bool read(uint64_t off, T& out) const {
    if (off > bytes.size() || bytes.size() - off < sizeof(T)) return false;
    std::memcpy(&out, bytes.data() + off, sizeof(T));
    return true;
  }
};

}  // namespace

std::string preload_problem(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot be read";
  Image img{std::vector<char>(std::istreambuf_iterator<char>(in), {})};
  Elf64_Ehdr eh;
  if (!img.read(0, eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return "is not an ELF file";
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != kMachine) return "is an ELF file for another architecture";
  if (eh.e_type != ET_DYN) return "is an ELF file but not a shared object (build it with -shared -fPIC)";
  // Find .dynsym and its string table through the section headers. A library
  // stripped of them (sstrip) still loads through PT_DYNAMIC: not judged here,
  // the cell's identity probe decides.
  if (eh.e_shnum == 0 || eh.e_shoff == 0) return "";
  if (eh.e_shentsize != sizeof(Elf64_Shdr)) return "is a malformed ELF file (section header size)";
  Elf64_Shdr dynsym{}, dynstr{};
  bool have_dynsym = false;
  for (uint16_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh;
    if (!img.read(eh.e_shoff + uint64_t{i} * eh.e_shentsize, sh)) return "is a truncated ELF file";
    if (sh.sh_type == SHT_DYNSYM && sh.sh_link < eh.e_shnum) {
      dynsym = sh;
      have_dynsym =
          img.read(eh.e_shoff + uint64_t{sh.sh_link} * eh.e_shentsize, dynstr) && dynstr.sh_type == SHT_STRTAB;
    }
  }
  if (!have_dynsym || dynsym.sh_entsize != sizeof(Elf64_Sym)) return "has no dynamic symbol table";
  bool malloc_defined = false, free_defined = false;
  for (uint64_t off = 0; off + sizeof(Elf64_Sym) <= dynsym.sh_size; off += sizeof(Elf64_Sym)) {
    Elf64_Sym sym;
    if (!img.read(dynsym.sh_offset + off, sym)) return "is a truncated ELF file";
    const int type = ELF64_ST_TYPE(sym.st_info), bind = ELF64_ST_BIND(sym.st_info);
    if (sym.st_shndx == SHN_UNDEF || (type != STT_FUNC && type != STT_GNU_IFUNC) ||
        (bind != STB_GLOBAL && bind != STB_WEAK))
      continue;
    if (sym.st_name >= dynstr.sh_size) continue;
    const uint64_t name = dynstr.sh_offset + sym.st_name;
    if (name >= img.bytes.size()) continue;
    const char* s = img.bytes.data() + name;
    const size_t room = img.bytes.size() - name;
    if (strnlen(s, room) == room) continue;
    malloc_defined |= std::strcmp(s, "malloc") == 0;
    free_defined |= std::strcmp(s, "free") == 0;
  }
  if (!malloc_defined)
    return "exports no 'malloc' (an allocator for LD_PRELOAD defines malloc, free, calloc and realloc)";
  if (!free_defined) return "exports no 'free' (an allocator for LD_PRELOAD defines malloc, free, calloc and realloc)";
  return "";
}

}  // namespace heapmark::registry
