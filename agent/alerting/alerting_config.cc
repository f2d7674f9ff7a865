#include "agent/alerting/alerting_config.h"

#include <fmt/format.h>

#include <set>

namespace sre::alerting {
namespace {

constexpr std::string_view kTypes[] = {"alertmanager", "slack", "pagerduty", "webhook"};

// The keys each type needs, and those it must not have, so a Slack channel under an
// Alertmanager receiver is an error rather than silently ignored.
std::optional<std::string> CheckReceiver(const ReceiverConfig& r) {
  if (std::find(std::begin(kTypes), std::end(kTypes), r.type) == std::end(kTypes)) {
    return fmt::format("receiver {}: type must be one of {}, got \"{}\"", r.name,
                       fmt::join(kTypes, ", "), r.type);
  }
  auto unused = [&](bool given, std::string_view key) -> std::optional<std::string> {
    if (!given) return std::nullopt;
    return fmt::format("receiver {}: {} is not a key of a {} receiver", r.name, key, r.type);
  };
  auto missing = [&](bool absent, std::string_view key) -> std::optional<std::string> {
    if (!absent) return std::nullopt;
    return fmt::format("receiver {}: a {} receiver needs {}", r.name, r.type, key);
  };
  std::optional<std::string> error;
  if (r.type == "alertmanager") {
    (error = missing(r.urls.empty(), "urls (one per Alertmanager)")) ||
        (error = unused(!r.url.empty(), "url (Alertmanager takes urls)")) ||
        (error = unused(!r.routing_key.empty(), "routing_key")) ||
        (error = unused(!r.channel.empty(), "channel"));
  } else if (r.type == "slack") {
    (error = missing(r.url.empty(), "url or url_file (the incoming-webhook URL)")) ||
        (error = unused(!r.urls.empty(), "urls")) ||
        (error = unused(!r.routing_key.empty(), "routing_key"));
  } else if (r.type == "pagerduty") {
    (error = missing(r.routing_key.empty(), "routing_key or routing_key_file")) ||
        (error = unused(!r.urls.empty(), "urls")) ||
        (error = unused(!r.channel.empty(), "channel"));
  } else {
    (error = missing(r.url.empty(), "url or url_file")) ||
        (error = unused(!r.urls.empty(), "urls")) ||
        (error = unused(!r.routing_key.empty(), "routing_key")) ||
        (error = unused(!r.channel.empty(), "channel"));
  }
  return error;
}

const config::Schema<ReceiverConfig>& ReceiverSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<ReceiverConfig>("receiver");
    s->Field("name", &ReceiverConfig::name, "what routes and sre-probe call it").Required();
    s->Field("type", &ReceiverConfig::type, "alertmanager, slack, pagerduty or webhook").Required();
    s->Field("urls", &ReceiverConfig::urls,
             "alertmanager: base URL of each Alertmanager (all get every alert, for HA)");
    s->Secret("url", &ReceiverConfig::url,
              "slack: the incoming-webhook URL; webhook: where to POST; pagerduty: the Events "
              "API v2 URL (default https://events.pagerduty.com/v2/enqueue)");
    s->Secret("routing_key", &ReceiverConfig::routing_key,
              "pagerduty: the integration's routing key");
    s->Field("channel", &ReceiverConfig::channel, "slack: post to this channel instead");
    s->Field("send_resolved", &ReceiverConfig::send_resolved,
             "also tell the receiver when an alert resolves");
    s->Field("timeout", &ReceiverConfig::timeout, "deadline of one delivery attempt");
    s->Check(CheckReceiver);
    return s;
  }();
  return *schema;
}

const config::Schema<RouteConfig>& RouteSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<RouteConfig>("route");
    s->Field("match", &RouteConfig::match,
             "label matchers the alert must meet, as in a selector: {severity=\"critical\"}; "
             "absent: every alert");
    s->Field("receivers", &RouteConfig::receivers, "receivers the matching alerts go to")
        .Required();
    s->Field("continue", &RouteConfig::continue_matching,
             "try the next routes too after this one matched");
    return s;
  }();
  return *schema;
}

const config::Schema<SpoolConfig>& SpoolSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<SpoolConfig>("spool");
    s->Field("path", &SpoolConfig::path,
             "file holding notifications not yet delivered (its directory is created)");
    s->Field("max_bytes", &SpoolConfig::max_bytes,
             "bound on the pending notifications; past it the oldest are dropped and counted");
    s->Validate<int64_t>(&SpoolConfig::max_bytes, [](int64_t v) -> std::optional<std::string> {
      if (v >= 4096) return std::nullopt;
      return "max_bytes must be at least 4096";
    });
    return s;
  }();
  return *schema;
}

// Unique names of the items at `list`, with the error at the second one.
template <typename T>
Status CheckUnique(const std::vector<T>& items, std::string T::*name, const YAML::Node& list,
                   std::string_view key, std::string_view what, const config::ParseContext& ctx) {
  std::set<std::string> seen;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!seen.insert(items[i].*name).second) {
      return ctx.ErrorAt(
          list[i][std::string(key)],
          fmt::format("a second {} named {}: names must be unique", what, items[i].*name));
    }
  }
  return Status::Ok();
}

Status PrepareRoute(RouteConfig& route, const YAML::Node& node, const AlertingConfig& config,
                    const config::ParseContext& ctx) {
  if (!route.match.empty()) {
    auto matchers = ParseLabelMatchers(route.match);
    if (!matchers.ok()) {
      return ctx.ErrorInScalar(node["match"], matchers.error().offset, matchers.error().message);
    }
    route.matchers = std::move(matchers).value();
  }
  for (size_t i = 0; i < route.receivers.size(); ++i) {
    if (config.FindReceiver(route.receivers[i]) == nullptr) {
      return ctx.ErrorAt(
          node["receivers"][i],
          fmt::format("no receiver named {} in alerting.receivers", route.receivers[i]));
    }
  }
  return Status::Ok();
}

}  // namespace

const ReceiverConfig* AlertingConfig::FindReceiver(std::string_view name) const {
  for (const auto& receiver : receivers) {
    if (receiver.name == name) return &receiver;
  }
  return nullptr;
}

const config::Schema<AlertingConfig>& AlertingSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<AlertingConfig>("alerting");
    s->List("rules", &AlertingConfig::rules, RuleSchema(),
            "alerting rules over the agent's own samples, evaluated after the checks run");
    s->List("receivers", &AlertingConfig::receivers, ReceiverSchema(),
            "where notifications are delivered");
    s->List("routes", &AlertingConfig::routes, RouteSchema(),
            "which alerts go to which receivers; none: every alert to every receiver");
    s->Nested("spool", &AlertingConfig::spool, SpoolSchema(),
              "notifications are kept on disk until delivered");
    s->Field("resend_delay", &AlertingConfig::resend_delay,
             "how often firing alerts are sent to Alertmanager again");
    s->Validate<Duration>(&AlertingConfig::resend_delay,
                          [](const Duration& d) -> std::optional<std::string> {
                            if (d >= std::chrono::seconds(1)) return std::nullopt;
                            return "resend_delay must be at least 1s";
                          });
    s->Field("external_labels", &AlertingConfig::external_labels,
             "labels added to every alert, such as node or cluster");
    s->Field("external_url", &AlertingConfig::external_url,
             "the agent's address for people (generatorURL, links in messages)");
    return s;
  }();
  return *schema;
}

Result<AlertingConfig> ParseAlertingConfig(const YAML::Node& node,
                                           const config::ParseContext& ctx) {
  AlertingConfig out;
  if (Status s = AlertingSchema().Parse(node, ctx, out); !s.ok()) return s;
  out.spool.path = ctx.ResolvePath(out.spool.path);
  const YAML::Node rules = node["rules"];
  if (Status s = CheckUnique(out.rules, &RuleConfig::alert, rules, "alert", "rule", ctx); !s.ok()) {
    return Status::Error(s.message() + " (use labels to tell variants apart)");
  }
  for (size_t i = 0; i < out.rules.size(); ++i) {
    if (Status s = PrepareRule(out.rules[i], rules[i], ctx); !s.ok()) return s;
  }
  if (Status s = CheckUnique(out.receivers, &ReceiverConfig::name, node["receivers"], "name",
                             "receiver", ctx);
      !s.ok()) {
    return s;
  }
  for (size_t i = 0; i < out.routes.size(); ++i) {
    if (Status s = PrepareRoute(out.routes[i], node["routes"][i], out, ctx); !s.ok()) return s;
  }
  return out;
}

}  // namespace sre::alerting
