// trace_view.cpp: see trace_view.hpp.
#include "demo/render/trace_view.hpp"

#include <algorithm>
#include <map>

namespace demo {

std::vector<RunSlice> run_slices(const std::vector<corun::TraceEvent>& events) {
  std::vector<RunSlice> slices;
  std::map<int, RunSlice> open;  // by worker
  std::int64_t last = 0;
  for (const corun::TraceEvent& e : events) {
    last = std::max(last, e.time_ns);
    if (e.worker < 0) continue;
    if (e.kind == corun::TraceKind::kRunStart) {
      if (auto it = open.find(e.worker); it != open.end()) {  // a missing stop: close it here
        it->second.end_ns = e.time_ns;
        slices.push_back(it->second);
        open.erase(it);
      }
      open[e.worker] = {e.worker, e.coroutine, e.time_ns, e.time_ns, corun::StopReason::kNone, ""};
    } else if (e.kind == corun::TraceKind::kRunStop) {
      auto it = open.find(e.worker);
      if (it == open.end() || it->second.coroutine != e.coroutine) continue;
      it->second.end_ns = e.time_ns;
      it->second.reason = e.reason;
      it->second.wait = e.wait != nullptr ? e.wait : "";
      slices.push_back(it->second);
      open.erase(it);
    }
  }
  for (auto& [worker, s] : open) {
    s.end_ns = last;
    slices.push_back(s);
  }
  std::sort(slices.begin(), slices.end(),
            [](const RunSlice& a, const RunSlice& b) { return a.start_ns < b.start_ns; });
  return slices;
}

Preemptions count_preemptions(const std::vector<corun::TraceEvent>& events) {
  Preemptions p;
  for (const corun::TraceEvent& e : events) {
    if (e.kind == corun::TraceKind::kRunStop && e.reason == corun::StopReason::kPreempt) {
      ++p.total;
      ++p.by_coroutine[e.coroutine];
    }
  }
  return p;
}

char default_symbol(std::size_t index) {
  static constexpr char kSymbols[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return kSymbols[index % (sizeof kSymbols - 1)];
}

}  // namespace demo
