// runtime.cpp: Runtime, the public face of the Scheduler.
#include "corun/runtime.hpp"

#include <cstdlib>
#include <stdexcept>

#include "corun/diag/coroutine_dump.hpp"
#include "corun/diag/debug_options.hpp"
#include "corun/diag/diagnostics.hpp"
#include "corun/sched/scheduler.hpp"

namespace corun {

Runtime::Runtime(Config config) : sched_(std::make_unique<detail::Scheduler>(config)) {
  diag_ = detail::Diagnostics::start(*sched_);
  detail::attach_thread(sched_.get());
}

// diag_ goes first (declared last): its threads read the scheduler.
Runtime::~Runtime() = default;

void Runtime::wait() { sched_->wait_all(); }
int Runtime::procs() const noexcept { return sched_->procs(); }
const Config& Runtime::config() const noexcept { return sched_->config(); }
std::size_t Runtime::live() const noexcept { return sched_->live(); }
std::vector<TraceEvent> Runtime::trace() const { return sched_->trace(); }
std::string Runtime::coroutine_dump() const { return detail::coroutine_dump(*sched_); }
void Runtime::dump_coroutines(std::FILE* out) const {
  const std::string text = coroutine_dump();
  std::fwrite(text.data(), 1, text.size(), out);
  std::fflush(out);
}
std::chrono::steady_clock::time_point Runtime::trace_epoch() const noexcept {
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(sched_->start_ns()));
}

namespace detail {

std::uint64_t spawn(Scheduler* sched, Closure&& body) {
  if (sched == nullptr) {
    throw std::logic_error("corun::go() called outside a coroutine: use Runtime::go()");
  }
  return sched->spawn(std::move(body));
}

Scheduler* current_scheduler() noexcept {
  Worker* w = this_worker();
  return w != nullptr ? &w->sched : nullptr;
}

}  // namespace detail

void check_debug_environment() { (void)detail::parse_debug_options(std::getenv("CORUN_DEBUG")); }

}  // namespace corun
