#pragma once

#include <functional>
#include <memory>
#include <string>

#include "agent/base/clock.h"
#include "agent/net/event_loop.h"
#include "exporters/postfix/showq.h"

namespace sre::exporters::postfix {

/// What reading the queue came to.
struct ShowqResult {
  Reason reason = Reason::kNone;  ///< kNone: the whole listing arrived and parsed
  std::string message;
  std::unique_ptr<ShowqParser> parser;  ///< the figures (also on failure: what arrived)
  uint64_t bytes = 0;
  Duration elapsed{0};
};

/// Reads Postfix's queue from its showq unix socket on the event loop: a non-blocking connect,
/// then every byte fed to a ShowqParser as it arrives, until the stream's end, by `deadline`
/// and within `max_bytes`. Nothing is sent: showq starts listing on connect. Destroying it
/// cancels without calling `done`. Loop-thread only.
class ShowqClient {
 public:
  using Done = std::function<void(ShowqResult)>;

  /// Starts reading; `done` runs once, on the loop, never from inside Start.
  static std::unique_ptr<ShowqClient> Start(net::EventLoop& loop, const std::string& path,
                                            TimePoint deadline, uint64_t max_bytes, Done done);
  ~ShowqClient();
  ShowqClient(const ShowqClient&) = delete;
  ShowqClient& operator=(const ShowqClient&) = delete;

 private:
  ShowqClient(net::EventLoop& loop, uint64_t max_bytes, Done done);
  void Connect(const std::string& path, TimePoint deadline);
  void OnEvents(uint32_t events);
  void Read();
  void Fail(Reason reason, std::string message);
  void FailLater(Reason reason, std::string message);
  void Finish(Reason reason, std::string message);
  void Close();

  net::EventLoop& loop_;
  const uint64_t max_bytes_;
  Done done_;
  TimePoint started_;
  std::unique_ptr<ShowqParser> parser_;
  uint64_t bytes_ = 0;
  bool connected_ = false;
  int fd_ = -1;
  net::EventLoop::TimerId deadline_timer_ = 0;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // for tasks posted to the loop
};

}  // namespace sre::exporters::postfix
