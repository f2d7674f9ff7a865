#pragma once

#include <utility>

namespace sre {

/// Calls `callback` (a std::function member: a run's `done_`) once with `args`. It is moved out
/// and the member emptied first, so the callee may start the next run (arming the member again)
/// or destroy the owner; an empty callback (cancelled) is not called.
template <typename Callback, typename... Args>
void CallOnce(Callback& callback, Args&&... args) {
  Callback taken = std::move(callback);
  callback = nullptr;
  if (taken) taken(std::forward<Args>(args)...);
}

}  // namespace sre
