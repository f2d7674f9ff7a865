#include "exporters/php_fpm/pool_scrape.h"

#include <fmt/format.h>

#include "agent/base/callback.h"

namespace sre::exporters::php_fpm {
namespace {

// What php-fpm answers for a path that is neither its status nor ping path, in words an
// operator can act on.
std::string DescribeStatus(int status, const std::string& path, std::string_view body) {
  switch (status) {
    case 404:
      return fmt::format(
          "status 404: the pool has no status page at {} (set pm.status_path = {} in the pool)",
          path, path);
    case 403:
      return fmt::format("status 403: the pool refused {} (security.limit_extensions?)", path);
    case 500:
    case 503:
      return fmt::format(
          "status {}: the pool's scoreboard stayed locked by other status requests until the "
          "deadline",
          status);
    default:
      break;
  }
  const std::string_view first_line = body.substr(0, std::min(body.find('\n'), size_t{200}));
  return fmt::format("status {}: {}", status, first_line);
}

}  // namespace

std::unique_ptr<PoolScrape> PoolScrape::Start(net::EventLoop& loop, net::DnsResolver& resolver,
                                              const ScrapeUri& uri, TimePoint deadline, Done done) {
  std::unique_ptr<PoolScrape> scrape(
      new PoolScrape(loop, resolver, uri, deadline, std::move(done)));
  scrape->Begin();
  return scrape;
}

PoolScrape::PoolScrape(net::EventLoop& loop, net::DnsResolver& resolver, const ScrapeUri& uri,
                       TimePoint deadline, Done done)
    : loop_(loop),
      resolver_(resolver),
      uri_(uri),
      deadline_(deadline),
      done_(std::move(done)),
      started_(loop.clock().Now()) {}

PoolScrape::~PoolScrape() {
  if (dns_request_ != 0) resolver_.Cancel(dns_request_);
  loop_.CancelTimer(retry_timer_);
}

void PoolScrape::Begin() {
  if (!uri_.unix_path.empty()) {
    endpoint_.unix_path = uri_.unix_path;
    Request();  // the client reports even an immediate failure from the loop
    return;
  }
  endpoint_.port = uri_.port;
  dns_request_ = resolver_.Resolve(
      uri_.host, net::IpFamily::kIp4, deadline_, [this](net::Resolution resolution) {
        dns_request_ = 0;
        if (resolution.addresses.empty()) {
          Finish(Reason::kDnsError,
                 fmt::format("resolving {}: {}", uri_.host,
                             resolution.error.empty() ? "no addresses" : resolution.error));
          return;
        }
        endpoint_.address = resolution.addresses.front();
        Request();
      });
}

void PoolScrape::Request() {
  ++attempts_;
  const Params params = {{"SCRIPT_NAME", uri_.status_path},
                         {"SCRIPT_FILENAME", uri_.status_path},
                         {"REQUEST_METHOD", "GET"},
                         {"QUERY_STRING", "json&full"}};
  client_ = FastCgiClient::Start(loop_, endpoint_, params, deadline_, ResponseLimits(),
                                 [this](FastCgiResult answer) { OnAnswer(std::move(answer)); });
}

void PoolScrape::OnAnswer(FastCgiResult answer) {
  if (answer.reason != Reason::kNone) {
    Finish(answer.reason, std::move(answer.message));
    return;
  }
  if (answer.status == 500 || answer.status == 503) {
    // Worth another try only if it can still get an answer: allow it the pause again.
    const TimePoint retry_at = loop_.clock().Now() + pause_;
    if (retry_at + pause_ < deadline_) {
      retry_timer_ = loop_.AddTimer(retry_at, [this] {
        retry_timer_ = 0;
        Request();
      });
      pause_ *= 2;
      return;
    }
  }
  if (answer.status != 200) {
    Finish(Reason::kStatusMismatch, DescribeStatus(answer.status, uri_.status_path, answer.body));
    return;
  }
  auto status = ParsePoolStatus(answer.body);
  if (!status.ok()) {
    Finish(Reason::kProtocolError, "status page: " + status.status().message());
    return;
  }
  Finish(Reason::kNone, "status 200", std::move(status).value());
}

void PoolScrape::Finish(Reason reason, std::string message, std::optional<PoolStatus> status) {
  PoolScrapeResult result;
  result.reason = reason;
  result.message = std::move(message);
  result.status = std::move(status);
  result.elapsed = loop_.clock().Now() - started_;
  result.attempts = attempts_;
  if (attempts_ > 1) result.message += fmt::format(" (after {} tries)", attempts_);
  CallOnce(done_, std::move(result));
}

}  // namespace sre::exporters::php_fpm
