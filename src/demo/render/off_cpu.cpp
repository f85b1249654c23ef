// off_cpu.cpp: see off_cpu.hpp.
#include "demo/render/off_cpu.hpp"

#include <algorithm>
#include <limits>

namespace demo {

namespace {

std::int64_t overlap(std::int64_t a0, std::int64_t a1, std::int64_t b0, std::int64_t b1) {
  return std::max<std::int64_t>(0, std::min(a1, b1) - std::max(a0, b0));
}

}  // namespace

OffCpu::OffCpu(const std::vector<RunSlice>& slices, const std::vector<CpuSample>& samples,
               int procs)
    : by_worker_(static_cast<std::size_t>(std::max(procs, 0))), runs_(by_worker_.size()) {
  std::vector<std::vector<CpuSample>> per(by_worker_.size());
  for (const CpuSample& s : samples) {
    if (s.worker >= 0 && s.worker < procs) per[static_cast<std::size_t>(s.worker)].push_back(s);
  }
  // A worker handed to another thread (its coroutine's run stopped in a
  // blocking call: StopReason::kSyscall) is no longer run by the thread
  // whose clock was sampled: its stretches end at its first hand-off.
  std::vector<std::int64_t> handed_off(by_worker_.size(), std::numeric_limits<std::int64_t>::max());
  for (const RunSlice& r : slices) {
    if (r.worker >= 0 && r.worker < procs && r.end_ns > r.start_ns) {
      runs_[static_cast<std::size_t>(r.worker)].push_back({r.start_ns, r.end_ns});
    }
    if (r.worker >= 0 && r.worker < procs && r.reason == corun::StopReason::kSyscall) {
      std::int64_t& at = handed_off[static_cast<std::size_t>(r.worker)];
      at = std::min(at, r.end_ns);
    }
  }
  for (std::vector<Held>& rs : runs_) {
    std::sort(rs.begin(), rs.end(),
              [](const Held& a, const Held& b) { return a.start_ns < b.start_ns; });
  }
  for (std::size_t w = 0; w < per.size(); ++w) {
    std::vector<CpuSample>& ss = per[w];
    std::sort(ss.begin(), ss.end(),
              [](const CpuSample& a, const CpuSample& b) { return a.time_ns < b.time_ns; });
    for (std::size_t i = 0; i + 1 < ss.size(); ++i) {
      OffCpuStretch st{.start_ns = ss[i].time_ns, .end_ns = ss[i + 1].time_ns};
      if (st.end_ns <= st.start_ns) continue;
      if (st.end_ns > handed_off[w]) {
        cut_ = true;
        break;
      }
      st.held_ns = held_in(static_cast<int>(w), st.start_ns, st.end_ns);
      const std::int64_t cpu = std::max<std::int64_t>(0, ss[i + 1].cpu_ns - ss[i].cpu_ns);
      st.off_ns = std::clamp<std::int64_t>(st.held_ns - cpu, 0, st.held_ns);
      by_worker_[w].push_back(st);
      known_ = true;
    }
  }
}

const std::vector<OffCpuStretch>& OffCpu::stretches(int worker) const {
  static const std::vector<OffCpuStretch> kNone;
  return worker >= 0 && static_cast<std::size_t>(worker) < by_worker_.size()
             ? by_worker_[static_cast<std::size_t>(worker)]
             : kNone;
}

std::int64_t OffCpu::held_in(int worker, std::int64_t from_ns, std::int64_t to_ns) const {
  if (worker < 0 || static_cast<std::size_t>(worker) >= runs_.size()) return 0;
  const std::vector<Held>& rs = runs_[static_cast<std::size_t>(worker)];
  // The first run that ends after from_ns (runs do not overlap: their ends
  // are in order too).
  auto it = std::partition_point(rs.begin(), rs.end(),
                                 [&](const Held& h) { return h.end_ns <= from_ns; });
  std::int64_t held = 0;
  for (; it != rs.end() && it->start_ns < to_ns; ++it) {
    held += overlap(it->start_ns, it->end_ns, from_ns, to_ns);
  }
  return held;
}

double OffCpu::off_ns(int worker, std::int64_t from_ns, std::int64_t to_ns) const {
  double off = 0;
  for (const OffCpuStretch& s : stretches(worker)) {
    if (s.start_ns >= to_ns) break;
    if (s.off_ns <= 0 || s.end_ns <= from_ns) continue;
    const std::int64_t held =
        held_in(worker, std::max(s.start_ns, from_ns), std::min(s.end_ns, to_ns));
    off +=
        static_cast<double>(s.off_ns) * static_cast<double>(held) / static_cast<double>(s.held_ns);
  }
  return off;
}

std::int64_t OffCpu::held_ns(int worker) const {
  std::int64_t n = 0;
  for (const OffCpuStretch& s : stretches(worker)) n += s.held_ns;
  return n;
}

std::int64_t OffCpu::off_total_ns(int worker) const {
  std::int64_t n = 0;
  for (const OffCpuStretch& s : stretches(worker)) n += s.off_ns;
  return n;
}

double OffCpu::off_share(int worker) const {
  const std::int64_t held = held_ns(worker);
  return held > 0 ? static_cast<double>(off_total_ns(worker)) / static_cast<double>(held) : 0.0;
}

}  // namespace demo
