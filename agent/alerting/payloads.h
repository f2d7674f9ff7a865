#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/alerting/notification.h"
#include "agent/base/clock.h"

namespace sre::alerting {

// What each receiver is sent, and what its answer means. Pure functions: no I/O, no clock of
// their own (the caller passes `now_unix`), never throw (JSON is dumped with invalid UTF-8
// replaced). Thread-safe. The fields each body carries, and where they are documented, are in
// payloads.cc beside the code that writes them.

/// `unix_seconds` as RFC 3339 in UTC with milliseconds, rounded to the nearest one:
/// `2026-12-06T14:03:05.123Z`. Negative, NaN or out-of-range times print the Unix epoch.
std::string Rfc3339Millis(double unix_seconds);

/// Alertmanager API v2 `POST /api/v2/alerts`: a JSON array of postableAlert. Firing alerts get
/// `endsAt = now + lease` (Prometheus' ValidUntil) so Alertmanager resolves them by itself if the
/// agent goes silent; resolved ones `endsAt = resolved_at`. `endsAt` is never before `startsAt`
/// (Alertmanager refuses the whole batch with 400 otherwise).
std::string AlertmanagerBody(const std::vector<Notification>& batch, double now_unix,
                             Duration lease);

/// Alertmanager's webhook_config payload (version "4") for one batch, as one group whose
/// groupLabels are {alertname} when every alert shares it, else {}.
std::string WebhookBody(const std::vector<Notification>& batch, std::string_view receiver,
                        std::string_view external_url);

/// One Slack incoming-webhook message: `text` (the headline, also the push-notification
/// fallback) and one attachment coloured red (firing) or green (resolved) whose blocks say
/// where, since when (or when it resolved and how long it lasted) and the value. `channel` is
/// sent only when not empty.
std::string SlackBody(const Notification& n, std::string_view channel);

/// One PagerDuty Events API v2 event. `dedup_key` is FingerprintHex(labels), the same for
/// trigger and resolve. `agent_host` is the payload's `source` when the alert has no
/// `instance`, non-loopback `target`, or `node` label; empty: the generator URL's host.
std::string PagerDutyBody(const Notification& n, std::string_view routing_key, double now_unix,
                          std::string_view agent_host = {});

}  // namespace sre::alerting
