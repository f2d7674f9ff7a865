#pragma once

#include <curl/curl.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/base/clock.h"
#include "agent/core/reason.h"
#include "agent/net/curl_multi.h"

namespace sre::alerting {

/// What came back from one POST: the HTTP answer, or why there was none.
struct PostResponse {
  long status = 0;  ///< 0: no HTTP answer (see reason)
  Reason reason = Reason::kNone;
  std::string retry_after;  ///< the Retry-After header, as sent
  std::string body;         ///< the first kMaxBody bytes
};

/// One JSON POST on the event loop through libcurl's multi interface: never blocks, bounded by
/// its timeout, the answer's body capped. Receivers' URLs are secrets (Slack's webhook URL is
/// its credential), so nothing here logs or reports the URL. Loop-thread only; destroying it
/// cancels the transfer without calling back.
class HttpPost {
 public:
  static constexpr size_t kMaxBody = 4096;
  using Done = std::function<void(PostResponse)>;

  HttpPost(net::CurlMulti& multi, std::string url, std::string body, Duration timeout);
  ~HttpPost();
  HttpPost(const HttpPost&) = delete;
  HttpPost& operator=(const HttpPost&) = delete;

  /// Starts the transfer; `done` is called once, on the loop thread, never from inside Start.
  void Start(Done done);

 private:
  static size_t OnBody(char* data, size_t size, size_t count, void* self);
  static size_t OnHeader(char* data, size_t size, size_t count, void* self);
  void OnDone(CURLcode code);

  net::CurlMulti& multi_;
  const std::string url_;
  const std::string body_;
  const Duration timeout_;
  CURL* easy_;
  curl_slist* headers_ = nullptr;
  PostResponse response_;
  Done done_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace sre::alerting
