// spare_threads.cpp: SpareThreads (see spare_threads.hpp).
#include "corun/sched/spare_threads.hpp"

#include <pthread.h>

#include <string>
#include <system_error>

#include "corun/os/futex.hpp"
#include "corun/sched/scheduler.hpp"

namespace corun::detail {

Machine& SpareThreads::add() {
  std::lock_guard<std::mutex> lk(mu_);
  all_.push_back(std::make_unique<Machine>());
  return *all_.back();
}

Machine* SpareThreads::take() noexcept {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_) return nullptr;
    if (Machine* m = spares_) {
      spares_ = m->next_spare;
      return m;
    }
  }
  try {
    Machine& m = add();
    m.reserved = true;  // before its thread starts: it must not list itself
    const std::size_t n = [&] {
      std::lock_guard<std::mutex> lk(mu_);
      return ++started_;
    }();
    m.thread = std::thread([this, &m, n] {
      const std::string name = "corun-m" + std::to_string(n);  // for ps, top, debuggers
      pthread_setname_np(pthread_self(), name.c_str());
      sched_.machine_init(m);
      sched_.worker_main(m);
    });
    return &m;
  } catch (...) {  // std::system_error (no more threads), std::bad_alloc
    return nullptr;
  }
}

void SpareThreads::give(Machine& m, Worker* w) noexcept {
  m.handed = w;
  m.wake_word.store(1, std::memory_order_release);
  futex_wake(m.wake_word);
}

Worker* SpareThreads::park(Machine& m) noexcept {
  for (;;) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (stopping_) return nullptr;
      if (m.reserved) {
        m.reserved = false;  // the monitor holds it: wait for its give()
      } else {
        m.next_spare = spares_;
        spares_ = &m;
      }
    }
    while (m.wake_word.load(std::memory_order_acquire) == 0) futex_wait(m.wake_word, 0, -1);
    m.wake_word.store(0, std::memory_order_relaxed);
    if (Worker* w = m.handed) {
      m.handed = nullptr;
      return w;
    }
    // Given nothing: the monitor's hand-off lost to the call's return, or
    // the runtime stops (seen above).
  }
}

void SpareThreads::stop() noexcept {
  std::vector<Machine*> started;
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
    for (Machine* m = spares_; m != nullptr; m = m->next_spare) give(*m, nullptr);
    spares_ = nullptr;
    for (auto& m : all_) {
      if (m->thread.joinable()) started.push_back(m.get());
    }
  }
  for (Machine* m : started) m->thread.join();
}

std::size_t SpareThreads::threads() const {
  std::lock_guard<std::mutex> lk(mu_);
  return started_;
}

}  // namespace corun::detail
