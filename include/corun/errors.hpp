// errors.hpp: the exceptions corun throws.
#pragma once

#include <stdexcept>

namespace corun {

// Cancelled is thrown out of a blocking call (sleep, channel operation,
// WaitGroup::wait, Mutex::lock) when the Runtime is destroyed while the
// coroutine waits, so its stack unwinds and its destructors run. It is not a
// std::exception on purpose: catch (const std::exception&) does not swallow
// it. A coroutine that lets it escape ends normally.
struct Cancelled {};

}  // namespace corun
