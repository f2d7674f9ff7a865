#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace sre::server {

/// One thread that runs slow jobs (a bcrypt check) off the server threads, so that one slow
/// request never holds up the connections served beside it. Bounded: a full queue refuses.
/// Thread-safe; the destructor waits for the running job and drops the ones still queued,
/// calling their `drop` instead.
class WorkQueue {
 public:
  explicit WorkQueue(size_t capacity) : capacity_(capacity) {}
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;
  ~WorkQueue();

  /// Queues `run`; false (and nothing queued) when `capacity` jobs are waiting already. `drop`
  /// is called instead of `run` if the queue is destroyed first. The thread starts with the
  /// first job.
  bool Submit(std::function<void()> run, std::function<void()> drop);

 private:
  struct Job {
    std::function<void()> run;
    std::function<void()> drop;
  };
  void Work();

  const size_t capacity_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;   // guarded by mutex_
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;     // started by the first Submit, under mutex_
};

}  // namespace sre::server
