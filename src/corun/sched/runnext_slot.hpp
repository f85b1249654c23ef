// runnext_slot.hpp: RunnextSlot, a worker's `runnext` (Go's p.runnext): the
// one coroutine that runs next on that worker, ahead of its ring.
//
// Only the owning worker puts and takes (swap); a thief takes only from a
// worker that has kept running one coroutine through its grace (steal),
// which is rare. So the owner swaps with a plain load and store, saving the
// locked exchange on both sides of every hand-off (a fifth of a channel
// ping-pong's round trip), unless a thief has announced itself: the owner
// marks its plain section (`owner_writing_`) and then looks for thieves; a
// thief announces itself (`thieves_`), runs the heavy side of an asymmetric
// fence and waits the section out before its compare-and-swap. Either the
// owner sees the thief and exchanges, or the thief sees the section (or
// everything it did). With one worker there are no thieves at all, and no
// section either. Other threads may read the slot (any_work_visible): it
// stays an atomic.
//
// Fields: `slot_` is written by the owner (swap) and by thieves (steal's
// CAS), read by anyone; `thieves_` is written by thieves, read by the
// owner; `owner_writing_` is written by the owner, waited out by thieves;
// `mode_` is set before the worker's thread starts and then only read.
#pragma once

#include <atomic>
#include <cstdint>

#include "corun/os/asymmetric_fence.hpp"
#include "corun/os/plain_section.hpp"

namespace corun::detail {

struct Coroutine;

class RunnextSlot {
 public:
  enum class Mode : std::uint8_t {
    kUnshared,  // the only worker: no thieves
    kFenced,    // plain swaps, thieves pay for the asymmetric fence
    kLocked,    // no asymmetric fence here: every swap exchanges
  };

  void set_mode(Mode mode) noexcept { mode_ = mode; }

  // peek(): what the slot holds, for the owner's look before a swap (a
  // thief may empty it meanwhile: swap() tells).
  Coroutine* peek() const noexcept { return slot_.load(std::memory_order_relaxed); }
  // occupied(): a snapshot for other threads (sequentially consistent: the
  // re-checks of the scheduler's I3).
  bool occupied() const noexcept { return slot_.load(std::memory_order_seq_cst) != nullptr; }
  // load_acquire(): a thief's look at what it might take.
  Coroutine* load_acquire() const noexcept { return slot_.load(std::memory_order_acquire); }

  // swap() puts g (or null) in the slot and returns what was there (owner
  // only). `widen` runs between the plain load and store, where thieves
  // race: the chaos mode delays there.
  template <class Widen>
  Coroutine* swap(Coroutine* g, Widen&& widen) noexcept {
    if (mode_ == Mode::kUnshared) {
      Coroutine* old = slot_.load(std::memory_order_relaxed);
      slot_.store(g, std::memory_order_release);
      return old;
    }
    if (mode_ == Mode::kFenced) {
      owner_writing_.enter();
      // Acquire: a thief that has come and gone took its coroutine with its
      // CAS first.
      if (thieves_.load(std::memory_order_acquire) == 0) {
        Coroutine* old = slot_.load(std::memory_order_relaxed);
        widen();
        slot_.store(g, std::memory_order_release);
        owner_writing_.leave();
        return old;
      }
      owner_writing_.leave();
    }
    return slot_.exchange(g, std::memory_order_seq_cst);
  }

  // steal() takes g from the slot if it is still there (a thief).
  Coroutine* steal(Coroutine* g) noexcept {
    if (slot_.load(std::memory_order_relaxed) != g) return nullptr;  // spare the fence
    const bool fenced = mode_ == Mode::kFenced;
    if (fenced) {
      thieves_.fetch_add(1, std::memory_order_seq_cst);
      asymmetric_fence::heavy();
      owner_writing_.wait_out();
    }
    const bool taken = slot_.compare_exchange_strong(g, nullptr, std::memory_order_acq_rel);
    if (fenced) thieves_.fetch_sub(1, std::memory_order_release);
    return taken ? g : nullptr;
  }

 private:
  std::atomic<Coroutine*> slot_{nullptr};
  // Thieves announce themselves here before taking; until one does, the
  // owner swaps with plain instructions.
  std::atomic<std::uint32_t> thieves_{0};
  // The owner's plain swap, against thieves (see above).
  PlainSection owner_writing_;
  Mode mode_ = Mode::kLocked;
};

}  // namespace corun::detail
