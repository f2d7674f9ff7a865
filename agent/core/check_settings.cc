#include "agent/core/check_settings.h"

#include <prometheus/check_names.h>

#include <algorithm>
#include <array>
#include <string_view>

namespace sre {

std::optional<std::string> CheckExtraLabelName(const std::string& name) {
  // Set by Prometheus or the prometheus-operator: ours would be renamed exported_*.
  static constexpr std::array<std::string_view, 6> kTargetLabels = {
      "instance", "job", "namespace", "pod", "container", "service"};
  // Set by the agent and its exporters (histograms, peer-compatible families); a duplicate label
  // name would make the exposition invalid.
  static constexpr std::array<std::string_view, 17> kOwnLabels = {
      "check",     "target", "address", "exporter", "reason",     "le",
      "quantile",  "phase",  "version", "pool",     "scrape_uri", "queue",
      "plugin_id", "type",   "worker",  "child",    "state"};
  for (std::string_view reserved : kTargetLabels) {
    if (name == reserved) {
      return "label \"" + name + "\" is set by Prometheus itself; use another name (e.g. k8s_" +
             name + ")";
    }
  }
  for (std::string_view own : kOwnLabels) {
    if (name == own) return "label \"" + name + "\" is set by the agent";
  }
  if (!prometheus::CheckLabelName(name) || name.starts_with("__")) {
    return "invalid label name \"" + name + "\": expected [a-zA-Z_][a-zA-Z0-9_]*";
  }
  return std::nullopt;
}

Duration DefaultCheckTimeout(Duration agent_timeout, Duration interval) {
  return std::min(agent_timeout, interval * 4 / 5);
}

const config::Schema<CheckSettings>& CheckSettingsSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<CheckSettings>("check settings");
    s->Field("check", &CheckSettings::check, "name of this check: the `check` label").Required();
    s->Validate<std::string>(&CheckSettings::check,
                             [](const std::string& name) -> std::optional<std::string> {
                               if (name.empty()) return "check name must not be empty";
                               return std::nullopt;
                             });
    s->Field("interval", &CheckSettings::interval, "how often to run")
        .DefaultText("agent.interval");
    s->Field("timeout", &CheckSettings::timeout, "deadline of one run; must be below the interval")
        .DefaultText("agent.timeout, at most 4/5 of the interval");
    s->Field("labels", &CheckSettings::labels, "extra labels on every series of this check");
    s->Validate<std::map<std::string, std::string>>(
        &CheckSettings::labels, [](const auto& labels) -> std::optional<std::string> {
          for (const auto& [name, value] : labels) {
            if (auto error = CheckExtraLabelName(name)) return error;
          }
          return std::nullopt;
        });
    s->Field("replicas", &CheckSettings::replicas,
             "run on this many agents of the DaemonSet only (needs a sharding: section); 0: on "
             "every agent");
    s->Validate<int64_t>(&CheckSettings::replicas, [](int64_t n) -> std::optional<std::string> {
      if (n < 0) return "replicas must be 0 (every agent) or more";
      return std::nullopt;
    });
    return s;
  }();
  return *schema;
}

}  // namespace sre
