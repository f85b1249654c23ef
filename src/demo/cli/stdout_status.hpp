// stdout_status.hpp: whether what demo wrote to stdout arrived, and what it
// says when it did not, as coreutils do (gnulib's close_stdout):
//
//   demo concurrent > /dev/full   ->  demo: error writing standard output:
//                                     No space left on device   (exit 1)
//   demo concurrent >&-           ->  ... Bad file descriptor    (exit 1)
//   demo compare | head -1        ->  nothing: the reader has what it wanted;
//                                     SIGPIPE ends demo (the shell says 141),
//                                     or, where SIGPIPE is ignored, demo
//                                     exits 141 itself
#pragma once

#include <cstdio>
#include <string_view>

namespace demo {

// reserve_standard_descriptors() opens /dev/null on whichever of
// descriptors 0, 1 and 2 is closed, in the direction that fails (stdout and
// stderr read-only, stdin write-only): no file or socket the run opens takes
// their numbers, and a write to a closed stdout still fails (EBADF).
// First thing in main().
void reserve_standard_descriptors() noexcept;

// write_stream() writes `text` to `stream` and flushes it; false on
// failure. The first failure on stdout is remembered (its errno) for
// finish_stdout(): the run goes on, its result is reported at exit.
bool write_stream(std::FILE* stream, std::string_view text) noexcept;

// finish_stdout() flushes and closes stdout and returns the exit status:
// `code`, or, when `code` is 0 and some output did not arrive, 1 after
// "demo: error writing standard output: REASON" on stderr, or 141
// (128 + SIGPIPE) without a word when the reader had gone (EPIPE). A failed
// run (`code` != 0) keeps its own status and message.
int finish_stdout(int code) noexcept;

}  // namespace demo
