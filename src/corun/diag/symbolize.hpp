// symbolize.hpp: a code address as a person reads it.
#pragma once

#include <string>

namespace corun::detail {

// symbolize() names the function that contains `pc`, demangled, with the
// offset into it ("corun::detail::Scheduler::park(...)+0x5c"), from the
// dynamic symbol table or else the file's full one; where neither knows it
// (a stripped file), the file and the offset into it, which addr2line reads
// ("demo+0x1d2f0"). Not async-signal-safe (it allocates, and reads the
// files' symbol tables on its first miss).
std::string symbolize(const void* pc);

}  // namespace corun::detail
