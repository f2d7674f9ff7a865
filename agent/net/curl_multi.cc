#include "agent/net/curl_multi.h"

#include <fmt/format.h>
#include <sys/epoll.h>

#include <cerrno>

#include "agent/net/tcp_dialer.h"

namespace sre::net {

Result<std::unique_ptr<CurlMulti>> CurlMulti::Create(EventLoop& loop) {
  std::unique_ptr<CurlMulti> multi(new CurlMulti(loop));
  if (multi->multi_ == nullptr) return Status::Error("curl_multi_init failed");
  return multi;
}

CurlMulti::CurlMulti(EventLoop& loop) : loop_(loop), multi_(curl_multi_init()) {
  if (multi_ == nullptr) return;
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlMulti::OnSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlMulti::OnTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
}

CurlMulti::~CurlMulti() {
  if (multi_ == nullptr) return;
  for (const auto& [easy, done] : transfers_) curl_multi_remove_handle(multi_, easy);
  transfers_.clear();
  curl_multi_cleanup(multi_);  // tells OnSocket to unwatch what is still open
  loop_.CancelTimer(timer_);
}

Status CurlMulti::Add(CURL* easy, Done done) {
  const CURLMcode code = curl_multi_add_handle(multi_, easy);
  if (code != CURLM_OK) {
    return Status::Error(fmt::format("curl_multi_add_handle: {}", curl_multi_strerror(code)));
  }
  transfers_[easy] = std::move(done);
  return Status::Ok();
}

void CurlMulti::Remove(CURL* easy) {
  if (transfers_.erase(easy) > 0) curl_multi_remove_handle(multi_, easy);
}

int CurlMulti::OnSocket(CURL*, curl_socket_t fd, int what, void* self_ptr, void*) {
  auto* self = static_cast<CurlMulti*>(self_ptr);
  if (what == CURL_POLL_REMOVE) {
    self->loop_.Unwatch(fd);
    return 0;
  }
  uint32_t events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= EPOLLIN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= EPOLLOUT;
  const Status watched = self->loop_.Watch(fd, events, [self, fd](uint32_t ready) {
    int flags = 0;
    if (ready & (EPOLLIN | EPOLLHUP)) flags |= CURL_CSELECT_IN;
    if (ready & EPOLLOUT) flags |= CURL_CSELECT_OUT;
    if (ready & EPOLLERR) flags |= CURL_CSELECT_ERR;
    self->Act(fd, flags);
  });
  return watched.ok() ? 0 : -1;  // -1 makes curl fail the transfer rather than hang
}

int CurlMulti::OnTimer(CURLM*, long timeout_ms, void* self_ptr) {
  auto* self = static_cast<CurlMulti*>(self_ptr);
  self->loop_.CancelTimer(self->timer_);
  self->timer_ = 0;
  if (timeout_ms < 0) return 0;  // curl wants no timer
  // Never act from inside curl's own callback: the loop runs it on its next pass.
  self->timer_ = self->loop_.AddTimerAfter(std::chrono::milliseconds(timeout_ms), [self] {
    self->timer_ = 0;
    self->Act(CURL_SOCKET_TIMEOUT, 0);
  });
  return 0;
}

void CurlMulti::Act(curl_socket_t fd, int events) {
  int still_running = 0;
  curl_multi_socket_action(multi_, fd, events, &still_running);
  CollectFinished();
}

void CurlMulti::CollectFinished() {
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
    if (message->msg != CURLMSG_DONE) continue;
    CURL* easy = message->easy_handle;
    const CURLcode result = message->data.result;
    curl_multi_remove_handle(multi_, easy);
    auto it = transfers_.find(easy);
    if (it == transfers_.end()) continue;
    Done done = std::move(it->second);
    transfers_.erase(it);
    done(result, easy);  // may Add or Remove transfers, or destroy `easy`
  }
}

Reason ReasonFromCurl(CURLcode code, long os_errno) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return Reason::kTimeout;
    case CURLE_COULDNT_RESOLVE_HOST:
      return Reason::kDnsError;
    case CURLE_COULDNT_CONNECT:
      return ReasonFromErrno(static_cast<int>(os_errno));
    case CURLE_PEER_FAILED_VERIFICATION:
      return Reason::kTlsUntrusted;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_USE_SSL_FAILED:
      return Reason::kTlsHandshakeError;
    case CURLE_FILESIZE_EXCEEDED:
      return Reason::kBodyTooLarge;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      return os_errno == ECONNRESET || os_errno == EPIPE ? Reason::kConnectionReset
                                                         : Reason::kReadError;
    case CURLE_WRITE_ERROR:
    case CURLE_PARTIAL_FILE:
      return Reason::kReadError;
    case CURLE_TOO_MANY_REDIRECTS:
      return Reason::kRedirectLoop;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_BAD_CONTENT_ENCODING:
      return Reason::kProtocolError;
    default:
      return Reason::kConnectionFailed;
  }
}

}  // namespace sre::net
