// off_cpu.cpp: see off_cpu.hpp.
#include "demo/render/off_cpu.hpp"

#include <algorithm>

namespace demo {

namespace {

std::int64_t overlap(std::int64_t a0, std::int64_t a1, std::int64_t b0, std::int64_t b1) {
  return std::max<std::int64_t>(0, std::min(a1, b1) - std::max(a0, b0));
}

}  // namespace

OffCpu::OffCpu(const std::vector<RunSlice>& slices, const std::vector<CpuSample>& samples,
               int procs)
    : by_worker_(static_cast<std::size_t>(std::max(procs, 0))) {
  std::vector<std::vector<CpuSample>> per(by_worker_.size());
  for (const CpuSample& s : samples) {
    if (s.worker >= 0 && s.worker < procs) per[static_cast<std::size_t>(s.worker)].push_back(s);
  }
  std::vector<std::vector<const RunSlice*>> runs(by_worker_.size());
  for (const RunSlice& r : slices) {
    if (r.worker >= 0 && r.worker < procs) runs[static_cast<std::size_t>(r.worker)].push_back(&r);
  }
  for (std::size_t w = 0; w < per.size(); ++w) {
    std::vector<CpuSample>& ss = per[w];
    std::sort(ss.begin(), ss.end(),
              [](const CpuSample& a, const CpuSample& b) { return a.time_ns < b.time_ns; });
    std::size_t first_run = 0;  // runs (in start order) that end before the stretch are done
    for (std::size_t i = 0; i + 1 < ss.size(); ++i) {
      OffCpuStretch st{.start_ns = ss[i].time_ns, .end_ns = ss[i + 1].time_ns};
      if (st.end_ns <= st.start_ns) continue;
      while (first_run < runs[w].size() && runs[w][first_run]->end_ns <= st.start_ns) ++first_run;
      for (std::size_t r = first_run; r < runs[w].size() && runs[w][r]->start_ns < st.end_ns; ++r) {
        st.held_ns += overlap(runs[w][r]->start_ns, runs[w][r]->end_ns, st.start_ns, st.end_ns);
      }
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

double OffCpu::off_ns(int worker, std::int64_t from_ns, std::int64_t to_ns) const {
  double off = 0;
  for (const OffCpuStretch& s : stretches(worker)) {
    if (s.start_ns >= to_ns) break;
    const std::int64_t o = overlap(s.start_ns, s.end_ns, from_ns, to_ns);
    if (o > 0 && s.off_ns > 0) {
      off += static_cast<double>(s.off_ns) * static_cast<double>(o) /
             static_cast<double>(s.end_ns - s.start_ns);
    }
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
