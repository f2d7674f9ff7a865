#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "agent/base/clock.h"
#include "agent/config/schema.h"

namespace sre {

/// Keys every check instance has, whatever its exporter. Embedded into each exporter's schema.
struct CheckSettings {
  std::string check;     ///< the instance's name: label `check`, unique per exporter
  Duration interval{0};  ///< 0: the agent's default interval
  Duration timeout{0};   ///< 0: the agent's default timeout, capped below the interval
  std::map<std::string, std::string> labels;  ///< extra labels on every series of the check
  /// With a `sharding:` section: how many agents of the DaemonSet run this check (the owners by
  /// rendezvous hashing, ADR 0018). 0: every agent runs it.
  int64_t replicas = 0;
};

/// A check's timeout when it sets none: the agent's, capped at 4/5 of the check's interval, so
/// that a fifth of the interval stays free and runs of one check never overlap.
Duration DefaultCheckTimeout(Duration agent_timeout, Duration interval);

/// The schema of CheckSettings. Rejects reserved label names (instance, job, namespace, pod,
/// container, service: Prometheus sets those itself) and invalid ones.
const config::Schema<CheckSettings>& CheckSettingsSchema();

/// Why `name` may not be used as an extra label; nullopt when it may.
std::optional<std::string> CheckExtraLabelName(const std::string& name);

}  // namespace sre
