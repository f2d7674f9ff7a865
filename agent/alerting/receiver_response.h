#pragma once

#include <string>
#include <string_view>

#include "agent/base/clock.h"
#include "agent/core/reason.h"

namespace sre::alerting {

/// What to do with a delivery after the receiver answered.
enum class Outcome {
  kDelivered,  ///< 2xx
  kRetry,      ///< 408, 429, 5xx, or no HTTP status at all (http_status < 100)
  kRejected,   ///< any other status: sending the same body again would fail again
};

struct Verdict {
  Outcome outcome = Outcome::kRetry;
  Duration retry_after{0};  ///< from Retry-After, capped at kMaxRetryAfter; 0: use backoff
  /// Short (the body's part at most ~200 bytes), one line, for the log and sre-probe. Never
  /// holds the secret: `secret` is cut out, and so is any long token that looks like a key.
  std::string message;
  /// Why it was not delivered, for sre-probe: the transport's reason, or status_mismatch for
  /// an HTTP answer other than 2xx. Set by the caller (DeliveryAttempt).
  Reason reason = Reason::kNone;
};

enum class ReceiverKind { kAlertmanager, kSlack, kPagerDuty, kWebhook };

/// A Retry-After longer than this is treated as this: a receiver's outage must not park an
/// alert for hours, and the backoff still spaces the attempts.
inline constexpr Duration kMaxRetryAfter = std::chrono::minutes(10);

/// Classifies one HTTP answer. `retry_after_header` is the raw header value (seconds, or an
/// HTTP-date in any of RFC 9110's three forms, compared with `now_unix`); `body` the answer's
/// body, whose error (Slack's plain-text code, PagerDuty's `message` and `errors`,
/// Alertmanager's JSON string) goes into the message. `secret` (the webhook URL, the routing
/// key) is removed from the message should the body echo it.
Verdict ClassifyResponse(ReceiverKind kind, long http_status, std::string_view retry_after_header,
                         std::string_view body, double now_unix, std::string_view secret = {});

}  // namespace sre::alerting
