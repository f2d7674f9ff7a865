#include "agent/net/event_loop.h"

#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace sre::net {
namespace {

uint64_t PackData(int fd, uint32_t generation) {
  return (static_cast<uint64_t>(generation) << 32) | static_cast<uint32_t>(fd);
}

}  // namespace

EventLoop::EventLoop(const Clock& clock) : clock_(clock) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    // Only fails when the process is out of descriptors at start-up: nothing can run then.
    throw std::runtime_error(fmt::format("event loop set-up failed: {}", std::strerror(errno)));
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = PackData(wake_fd_, 0);
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event);
}

EventLoop::~EventLoop() {
  close(wake_fd_);
  close(epoll_fd_);
}

Status EventLoop::Watch(int fd, uint32_t events, IoHandler handler) {
  auto it = watches_.find(fd);
  const bool existing = it != watches_.end();
  const uint32_t generation = next_generation_++;
  epoll_event event{};
  event.events = events;
  event.data.u64 = PackData(fd, generation);
  if (epoll_ctl(epoll_fd_, existing ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &event) != 0) {
    return Status::Error(fmt::format("epoll_ctl({}): {}", fd, std::strerror(errno)));
  }
  watches_[fd] = Watch_{generation, std::move(handler)};
  return Status::Ok();
}

Status EventLoop::SetEvents(int fd, uint32_t events) {
  auto it = watches_.find(fd);
  if (it == watches_.end()) return Status::Error(fmt::format("fd {} is not watched", fd));
  epoll_event event{};
  event.events = events;
  event.data.u64 = PackData(fd, it->second.generation);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event) != 0) {
    return Status::Error(fmt::format("epoll_ctl({}): {}", fd, std::strerror(errno)));
  }
  return Status::Ok();
}

void EventLoop::Unwatch(int fd) {
  if (watches_.erase(fd) > 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::UnwatchAndClose(int fd) {
  watches_.erase(fd);
  close(fd);
}

EventLoop::TimerId EventLoop::AddTimer(TimePoint when, std::function<void()> fn) {
  const TimerId id = next_timer_id_++;
  timers_.emplace(id, std::move(fn));
  timer_queue_.emplace(when, id);
  return id;
}

void EventLoop::CancelTimer(TimerId id) { timers_.erase(id); }

void EventLoop::Post(std::function<void()> fn) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(fn));
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

void EventLoop::Stop() {
  {
    std::lock_guard lock(posted_mutex_);
    stop_requested_ = true;
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

void EventLoop::Run() {
  for (;;) {
    {
      std::lock_guard lock(posted_mutex_);
      if (stop_requested_) {
        stop_requested_ = false;
        return;
      }
    }
    RunOnce(std::chrono::seconds(1));
  }
}

void EventLoop::RunOnce(Duration max_wait) {
  // Drop cancelled timers from the top so they do not shorten the wait.
  while (!timer_queue_.empty() && !timers_.contains(timer_queue_.top().second)) timer_queue_.pop();
  Duration wait = max_wait;
  if (!timer_queue_.empty()) wait = std::min(wait, timer_queue_.top().first - clock_.Now());
  // Round up to whole milliseconds so a timer never fires early and the loop never spins.
  const auto wait_ms = std::chrono::ceil<std::chrono::milliseconds>(std::max(wait, Duration(0)));

  epoll_event events[256];
  const int n = epoll_wait(epoll_fd_, events, 256, static_cast<int>(wait_ms.count()));
  for (int i = 0; i < n; ++i) {
    const int fd = static_cast<int>(events[i].data.u64 & 0xffffffffu);
    const auto generation = static_cast<uint32_t>(events[i].data.u64 >> 32);
    if (fd == wake_fd_) {
      uint64_t count;
      [[maybe_unused]] ssize_t r = read(wake_fd_, &count, sizeof count);
      continue;
    }
    auto it = watches_.find(fd);
    // A handler earlier in this batch may have removed or replaced this watch.
    if (it == watches_.end() || it->second.generation != generation) continue;
    IoHandler handler = it->second.handler;  // copy: the handler may unwatch itself
    handler(events[i].events);
  }
  RunPosted();
  RunDueTimers();
}

void EventLoop::RunPosted() {
  std::vector<std::function<void()>> work;
  {
    std::lock_guard lock(posted_mutex_);
    work.swap(posted_);
  }
  for (auto& fn : work) fn();
}

void EventLoop::RunDueTimers() {
  const TimePoint now = clock_.Now();
  // Timers added by the callbacks below wait for the next iteration, as documented; otherwise a
  // callback re-arming itself with a zero delay never lets RunOnce return (with a FakeClock).
  const TimerId first_added_here = next_timer_id_;
  std::vector<TimerKey> added_here;
  while (!timer_queue_.empty() && timer_queue_.top().first <= now) {
    const TimerKey key = timer_queue_.top();
    timer_queue_.pop();
    if (key.second >= first_added_here) {
      added_here.push_back(key);
      continue;
    }
    auto it = timers_.find(key.second);
    if (it == timers_.end()) continue;
    std::function<void()> fn = std::move(it->second);
    timers_.erase(it);
    fn();
  }
  for (const TimerKey& key : added_here) timer_queue_.push(key);
}

}  // namespace sre::net
