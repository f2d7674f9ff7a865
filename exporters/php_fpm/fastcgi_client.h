#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/base/clock.h"
#include "agent/core/reason.h"
#include "agent/net/event_loop.h"
#include "agent/net/ip_address.h"
#include "exporters/php_fpm/fastcgi.h"

namespace sre::exporters::php_fpm {

/// Where a pool listens: a unix socket path, or an address and port.
struct FastCgiEndpoint {
  std::string unix_path;  ///< non-empty: a unix socket
  net::IpAddress address;
  uint16_t port = 0;

  std::string ToString() const;
};

/// What one FastCGI request came to.
struct FastCgiResult {
  Reason reason = Reason::kNone;  ///< kNone: a whole response arrived and parsed
  std::string message;
  int status = 0;  ///< from the CGI `Status:` header (200 when absent)
  std::string body;
  std::string stderr_text;  ///< what php-fpm logged for the request, if anything
  Duration elapsed{0};
};

/// One FastCGI request on the event loop: a non-blocking connect (unix or TCP), the request
/// written as the socket accepts it, the answer decoded as it arrives, all by `deadline`.
/// php-fpm answers one request per connection (no keep-alive), so each request has its own.
/// Destroying the client cancels it without calling `done`. Loop-thread only.
class FastCgiClient {
 public:
  using Done = std::function<void(FastCgiResult)>;

  /// Starts the request; `done` runs once, on the loop, never from inside Start.
  static std::unique_ptr<FastCgiClient> Start(net::EventLoop& loop, const FastCgiEndpoint& endpoint,
                                              const Params& params, TimePoint deadline,
                                              ResponseLimits limits, Done done);
  ~FastCgiClient();
  FastCgiClient(const FastCgiClient&) = delete;
  FastCgiClient& operator=(const FastCgiClient&) = delete;

 private:
  FastCgiClient(net::EventLoop& loop, std::string request, ResponseLimits limits, Done done);
  void Connect(const FastCgiEndpoint& endpoint, TimePoint deadline);
  void OnEvents(uint32_t events);
  void Write();
  void Read();
  void Fail(Reason reason, std::string message);
  void FailLater(Reason reason, std::string message);
  void Finish(FastCgiResult result);
  void Close();

  net::EventLoop& loop_;
  const std::string request_;
  size_t written_ = 0;
  ResponseDecoder decoder_;
  Done done_;
  TimePoint started_;
  int fd_ = -1;
  net::EventLoop::TimerId deadline_timer_ = 0;
  std::string where_;  // for messages: "unix:/run/php/fpm.sock", "127.0.0.1:9000"
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // for tasks posted to the loop
};

}  // namespace sre::exporters::php_fpm
