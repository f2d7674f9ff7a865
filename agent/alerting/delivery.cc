#include "agent/alerting/delivery.h"

#include "agent/base/callback.h"

namespace sre::alerting {
namespace {

constexpr std::string_view kPagerDutyUrl = "https://events.pagerduty.com/v2/enqueue";

std::string AlertmanagerEndpoint(std::string_view base) {
  while (base.ends_with('/')) base.remove_suffix(1);
  return std::string(base) + "/api/v2/alerts";
}

// Which of two verdicts of one attempt stands: delivered anywhere wins, then a retry (with the
// longer wait a receiver asked for), then a rejection.
bool Better(const Verdict& a, const Verdict& b) {
  auto rank = [](Outcome o) { return o == Outcome::kDelivered ? 2 : o == Outcome::kRetry ? 1 : 0; };
  if (rank(a.outcome) != rank(b.outcome)) return rank(a.outcome) > rank(b.outcome);
  return a.retry_after > b.retry_after;
}

}  // namespace

ReceiverKind KindOf(const ReceiverConfig& receiver) {
  if (receiver.type == "alertmanager") return ReceiverKind::kAlertmanager;
  if (receiver.type == "slack") return ReceiverKind::kSlack;
  if (receiver.type == "pagerduty") return ReceiverKind::kPagerDuty;
  return ReceiverKind::kWebhook;
}

size_t MaxBatch(ReceiverKind kind) {
  return kind == ReceiverKind::kAlertmanager || kind == ReceiverKind::kWebhook ? 64 : 1;
}

DeliveryAttempt::DeliveryAttempt(net::CurlMulti& curl, const ReceiverConfig& receiver,
                                 const std::vector<Notification>& batch, double now_unix,
                                 Duration lease, std::string_view external_url)
    : kind_(KindOf(receiver)),
      now_unix_(now_unix),
      secret_(kind_ == ReceiverKind::kPagerDuty ? receiver.routing_key : receiver.url) {
  auto post = [&](std::string url, std::string body) {
    posts_.push_back(
        std::make_unique<HttpPost>(curl, std::move(url), std::move(body), receiver.timeout));
  };
  switch (kind_) {
    case ReceiverKind::kAlertmanager: {
      const std::string body = AlertmanagerBody(batch, now_unix, lease);
      for (const std::string& url : receiver.urls) post(AlertmanagerEndpoint(url), body);
      break;
    }
    case ReceiverKind::kWebhook:
      post(receiver.url, WebhookBody(batch, receiver.name, external_url));
      break;
    case ReceiverKind::kSlack:
      post(receiver.url, SlackBody(batch.at(0), receiver.channel));
      break;
    case ReceiverKind::kPagerDuty:
      post(receiver.url.empty() ? std::string(kPagerDutyUrl) : receiver.url,
           PagerDutyBody(batch.at(0), receiver.routing_key, now_unix));
      break;
  }
}

void DeliveryAttempt::Start(Done done) {
  done_ = std::move(done);
  waiting_ = posts_.size();
  for (auto& post : posts_) {
    post->Start([this](PostResponse response) { OnResponse(response); });
  }
}

void DeliveryAttempt::OnResponse(const PostResponse& response) {
  Verdict verdict;
  if (response.status == 0) {
    // No HTTP answer (refused, timed out, TLS): the receiver may be back soon.
    verdict.outcome = Outcome::kRetry;
    verdict.message = std::string(ReasonName(response.reason));
    verdict.reason = response.reason;
  } else {
    verdict = ClassifyResponse(kind_, response.status, response.retry_after, response.body,
                               now_unix_, secret_);
    if (verdict.outcome != Outcome::kDelivered) verdict.reason = Reason::kStatusMismatch;
  }
  if (!best_ || Better(verdict, *best_)) best_ = std::move(verdict);
  if (--waiting_ == 0) CallOnce(done_, std::move(*best_));
}

}  // namespace sre::alerting
