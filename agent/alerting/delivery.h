#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "agent/alerting/alerting_config.h"
#include "agent/alerting/http_post.h"
#include "agent/alerting/notification.h"
#include "agent/alerting/payloads.h"
#include "agent/alerting/receiver_response.h"
#include "agent/net/curl_multi.h"

namespace sre::alerting {

/// The API a receiver's `type` names.
ReceiverKind KindOf(const ReceiverConfig& receiver);

/// How many notifications one request carries: Alertmanager and webhooks take a list, Slack and
/// PagerDuty one event per request.
size_t MaxBatch(ReceiverKind kind);

/// One attempt to deliver a batch to one receiver: the request (one per Alertmanager of an HA
/// set) and one verdict. Alertmanager counts as delivered when any instance took it: they share
/// alerts among themselves. Loop-thread only; destroying it cancels without calling back.
class DeliveryAttempt {
 public:
  using Done = std::function<void(Verdict)>;

  /// `lease`: how long a firing alert stays firing at Alertmanager without a re-send.
  DeliveryAttempt(net::CurlMulti& curl, const ReceiverConfig& receiver,
                  const std::vector<Notification>& batch, double now_unix, Duration lease,
                  std::string_view external_url);

  /// Sends; `done` is called once on the loop thread, never from inside Start.
  void Start(Done done);

 private:
  void OnResponse(const PostResponse& response);

  const ReceiverKind kind_;
  const double now_unix_;
  const std::string secret_;  // cut out of messages, should a receiver echo it
  std::vector<std::unique_ptr<HttpPost>> posts_;
  size_t waiting_ = 0;
  std::optional<Verdict> best_;
  Done done_;
};

}  // namespace sre::alerting
