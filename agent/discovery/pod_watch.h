#pragma once

#include <curl/curl.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "agent/base/clock.h"
#include "agent/core/log.h"
#include "agent/discovery/discovery_config.h"
#include "agent/discovery/pod.h"
#include "agent/net/curl_multi.h"

namespace sre::discovery {

/// Which pods to follow: "/api/v1/pods" (every namespace) or "/api/v1/namespaces/NS/pods", with
/// a field and/or label selector as Kubernetes writes them ("spec.nodeName=node-a").
struct PodQuery {
  std::string name;  ///< for logs and metrics: "pods", "members"
  std::string namespace_name;
  std::string field_selector;
  std::string label_selector;
};

/// Counters of one PodWatch, for the agent's own series.
struct PodWatchStats {
  uint64_t lists = 0;         ///< full lists fetched
  uint64_t watches = 0;       ///< watch streams opened
  uint64_t relists_gone = 0;  ///< 410 Gone: the resourceVersion was too old, listed again
  uint64_t errors = 0;        ///< failed requests and dropped streams, retried after a backoff
  size_t pods = 0;            ///< pods known now (filled in by stats())
  bool synced = false;        ///< a list has completed
};

/// Follows a set of pods the way client-go's informers do: list, then watch from the list's
/// resourceVersion (chunked JSON lines, with bookmarks), resume a stream that ends from the last
/// resourceVersion seen, list again on 410 Gone, and back off (1 s doubling to 30 s, with jitter)
/// on errors. `on_change` gets the whole set after the list and after every event that changes
/// it. The token is read at every connection. libcurl on the agent's event loop: nothing blocks.
/// Loop-thread only; destroying it cancels everything, and `on_change` is never called after.
class PodWatch {
 public:
  using OnChange = std::function<void(const std::map<std::string, Pod>& pods_by_uid)>;

  PodWatch(net::CurlMulti& curl, Logger& log, KubernetesApiConfig api, PodQuery query,
           OnChange on_change);
  ~PodWatch();
  PodWatch(const PodWatch&) = delete;
  PodWatch& operator=(const PodWatch&) = delete;

  void Start();
  PodWatchStats stats() const {
    PodWatchStats stats = stats_;
    stats.pods = pods_.size();
    return stats;
  }
  const std::string& last_error() const { return last_error_; }

 private:
  enum class Phase { kIdle, kListing, kWatching };

  void List();
  void Watch();
  /// Starts a GET of `url` on the easy handle; false (and a backoff) when it cannot start.
  bool Get(const std::string& url, Duration timeout);
  void OnDone(CURLcode code);
  void OnListed(std::string_view body);
  /// Splits the stream into lines and applies each event; false to abort the transfer.
  bool OnStreamData(std::string_view data);
  bool ApplyEvent(std::string_view line);
  void Retry(const std::string& error);
  /// Runs `next` on the loop soon, outside any libcurl callback; cancelled with the watch.
  void Soon(std::function<void()> next);
  /// Tells `on_change` soon: never from inside libcurl's write callback, where the checks it
  /// starts and stops must not add or remove transfers.
  void NotifySoon();
  std::string Url(bool watch) const;
  static size_t OnBody(char* data, size_t size, size_t count, void* self);

  net::CurlMulti& curl_;
  Logger& log_;
  const KubernetesApiConfig api_;
  const PodQuery query_;
  const OnChange on_change_;
  CURL* easy_ = nullptr;
  curl_slist* headers_ = nullptr;
  Phase phase_ = Phase::kIdle;
  std::string buffer_;   // a list's body, or a stream's unfinished line
  bool relist_ = false;  // the stream said 410 Gone
  std::string resource_version_;
  std::map<std::string, Pod> pods_;  // by uid
  Duration backoff_{0};
  net::EventLoop::TimerId retry_timer_ = 0;   // the next list or watch
  net::EventLoop::TimerId notify_timer_ = 0;  // a pending on_change
  PodWatchStats stats_;
  std::string last_error_;
};

}  // namespace sre::discovery
