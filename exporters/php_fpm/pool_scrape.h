#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "agent/base/clock.h"
#include "agent/core/reason.h"
#include "agent/net/dns_resolver.h"
#include "agent/net/event_loop.h"
#include "exporters/php_fpm/fastcgi_client.h"
#include "exporters/php_fpm/scrape_uri.h"
#include "exporters/php_fpm/status.h"

namespace sre::exporters::php_fpm {

/// What reading one pool's status came to.
struct PoolScrapeResult {
  Reason reason = Reason::kNone;
  std::string message;               ///< why it failed, or "status 200"
  std::optional<PoolStatus> status;  ///< set exactly when reason is kNone
  Duration elapsed{0};
  int attempts = 0;  ///< FastCGI requests sent: more than one after a locked scoreboard
};

/// Reads one pool's `json&full` status page by a deadline: resolves a tcp:// host, sends the
/// FastCGI request, and parses the JSON. When another status request holds the pool's
/// scoreboard, php-fpm 8.2 answers "500 Internal error" ("scoreboard: failed to lock" in its
/// log; about 1 in 1,000 requests with 10 concurrent readers here) and older versions "503 Server
/// busy": both are retried with doubling pauses (from kFirstRetryPause) as long as a new try
/// could still finish before the deadline. Any other status is a failure whose message says what
/// to fix. Destroying it cancels without calling
/// `done`. Loop-thread only.
class PoolScrape {
 public:
  using Done = std::function<void(PoolScrapeResult)>;
  static constexpr Duration kFirstRetryPause = std::chrono::milliseconds(20);

  /// Starts the scrape; `done` runs once, on the loop, never from inside Start.
  static std::unique_ptr<PoolScrape> Start(net::EventLoop& loop, net::DnsResolver& resolver,
                                           const ScrapeUri& uri, TimePoint deadline, Done done);
  ~PoolScrape();
  PoolScrape(const PoolScrape&) = delete;
  PoolScrape& operator=(const PoolScrape&) = delete;

 private:
  PoolScrape(net::EventLoop& loop, net::DnsResolver& resolver, const ScrapeUri& uri,
             TimePoint deadline, Done done);
  void Begin();
  void Request();
  void OnAnswer(FastCgiResult answer);
  void Finish(Reason reason, std::string message, std::optional<PoolStatus> status = {});

  net::EventLoop& loop_;
  net::DnsResolver& resolver_;
  const ScrapeUri uri_;
  const TimePoint deadline_;
  Done done_;
  TimePoint started_;
  FastCgiEndpoint endpoint_;
  net::DnsResolver::RequestId dns_request_ = 0;
  std::unique_ptr<FastCgiClient> client_;
  net::EventLoop::TimerId retry_timer_ = 0;
  Duration pause_ = kFirstRetryPause;
  int attempts_ = 0;
};

}  // namespace sre::exporters::php_fpm
