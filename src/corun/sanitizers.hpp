// sanitizers.hpp: fiber annotations for AddressSanitizer and ThreadSanitizer.
// Without them both report nonsense once stacks switch under their feet.
// Every function compiles to nothing in a build without sanitizers.
#pragma once

#include <cstddef>

#if defined(CORUN_SANITIZE_ADDRESS)
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(CORUN_SANITIZE_THREAD)
#include <sanitizer/tsan_interface.h>
#endif

namespace corun::detail::sanitizer {

// Before a switch: `fake_stack_save` is null when the stack being left dies.
inline void start_switch(void** fake_stack_save, const void* to_bottom, std::size_t to_size,
                         void* to_tsan_fiber) noexcept {
#if defined(CORUN_SANITIZE_ADDRESS)
  __sanitizer_start_switch_fiber(fake_stack_save, to_bottom, to_size);
#else
  (void)fake_stack_save, (void)to_bottom, (void)to_size;
#endif
#if defined(CORUN_SANITIZE_THREAD)
  __tsan_switch_to_fiber(to_tsan_fiber, 0);
#else
  (void)to_tsan_fiber;
#endif
}

// After a switch, on the stack switched to.
inline void finish_switch(void* fake_stack_save) noexcept {
#if defined(CORUN_SANITIZE_ADDRESS)
  __sanitizer_finish_switch_fiber(fake_stack_save, nullptr, nullptr);
#else
  (void)fake_stack_save;
#endif
}

inline void* create_fiber() noexcept {
#if defined(CORUN_SANITIZE_THREAD)
  return __tsan_create_fiber(0);
#else
  return nullptr;
#endif
}

inline void* current_fiber() noexcept {
#if defined(CORUN_SANITIZE_THREAD)
  return __tsan_get_current_fiber();
#else
  return nullptr;
#endif
}

inline void destroy_fiber(void* fiber) noexcept {
#if defined(CORUN_SANITIZE_THREAD)
  if (fiber != nullptr) __tsan_destroy_fiber(fiber);
#else
  (void)fiber;
#endif
}

}  // namespace corun::detail::sanitizer
