#pragma once

#include <curl/curl.h>

#include <functional>
#include <map>
#include <memory>

#include "agent/base/status.h"
#include "agent/core/reason.h"
#include "agent/net/event_loop.h"

namespace sre::net {

/// libcurl's multi interface driven by the EventLoop through curl_multi_socket_action: any number
/// of HTTP transfers share the loop thread and none blocks it. curl_global_init must have run
/// (the mains do it once). Loop-thread only.
class CurlMulti {
 public:
  /// Called once when a transfer ends, with curl's result; `easy` is no longer in the multi.
  using Done = std::function<void(CURLcode result, CURL* easy)>;

  static Result<std::unique_ptr<CurlMulti>> Create(EventLoop& loop);
  ~CurlMulti();
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;

  /// Starts the transfer the caller configured on `easy` (which the caller owns, and keeps
  /// alive until `done` or Remove). Bound it with CURLOPT_TIMEOUT_MS: curl enforces it.
  Status Add(CURL* easy, Done done);
  /// Cancels a transfer; its `done` is never called. No-op when not running.
  void Remove(CURL* easy);

  size_t running() const { return transfers_.size(); }
  EventLoop& loop() const { return loop_; }

 private:
  explicit CurlMulti(EventLoop& loop);
  static int OnSocket(CURL* easy, curl_socket_t fd, int what, void* self, void* socket_data);
  static int OnTimer(CURLM* multi, long timeout_ms, void* self);
  void Act(curl_socket_t fd, int events);
  void CollectFinished();

  EventLoop& loop_;
  CURLM* multi_ = nullptr;
  EventLoop::TimerId timer_ = 0;
  std::map<CURL*, Done> transfers_;
};

/// Why a transfer failed, from curl's result and the OS error curl saw (CURLINFO_OS_ERRNO).
/// Callers refine what only they know: CURLE_WRITE_ERROR is kReadError here, kBodyTooLarge when
/// their write callback stopped at a size limit; CURLE_PEER_FAILED_VERIFICATION is kTlsUntrusted
/// here, where OpenSSL's verify result can say expired or a name mismatch.
Reason ReasonFromCurl(CURLcode code, long os_errno);

}  // namespace sre::net
