#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <queue>
#include <unordered_map>
#include <vector>

#include "agent/base/clock.h"
#include "agent/base/status.h"

namespace sre::net {

/// The agent's single I/O thread: epoll for file descriptors, a timer queue, and a thread-safe
/// Post for work handed over from other threads. Every method except Post and Stop must be called
/// on the thread that runs the loop (or before it starts). Handlers may add and remove watches and
/// timers, including their own, while being called.
class EventLoop {
 public:
  using IoHandler = std::function<void(uint32_t epoll_events)>;
  using TimerId = uint64_t;

  explicit EventLoop(const Clock& clock);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  const Clock& clock() const { return clock_; }

  /// Starts (or replaces) the watch on `fd` for `events` (EPOLLIN, EPOLLOUT...).
  Status Watch(int fd, uint32_t events, IoHandler handler);
  /// Changes the events of an existing watch.
  Status SetEvents(int fd, uint32_t events);
  /// Stops watching `fd`; call before closing it. No-op when not watched.
  void Unwatch(int fd);
  /// Stops watching `fd` and closes it, in one syscall: closing the last descriptor of a socket
  /// removes it from epoll. Only for descriptors never duplicated (dup, fork).
  void UnwatchAndClose(int fd);

  /// Calls `fn` once at `when` (or on the next iteration when already due).
  TimerId AddTimer(TimePoint when, std::function<void()> fn);
  TimerId AddTimerAfter(Duration delay, std::function<void()> fn) {
    return AddTimer(clock_.Now() + delay, std::move(fn));
  }
  /// Cancels a pending timer; no-op when it already ran or was cancelled.
  void CancelTimer(TimerId id);

  /// Runs `fn` on the loop thread soon. Thread-safe.
  void Post(std::function<void()> fn);

  /// Runs until Stop(). Thread-safe Stop() may come from any thread or handler.
  void Run();
  void Stop();

  /// One iteration: waits up to `max_wait` (less when a timer is due sooner) for I/O, then runs
  /// ready handlers, posted work and due timers. Tests with a FakeClock call it with zero wait.
  void RunOnce(Duration max_wait);

  size_t watch_count() const { return watches_.size(); }
  size_t timer_count() const { return timers_.size(); }

 private:
  struct Watch_ {
    uint32_t generation;
    IoHandler handler;
  };

  void RunDueTimers();
  void RunPosted();

  const Clock& clock_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd for Post and Stop
  uint32_t next_generation_ = 1;
  std::unordered_map<int, Watch_> watches_;

  TimerId next_timer_id_ = 1;
  using TimerKey = std::pair<TimePoint, TimerId>;
  std::priority_queue<TimerKey, std::vector<TimerKey>, std::greater<>> timer_queue_;
  std::unordered_map<TimerId, std::function<void()>> timers_;

  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  bool stop_requested_ = false;  // guarded by posted_mutex_
};

}  // namespace sre::net
