#pragma once

#include <curl/curl.h>

#include <functional>
#include <memory>
#include <string>

#include "agent/base/clock.h"
#include "agent/core/reason.h"
#include "agent/net/curl_multi.h"

namespace sre::exporters::fluentd {

/// What one GET of `/api/plugins.json` came to.
struct FetchResult {
  Reason reason = Reason::kNone;
  std::string message;  ///< why it failed, or "HTTP 200"
  long status = 0;      ///< HTTP status; 0 when no response came
  /// The body when reason is kNone; valid until the next Start.
  const std::string* body = nullptr;
  Duration elapsed{0};
};

/// GETs one monitor_agent URL on the shared libcurl multi (the event loop drives it): no
/// redirects, no connection kept between runs, the body capped at `body_limit` bytes (a longer
/// one fails with body_too_large as soon as it is known: at the Content-Length, or when the cap
/// is passed), and the deadline enforced by curl. Anything but 200 fails with status_mismatch.
/// The curl handle and body buffer are kept across runs. Loop-thread only.
class PluginsRequest {
 public:
  using Done = std::function<void(const FetchResult&)>;

  PluginsRequest(net::CurlMulti& multi, std::string url, size_t body_limit);
  ~PluginsRequest();
  PluginsRequest(const PluginsRequest&) = delete;
  PluginsRequest& operator=(const PluginsRequest&) = delete;

  /// Starts the GET; `done` runs once, on the loop and never from inside Start, unless Cancel()
  /// or the destructor comes first.
  void Start(TimePoint deadline, Done done);
  void Cancel();

  const std::string& url() const { return url_; }

 private:
  static size_t OnBody(char* data, size_t size, size_t count, void* self);
  void OnDone(CURLcode code);
  void Finish(Reason reason, std::string message);
  Reason ReasonFor(CURLcode code) const;

  net::CurlMulti& multi_;
  const std::string url_;
  const size_t body_limit_;
  CURL* easy_ = nullptr;
  char error_[CURL_ERROR_SIZE] = {};

  // The running request.
  Done done_;
  TimePoint started_;
  std::string body_;
  bool body_too_large_ = false;
  long status_ = 0;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // for tasks posted to the loop
};

}  // namespace sre::exporters::fluentd
