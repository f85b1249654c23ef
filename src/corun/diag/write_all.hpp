// write_all.hpp: text to a file descriptor in as few write()s as it takes,
// so that what the diagnostics print is not interleaved with other output.
#pragma once

#include <unistd.h>

#include <string_view>

namespace corun::detail {

inline void write_all(int fd, std::string_view text) noexcept {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n <= 0) return;  // (EINTR is restarted: the diagnostics' signals use SA_RESTART)
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace corun::detail
