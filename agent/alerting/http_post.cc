#include "agent/alerting/http_post.h"

#include <algorithm>
#include <string_view>

#include "agent/base/callback.h"

namespace sre::alerting {

HttpPost::HttpPost(net::CurlMulti& multi, std::string url, std::string body, Duration timeout)
    : multi_(multi),
      url_(std::move(url)),
      body_(std::move(body)),
      timeout_(timeout),
      easy_(curl_easy_init()) {}

HttpPost::~HttpPost() {
  multi_.Remove(easy_);
  curl_easy_cleanup(easy_);
  curl_slist_free_all(headers_);
}

void HttpPost::Start(Done done) {
  done_ = std::move(done);
  CURL* e = easy_;
  headers_ = curl_slist_append(headers_, "Content-Type: application/json");
  curl_easy_setopt(e, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "sre-agent");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers_);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, body_.c_str());
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body_.size()));
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &HttpPost::OnBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &HttpPost::OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, this);
  const long timeout_ms = std::max<long>(
      1,
      static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(timeout_).count()));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
  const Status added = multi_.Add(e, [this](CURLcode code, CURL*) { OnDone(code); });
  if (!added.ok()) {
    multi_.loop().Post([this, alive = std::weak_ptr<int>(alive_)] {
      if (alive.lock()) CallOnce(done_, PostResponse{0, Reason::kConnectionFailed, {}, {}});
    });
  }
}

size_t HttpPost::OnBody(char* data, size_t, size_t count, void* self_ptr) {
  auto* self = static_cast<HttpPost*>(self_ptr);
  // Past the cap the rest is read and dropped: the status already says what happened.
  const size_t room = kMaxBody - std::min(kMaxBody, self->response_.body.size());
  self->response_.body.append(data, std::min(room, count));
  return count;
}

size_t HttpPost::OnHeader(char* data, size_t, size_t count, void* self_ptr) {
  auto* self = static_cast<HttpPost*>(self_ptr);
  std::string_view line(data, count);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size() &&
      std::equal(kName.begin(), kName.end(), line.begin(),
                 [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
    line.remove_prefix(kName.size());
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' ')) {
      line.remove_suffix(1);
    }
    self->response_.retry_after = std::string(line.substr(0, 64));
  }
  return count;
}

void HttpPost::OnDone(CURLcode code) {
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &response_.status);
  if (code != CURLE_OK) {
    long os_errno = 0;
    curl_easy_getinfo(easy_, CURLINFO_OS_ERRNO, &os_errno);
    response_.reason = net::ReasonFromCurl(code, os_errno);
    response_.status = 0;
  }
  CallOnce(done_, std::move(response_));
}

}  // namespace sre::alerting
