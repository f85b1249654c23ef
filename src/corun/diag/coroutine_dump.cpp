// coroutine_dump.cpp: the coroutine dump (see coroutine_dump.hpp).
#include "corun/diag/coroutine_dump.hpp"

#include <ucontext.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "corun/diag/append_format.hpp"
#include "corun/diag/running_stacks.hpp"
#include "corun/diag/stack_walk.hpp"
#include "corun/diag/symbolize.hpp"
#include "corun/sched/scheduler.hpp"

namespace corun::detail {

namespace {

// kMaxGroups: the most groups printed (the largest); kMaxIds: the most ids
// listed per group. A million coroutines print a few hundred lines.
constexpr std::size_t kMaxGroups = 100;
constexpr std::size_t kMaxIds = 10;

// A group: coroutines in the same state, waiting for the same thing, with
// the same stack.
struct Group {
  std::string state;  // "chan receive", "running", ...
  std::vector<void*> pcs;
  std::size_t count = 0;
  std::vector<std::uint64_t> ids;  // the first kMaxIds
  std::int64_t longest_ms = -1;    // the longest known wait, or -1
};

std::string format_duration(std::int64_t ms) {
  char buf[64];
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lld ms", static_cast<long long>(ms));
  } else if (ms < 120'000) {
    std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  } else {
    std::snprintf(buf, sizeof buf, "%lld minutes", static_cast<long long>(ms / 60'000));
  }
  return buf;
}

// The running coroutine's own backtrace, when it is the one dumping: from
// its registers here (getcontext), as from a signal's.
__attribute__((noinline)) std::size_t walk_self(const Coroutine& g, const LoadedSegments& segments,
                                                void** pcs, std::size_t max) {
  ucontext_t uc;
  if (getcontext(&uc) != 0) return 0;
  return walk_machine_context(uc, reinterpret_cast<std::uintptr_t>(g.stack.base),
                              reinterpret_cast<std::uintptr_t>(g.stack.top()), segments, pcs, max);
}

// saved_sp(): a mark of the saved context, which changes at each switch.
const void* saved_sp(const Context& ctx) noexcept {
#if defined(CORUN_CONTEXT_UCONTEXT) && defined(__x86_64__)
  return reinterpret_cast<const void*>(ctx.uc.uc_mcontext.gregs[REG_RSP]);
#elif defined(CORUN_CONTEXT_UCONTEXT) && defined(__aarch64__)
  return reinterpret_cast<const void*>(ctx.uc.uc_mcontext.sp);
#elif defined(CORUN_CONTEXT_UCONTEXT)
  (void)ctx;
  return nullptr;
#else
  return *static_cast<void* const volatile*>(&ctx.sp);
#endif
}

// drop_switch_frames(): a parked stack starts at the switch, and which of
// its own frames it shows depends on the path the switch took (to a
// coroutine's first run it goes through switch_to_slow) and on the build
// (a plain one jumps to the context switch, leaving no frame; a sanitizer
// build returns from it): frames that tell a reader nothing and would split
// identical waits into groups. They are dropped; the stack starts at park().
// `known` remembers each address's answer (a dump sees few of them).
std::size_t drop_switch_frames(void** pcs, std::size_t n,
                               std::unordered_map<const void*, bool>& known) {
  std::size_t k = 0;
  while (k + 1 < n) {
    auto [it, fresh] = known.try_emplace(pcs[k], false);
    if (fresh) {
      it->second = symbolize(pcs[k]).rfind("corun::detail::Scheduler::switch_to", 0) == 0;
    }
    if (!it->second) break;
    ++k;
  }
  if (k > 0) std::move(pcs + k, pcs + n, pcs);
  return n - k;
}

}  // namespace

std::string coroutine_dump(Scheduler& sched) {
  const std::int64_t now_ms = (now_ns() - sched.start_ns()) / 1'000'000;
  Worker* self_worker = this_worker();
  const Coroutine* self = self_worker != nullptr && &self_worker->sched == &sched
                              ? self_worker->running_coroutine()
                              : nullptr;

  const auto segments = std::make_unique<LoadedSegments>();  // 8 KB: not on a coroutine's stack
  UnwindMemo memo;
  // The running ones' stacks first (their workers are interrupted for
  // microseconds), then the registry's, where they are matched by id.
  RunningStacks running = sample_running_stacks(sched, *segments);
  std::vector<bool> matched(running.stacks.size(), false);

  std::unordered_map<std::string, std::size_t> index;  // key -> groups
  std::vector<Group> groups;
  std::size_t listed = 0;
  std::string key;
  void* pcs[kMaxFrames];
  std::unordered_map<const void*, bool> switch_frames;  // see drop_switch_frames()

  auto add = [&](std::uint64_t id, const char* state, const char* note, std::size_t n,
                 std::int64_t waited) {
    key.assign(state);
    key.append(note);
    key.push_back('\0');
    key.append(reinterpret_cast<const char*>(pcs), n * sizeof(void*));
    auto [it, fresh] = index.try_emplace(key, groups.size());
    if (fresh) {
      groups.push_back(
          Group{std::string(state).append(note), std::vector<void*>(pcs, pcs + n), 0, {}, -1});
    }
    Group& grp = groups[it->second];
    ++grp.count;
    if (grp.ids.size() < kMaxIds) grp.ids.push_back(id);
    grp.longest_ms = std::max(grp.longest_ms, waited);
  };
  auto take_running = [&](std::size_t k) {
    matched[k] = true;
    const std::vector<void*>& r = running.stacks[k].pcs;
    std::copy(r.begin(), r.end(), pcs);
    return r.size();
  };

  sched.live_registry().visit([&](Coroutine* g) {
    ++listed;
    std::size_t n = 0;
    const char* state = nullptr;
    const char* note = "";
    std::int64_t waited = -1;
    const CoState s = g->state.load(std::memory_order_acquire);
    if (g == self) {
      state = "running, dumping";
      n = walk_self(*g, *segments, pcs, kMaxFrames);
    } else if (s == CoState::kParked || s == CoState::kCancelling) {
      state = to_string(g->wait_reason);
      if (s == CoState::kCancelling) note = ", being cancelled";
      std::uint32_t seen = 0;
      const auto stamp = static_cast<std::uint32_t>(now_ms) + 1;
      if (!g->wait_seen_ms.compare_exchange_strong(seen, stamp, std::memory_order_relaxed)) {
        waited = now_ms - (static_cast<std::int64_t>(seen) - 1);
      }
      const void* sp = saved_sp(g->ctx);
      n = walk_saved_context(g->ctx, reinterpret_cast<std::uintptr_t>(g->stack.base),
                             reinterpret_cast<std::uintptr_t>(g->stack.top()), *segments, pcs,
                             kMaxFrames, &memo);
      n = drop_switch_frames(pcs, n, switch_frames);
      // Woken while its stack was read: what was read may be a mix.
      if (g->state.load(std::memory_order_acquire) != s || saved_sp(g->ctx) != sp) {
        state = "runnable";
        n = 0;
        waited = -1;
      }
    } else if (s == CoState::kRunnable) {
      state = "runnable";
    } else if (s == CoState::kRunning) {
      state = "running";
      for (std::size_t k = 0; k < running.stacks.size(); ++k) {
        if (running.stacks[k].id == g->id) n = take_running(k);
      }
    } else {
      state = "exiting";
    }
    add(g->id, state, note, n, waited);
  });
  // Running coroutines that have never blocked (not in the registry).
  std::size_t running_listed = 0;
  for (std::size_t k = 0; k < running.stacks.size(); ++k) {
    if (matched[k]) continue;
    ++running_listed;
    add(running.stacks[k].id, "running", "", take_running(k), -1);
  }

  const std::size_t live = sched.live();
  std::string out;
  append(out, "coroutine dump: %zu live coroutines; %zu that have blocked at least once are listed",
         std::max(live, listed + running_listed), listed);
  if (running_listed > 0) append(out, ", and %zu running", running_listed);
  if (live > listed + running_listed) {
    append(out, " (the other %zu have never blocked: runnable, or running on a worker)",
           live - listed - running_listed);
  }
  out += '\n';

  std::stable_sort(groups.begin(), groups.end(),
                   [](const Group& a, const Group& b) { return a.count > b.count; });
  const std::size_t shown = std::min(groups.size(), kMaxGroups);
  for (std::size_t i = 0; i < shown; ++i) {
    const Group& grp = groups[i];
    std::string duration;
    if (grp.longest_ms >= 0) duration = format_duration(grp.longest_ms);
    const char* sep = duration.empty() ? "" : ", ";
    if (grp.count == 1) {
      append(out, "\ncoroutine %" PRIu64 " [%s%s%s]:\n", grp.ids[0], grp.state.c_str(), sep,
             duration.c_str());
    } else {
      append(out, "\n%zu coroutines [%s%s%s]:", grp.count, grp.state.c_str(), sep,
             duration.c_str());
      for (std::uint64_t id : grp.ids) append(out, " %" PRIu64, id);
      if (grp.count > grp.ids.size()) out += " ...";
      out += '\n';
    }
    if (grp.pcs.empty() && grp.state.rfind("running", 0) == 0) {
      out += running.unanswered > 0 ? "    (no backtrace: worker did not answer)\n"
                                    : "    (no backtrace: its worker was switching when asked)\n";
    } else if (grp.pcs.empty() && grp.state == "runnable") {
      out += "    (runnable: it may run at any moment, so its stack is not read)\n";
    } else if (grp.pcs.empty()) {
      out += "    (no backtrace)\n";
    }
    for (std::size_t f = 0; f < grp.pcs.size(); ++f) {
      // A return address may point just past its function: name the call.
      const auto* pc = static_cast<const char*>(grp.pcs[f]);
      append(out, "    #%zu %s\n", f, symbolize(f == 0 ? pc : pc - 1).c_str());
    }
  }
  if (groups.size() > shown) append(out, "\n... and %zu smaller groups\n", groups.size() - shown);
  return out;
}

}  // namespace corun::detail
