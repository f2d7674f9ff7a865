#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

#include "agent/alerting/rule_config.h"
#include "agent/alerting/rule_expr.h"
#include "agent/base/clock.h"
#include "agent/base/status.h"
#include "agent/config/schema.h"
#include "agent/config/value_codec.h"

namespace sre::alerting {

/// Where notifications go. One `type`, with the keys that type needs:
///   - {name: am, type: alertmanager, urls: [http://127.0.0.1:9093]}
///   - {name: oncall, type: slack, url_file: /etc/sre-agent/slack-webhook, channel: "#ops"}
///   - {name: pager, type: pagerduty, routing_key_file: /etc/sre-agent/pagerduty-key}
///   - {name: hook, type: webhook, url: http://127.0.0.1:8080/alerts}
struct ReceiverConfig {
  std::string name;
  std::string type;               ///< alertmanager, slack, pagerduty, webhook
  std::vector<std::string> urls;  ///< alertmanager: every instance of an HA cluster
  std::string url;                ///< slack, webhook: secret; pagerduty: the Events API URL
  std::string routing_key;        ///< pagerduty: secret
  std::string channel;            ///< slack: overrides the webhook's channel
  bool send_resolved = true;      ///< tell the receiver when an alert resolves
  Duration timeout = std::chrono::seconds(10);
};

/// Which receivers an alert goes to. Routes are tried in order; the first whose matchers all
/// hold takes the alert, and later ones too only while `continue` is true (Alertmanager's
/// semantics). Without routes every alert goes to every receiver.
struct RouteConfig {
  std::string match;  ///< `{severity="critical", check=~"db-.*"}`; empty: every alert
  std::vector<std::string> receivers;
  bool continue_matching = false;  ///< key `continue`

  std::vector<LabelMatcher> matchers;  ///< parsed from `match`
};

/// Where notifications wait until delivered, across restarts.
struct SpoolConfig {
  std::string path = "/var/lib/sre-agent/alerts.spool";  ///< relative: to the config's directory
  int64_t max_bytes = 16 << 20;
};

/// The `alerting:` section.
struct AlertingConfig {
  std::vector<RuleConfig> rules;
  std::vector<ReceiverConfig> receivers;
  std::vector<RouteConfig> routes;
  SpoolConfig spool;
  /// Firing alerts are sent to Alertmanager again this often, with an `endsAt` lease of four
  /// times it (or the evaluation interval, if longer), as Prometheus does.
  Duration resend_delay = std::chrono::minutes(1);
  std::map<std::string, std::string> external_labels;  ///< added to every alert (node, cluster)
  std::string external_url;  ///< the agent's address as people reach it: generatorURL

  const ReceiverConfig* FindReceiver(std::string_view name) const;
};

/// Parses and checks the `alerting:` section: unknown keys, a bad expression, template or
/// matcher (at its line and column), two rules or receivers of one name, a receiver missing the
/// keys its type needs, a route to an unknown receiver: each is a `file:line:col:` error.
Result<AlertingConfig> ParseAlertingConfig(const YAML::Node& node, const config::ParseContext& ctx);

const config::Schema<AlertingConfig>& AlertingSchema();

}  // namespace sre::alerting
