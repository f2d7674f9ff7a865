#include "agent/server/work_queue.h"

#include <utility>

namespace sre::server {

WorkQueue::~WorkQueue() {
  std::deque<Job> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(jobs_);
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (Job& job : dropped) job.drop();
}

bool WorkQueue::Submit(std::function<void()> run, std::function<void()> drop) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || jobs_.size() >= capacity_) return false;
    jobs_.push_back({std::move(run), std::move(drop)});
    if (!thread_.joinable()) thread_ = std::thread(&WorkQueue::Work, this);
  }
  wake_.notify_one();
  return true;
}

void WorkQueue::Work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (stopping_) return;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job.run();
    lock.lock();
  }
}

}  // namespace sre::server
