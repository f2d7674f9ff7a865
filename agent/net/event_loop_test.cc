#include "agent/net/event_loop.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

namespace sre::net {
namespace {

using std::chrono::milliseconds;

class Pipe {
 public:
  Pipe() { EXPECT_EQ(pipe2(fds_, O_NONBLOCK | O_CLOEXEC), 0); }
  ~Pipe() {
    close(fds_[0]);
    close(fds_[1]);
  }
  int read_end() const { return fds_[0]; }
  void Write() const { ASSERT_EQ(write(fds_[1], "x", 1), 1); }

 private:
  int fds_[2] = {-1, -1};
};

TEST(EventLoopTest, TimersRunInDeadlineOrderThenInsertionOrder) {
  FakeClock clock;
  EventLoop loop(clock);
  std::vector<int> order;
  loop.AddTimerAfter(milliseconds(30), [&] { order.push_back(30); });
  loop.AddTimerAfter(milliseconds(10), [&] { order.push_back(10); });
  loop.AddTimerAfter(milliseconds(20), [&] { order.push_back(20); });
  loop.AddTimerAfter(milliseconds(10), [&] { order.push_back(11); });

  loop.RunOnce(Duration(0));
  EXPECT_TRUE(order.empty());  // nothing due yet
  clock.Advance(milliseconds(15));
  loop.RunOnce(Duration(0));
  EXPECT_EQ(order, (std::vector<int>{10, 11}));
  clock.Advance(milliseconds(15));
  loop.RunOnce(Duration(0));
  EXPECT_EQ(order, (std::vector<int>{10, 11, 20, 30}));
  EXPECT_EQ(loop.timer_count(), 0u);
}

TEST(EventLoopTest, CancelledTimersNeverRun) {
  FakeClock clock;
  EventLoop loop(clock);
  std::vector<int> ran;
  const EventLoop::TimerId cancelled =
      loop.AddTimerAfter(milliseconds(5), [&] { ran.push_back(1); });
  EventLoop::TimerId cancelled_by_peer = 0;
  loop.AddTimerAfter(milliseconds(5), [&] {
    ran.push_back(2);
    loop.CancelTimer(cancelled_by_peer);  // due in the same pass, cancelled before it runs
  });
  cancelled_by_peer = loop.AddTimerAfter(milliseconds(5), [&] { ran.push_back(3); });
  loop.CancelTimer(cancelled);
  loop.CancelTimer(cancelled);  // twice: no-op
  clock.Advance(milliseconds(10));
  loop.RunOnce(Duration(0));
  EXPECT_EQ(ran, std::vector<int>{2});
  loop.CancelTimer(cancelled_by_peer);  // already gone: no-op
  EXPECT_EQ(loop.timer_count(), 0u);
}

TEST(EventLoopTest, TimerAddedWhileDueRunsOnTheNextIteration) {
  FakeClock clock;
  EventLoop loop(clock);
  int runs = 0;
  std::function<void()> rearm = [&] {
    if (++runs < 1000) loop.AddTimerAfter(Duration(0), rearm);
  };
  loop.AddTimerAfter(Duration(0), rearm);
  loop.RunOnce(Duration(0));
  EXPECT_EQ(runs, 1);  // not 1000: a timer re-arming itself must not spin inside one RunOnce
  loop.RunOnce(Duration(0));
  EXPECT_EQ(runs, 2);
}

TEST(EventLoopTest, RunOnceWaitsForTheNextTimerOnly) {
  SystemClock clock;
  EventLoop loop(clock);
  bool fired = false;
  loop.AddTimerAfter(milliseconds(20), [&] { fired = true; });
  const TimePoint start = clock.Now();
  while (!fired) loop.RunOnce(std::chrono::seconds(5));
  const Duration waited = clock.Now() - start;
  EXPECT_GE(waited, milliseconds(20));         // never early
  EXPECT_LT(waited, std::chrono::seconds(4));  // woken by the timer, not by max_wait
}

TEST(EventLoopTest, PostFromAnotherThreadRunsOnTheLoopThreadInOrder) {
  SystemClock clock;
  EventLoop loop(clock);
  std::vector<int> seen;
  std::atomic<bool> wrong_thread{false};
  const std::thread::id loop_thread = std::this_thread::get_id();
  std::thread poster([&] {
    for (int i = 0; i < 100; ++i) {
      loop.Post([&, i] {
        if (std::this_thread::get_id() != loop_thread) wrong_thread = true;
        seen.push_back(i);
      });
    }
    loop.Post([&] { loop.Stop(); });
  });
  loop.Run();  // returns once the last posted item stops it
  poster.join();
  EXPECT_FALSE(wrong_thread);
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i);
}

TEST(EventLoopTest, StopFromAnotherThreadWakesABlockedRun) {
  SystemClock clock;
  EventLoop loop(clock);
  std::atomic<bool> running{false};
  loop.Post([&] { running = true; });
  std::thread stopper([&] {
    while (!running) std::this_thread::yield();
    loop.Stop();
  });
  const TimePoint start = clock.Now();
  loop.Run();  // would block ~1 s per iteration without the wake-up
  stopper.join();
  EXPECT_LT(clock.Now() - start, std::chrono::milliseconds(900));
}

TEST(EventLoopTest, StopBeforeRunReturnsAtOnce) {
  SystemClock clock;
  EventLoop loop(clock);
  loop.Stop();
  loop.Run();
  SUCCEED();
}

TEST(EventLoopTest, WatchReportsReadinessAndUnwatchInsideAHandlerSilencesOthers) {
  SystemClock clock;
  EventLoop loop(clock);
  Pipe a;
  Pipe b;
  a.Write();
  b.Write();
  int a_calls = 0;
  int b_calls = 0;
  // Whichever runs first unwatches both; the other, ready in the same epoll batch, must not run.
  auto unwatch_both = [&] {
    loop.Unwatch(a.read_end());
    loop.Unwatch(b.read_end());
  };
  ASSERT_TRUE(loop.Watch(a.read_end(), EPOLLIN,
                         [&](uint32_t events) {
                           EXPECT_TRUE(events & EPOLLIN);
                           ++a_calls;
                           unwatch_both();
                         })
                  .ok());
  ASSERT_TRUE(loop.Watch(b.read_end(), EPOLLIN,
                         [&](uint32_t) {
                           ++b_calls;
                           unwatch_both();
                         })
                  .ok());
  EXPECT_EQ(loop.watch_count(), 2u);
  loop.RunOnce(milliseconds(100));
  EXPECT_EQ(a_calls + b_calls, 1);
  EXPECT_EQ(loop.watch_count(), 0u);
  loop.RunOnce(Duration(0));  // still readable, no longer watched
  EXPECT_EQ(a_calls + b_calls, 1);
}

TEST(EventLoopTest, HandlerMayReplaceItsOwnWatch) {
  SystemClock clock;
  EventLoop loop(clock);
  Pipe a;
  a.Write();
  std::vector<int> calls;
  ASSERT_TRUE(loop.Watch(a.read_end(), EPOLLIN,
                         [&](uint32_t) {
                           calls.push_back(1);
                           // Replacing destroys the running std::function's original; the loop runs
                           // a copy.
                           ASSERT_TRUE(loop.Watch(a.read_end(), EPOLLIN,
                                                  [&](uint32_t) {
                                                    calls.push_back(2);
                                                    loop.Unwatch(a.read_end());
                                                  })
                                           .ok());
                         })
                  .ok());
  loop.RunOnce(milliseconds(100));
  loop.RunOnce(milliseconds(100));
  EXPECT_EQ(calls, (std::vector<int>{1, 2}));
  EXPECT_EQ(loop.watch_count(), 0u);
}

TEST(EventLoopTest, UnwatchAndCloseLetsTheNumberBeWatchedAgain) {
  FakeClock clock;
  EventLoop loop(clock);
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  ASSERT_TRUE(loop.Watch(fds[0], EPOLLIN, [](uint32_t) {}).ok());
  loop.UnwatchAndClose(fds[0]);
  EXPECT_EQ(loop.watch_count(), 0u);
  // The kernel reuses the lowest free number: the new pipe gets the closed one back, and epoll
  // no longer holds it, so a fresh watch (EPOLL_CTL_ADD) works.
  int again[2];
  ASSERT_EQ(pipe2(again, O_NONBLOCK | O_CLOEXEC), 0);
  ASSERT_EQ(again[0], fds[0]);
  int calls = 0;
  ASSERT_TRUE(loop.Watch(again[0], EPOLLIN, [&](uint32_t) { ++calls; }).ok());
  ASSERT_EQ(write(again[1], "x", 1), 1);
  loop.RunOnce(Duration(0));
  EXPECT_EQ(calls, 1);
  loop.Unwatch(again[0]);
  close(again[0]);
  close(again[1]);
  close(fds[1]);
}

TEST(EventLoopTest, SetEventsNeedsAWatch) {
  SystemClock clock;
  EventLoop loop(clock);
  Pipe a;
  EXPECT_FALSE(loop.SetEvents(a.read_end(), EPOLLIN).ok());
  ASSERT_TRUE(loop.Watch(a.read_end(), EPOLLIN, [](uint32_t) {}).ok());
  EXPECT_TRUE(loop.SetEvents(a.read_end(), EPOLLIN | EPOLLRDHUP).ok());
  loop.Unwatch(a.read_end());
  loop.Unwatch(a.read_end());  // no-op
  EXPECT_EQ(loop.watch_count(), 0u);
}

}  // namespace
}  // namespace sre::net
