#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "agent/base/status.h"
#include "agent/core/metric_set.h"

namespace sre::alerting {

/// What one receiver must be told about one alert: that it fires, or that it resolved. Built by
/// the rule engine from an Alert when its state changes, spooled as JSON, encoded for the
/// receiver's API by the payload builders. Value type.
struct Notification {
  Labels labels;  ///< sorted by name; includes alertname
  std::map<std::string, std::string> annotations;
  bool firing = true;           ///< false: resolved
  double value = 0;             ///< the expression's value when it last held
  double starts_at_unix = 0;    ///< when the expression started to hold (Alertmanager startsAt)
  double resolved_at_unix = 0;  ///< when it resolved; 0 while firing
  std::string generator_url;    ///< where a human sees it: the agent's landing page

  /// The label value, or "" when absent.
  std::string_view Label(std::string_view name) const;
};

/// A stable 64-bit fingerprint of a label set, Alertmanager's own (FNV-1a over the sorted
/// name/value pairs): the same alert always gets the same one, across restarts and agents. Printed
/// as 16 hex digits it is the PagerDuty dedup_key and the webhook payload's fingerprint.
uint64_t Fingerprint(const Labels& labels);
std::string FingerprintHex(const Labels& labels);

/// The spool's encoding of a notification (JSON), and back. Decoding refuses anything that is
/// not an object of the expected shape (the spool's checksum already caught torn writes).
std::string EncodeNotification(const Notification& notification);
Result<Notification> DecodeNotification(std::string_view json);

}  // namespace sre::alerting
