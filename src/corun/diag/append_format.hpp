// append_format.hpp: printf-style formatting appended to a string, for the
// diagnostics' text (plain string concatenation trips GCC 12's -Wrestrict
// false positives, and printf formats keep Go's line layouts readable).
#pragma once

#include <string>

namespace corun::detail {

void append(std::string& out, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace corun::detail
