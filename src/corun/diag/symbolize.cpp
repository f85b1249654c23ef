// symbolize.cpp: code addresses as names, with dladdr() and the C++ ABI's
// demangler (see symbolize.hpp). dladdr() reads only the dynamic symbol
// table (exported functions); for the others (static functions, anonymous
// namespaces, lambdas, a program linked without -rdynamic) the full symbol
// table of each loaded file (.symtab, kept unless the file is stripped) is
// read once, on the first miss; then a file+offset, which addr2line reads.
// No debug information is needed (so no file:line either).
#include "corun/diag/symbolize.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace corun::detail {

namespace {

const char* base_name(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash != nullptr ? slash + 1 : path;
}

std::string hex(std::uintptr_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%zx", static_cast<std::size_t>(v));
  return buf;
}

// A function from a file's full symbol table, at its loaded address.
struct Symbol {
  std::uintptr_t addr;
  std::uintptr_t size;
  std::string name;
};

// read_symtab() adds the functions of the ELF file `path`, loaded at `bias`.
void read_symtab(const char* path, std::uintptr_t bias, std::vector<Symbol>& out) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st {};
  void* map = MAP_FAILED;
  if (::fstat(fd, &st) == 0 && st.st_size > static_cast<off_t>(sizeof(ElfW(Ehdr)))) {
    map = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  }
  ::close(fd);
  if (map == MAP_FAILED) return;
  const auto* base = static_cast<const unsigned char*>(map);
  const auto size = static_cast<std::size_t>(st.st_size);
  const auto* eh = reinterpret_cast<const ElfW(Ehdr)*>(base);
  const bool sane = std::memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 &&
                    eh->e_shentsize == sizeof(ElfW(Shdr)) &&
                    eh->e_shoff + std::size_t{eh->e_shnum} * sizeof(ElfW(Shdr)) <= size;
  const auto* sh = reinterpret_cast<const ElfW(Shdr)*>(base + (sane ? eh->e_shoff : 0));
  for (std::size_t i = 0; sane && i < eh->e_shnum; ++i) {
    if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum) continue;
    const ElfW(Shdr)& strs = sh[sh[i].sh_link];
    if (sh[i].sh_offset + sh[i].sh_size > size || strs.sh_offset + strs.sh_size > size) continue;
    const auto* syms = reinterpret_cast<const ElfW(Sym)*>(base + sh[i].sh_offset);
    const std::size_t n = sh[i].sh_size / sizeof(ElfW(Sym));
    for (std::size_t k = 0; k < n; ++k) {
      if (ELF64_ST_TYPE(syms[k].st_info) != STT_FUNC || syms[k].st_value == 0 ||
          syms[k].st_name >= strs.sh_size) {
        continue;
      }
      const char* name = reinterpret_cast<const char*>(base + strs.sh_offset + syms[k].st_name);
      const std::size_t len = strnlen(name, strs.sh_size - syms[k].st_name);
      out.push_back({bias + syms[k].st_value, syms[k].st_size, std::string(name, len)});
    }
  }
  ::munmap(map, size);
}

// full_symbols(): every loaded file's functions, sorted by address; read
// once.
const std::vector<Symbol>& full_symbols() {
  static std::once_flag once;
  static std::vector<Symbol> symbols;
  std::call_once(once, [] {
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* data) {
          auto& out = *static_cast<std::vector<Symbol>*>(data);
          const char* path = info->dlpi_name;
          if (path == nullptr || path[0] == '\0') path = "/proc/self/exe";  // the program
          if (std::strstr(path, "linux-vdso") == nullptr) read_symtab(path, info->dlpi_addr, out);
          return 0;
        },
        &symbols);
    std::sort(symbols.begin(), symbols.end(),
              [](const Symbol& a, const Symbol& b) { return a.addr < b.addr; });
  });
  return symbols;
}

const Symbol* find_full_symbol(std::uintptr_t pc) {
  const auto& symbols = full_symbols();
  auto it = std::upper_bound(symbols.begin(), symbols.end(), pc,
                             [](std::uintptr_t v, const Symbol& s) { return v < s.addr; });
  if (it == symbols.begin()) return nullptr;
  --it;
  return pc < it->addr + std::max<std::uintptr_t>(it->size, 1) ? &*it : nullptr;
}

std::string demangle(const char* mangled) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string name = status == 0 && demangled != nullptr ? demangled : mangled;
  std::free(demangled);
  return name;
}

}  // namespace

std::string symbolize(const void* pc) {
  Dl_info info{};
  if (dladdr(pc, &info) == 0 || info.dli_fname == nullptr) {
    return hex(reinterpret_cast<std::uintptr_t>(pc));
  }
  const auto addr = reinterpret_cast<std::uintptr_t>(pc);
  if (info.dli_sname != nullptr && info.dli_saddr != nullptr) {
    return demangle(info.dli_sname) + "+" +
           hex(addr - reinterpret_cast<std::uintptr_t>(info.dli_saddr));
  }
  if (const Symbol* s = find_full_symbol(addr)) {
    return demangle(s->name.c_str()) + "+" + hex(addr - s->addr);
  }
  return std::string(base_name(info.dli_fname)) + "+" +
         hex(addr - reinterpret_cast<std::uintptr_t>(info.dli_fbase));
}

}  // namespace corun::detail
