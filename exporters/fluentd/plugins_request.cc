#include "exporters/fluentd/plugins_request.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

#include "agent/net/tcp_dialer.h"

namespace sre::exporters::fluentd {
namespace {

// A body buffer grown past this by one large response is given back after the run, so that a
// check's memory follows its usual response, not its largest.
constexpr size_t kKeptBufferBytes = 1 << 20;

}  // namespace

PluginsRequest::PluginsRequest(net::CurlMulti& multi, std::string url, size_t body_limit)
    : multi_(multi), url_(std::move(url)), body_limit_(body_limit), easy_(curl_easy_init()) {}

PluginsRequest::~PluginsRequest() {
  Cancel();
  curl_easy_cleanup(easy_);
}

void PluginsRequest::Cancel() {
  multi_.Remove(easy_);
  done_ = nullptr;
  alive_ = std::make_shared<int>(0);  // drops a posted Finish
}

void PluginsRequest::Start(TimePoint deadline, Done done) {
  done_ = std::move(done);
  started_ = multi_.loop().clock().Now();
  if (body_.capacity() > kKeptBufferBytes) std::string().swap(body_);
  body_.clear();
  body_too_large_ = false;
  status_ = 0;
  error_[0] = '\0';
  CURL* e = easy_;
  curl_easy_reset(e);
  curl_easy_setopt(e, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);  // no idle connection per check between runs
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error_);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "sre-agent");
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &PluginsRequest::OnBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(body_limit_));
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - started_).count();
  const long left_ms = std::max<long>(1, static_cast<long>(left));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, left_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, left_ms);
  const Status added = multi_.Add(e, [this](CURLcode code, CURL*) { OnDone(code); });
  if (!added.ok()) {
    // Never call back from inside Start: the caller is not ready for it.
    multi_.loop().Post([this, alive = std::weak_ptr<int>(alive_), message = added.message()] {
      if (alive.lock()) Finish(Reason::kConnectionFailed, message);
    });
  }
}

size_t PluginsRequest::OnBody(char* data, size_t, size_t count, void* self_ptr) {
  auto* self = static_cast<PluginsRequest*>(self_ptr);
  if (self->body_.size() + count > self->body_limit_) {
    self->body_too_large_ = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  self->body_.append(data, count);
  return count;
}

void PluginsRequest::OnDone(CURLcode code) {
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status_);
  if (code != CURLE_OK) {
    const Reason reason = ReasonFor(code);
    if (reason == Reason::kBodyTooLarge) {
      Finish(reason,
             fmt::format("the response is larger than {} bytes (max_body_bytes)", body_limit_));
    } else {
      Finish(reason, error_[0] != '\0' ? error_ : curl_easy_strerror(code));
    }
    return;
  }
  if (status_ != 200) {
    Finish(Reason::kStatusMismatch,
           status_ == 404 ? "HTTP 404: no monitor_agent at this address (is it another server?)"
                          : fmt::format("HTTP {}", status_));
    return;
  }
  Finish(Reason::kNone, "HTTP 200");
}

void PluginsRequest::Finish(Reason reason, std::string message) {
  FetchResult result;
  result.reason = reason;
  result.message = std::move(message);
  result.status = status_;
  result.body = reason == Reason::kNone ? &body_ : nullptr;
  result.elapsed = multi_.loop().clock().Now() - started_;
  Done done = std::move(done_);
  done_ = nullptr;
  const std::weak_ptr<int> alive = alive_;
  if (done) done(result);
  if (alive.lock() && body_.capacity() > kKeptBufferBytes) std::string().swap(body_);
}

Reason PluginsRequest::ReasonFor(CURLcode code) const {
  long os_errno = 0;
  curl_easy_getinfo(easy_, CURLINFO_OS_ERRNO, &os_errno);
  if (code == CURLE_WRITE_ERROR && body_too_large_) return Reason::kBodyTooLarge;
  return net::ReasonFromCurl(code, os_errno);
}

}  // namespace sre::exporters::fluentd
