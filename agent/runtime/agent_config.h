#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/alerting/alerting_config.h"
#include "agent/base/clock.h"
#include "agent/base/status.h"
#include "agent/config/source.h"
#include "agent/core/exporter_factory.h"
#include "agent/core/exporter_registry.h"
#include "agent/discovery/discovery_config.h"
#include "agent/runtime/probe_modules.h"

namespace sre {

/// The `agent:` section: defaults for every check.
struct AgentSettings {
  Duration interval = std::chrono::seconds(15);
  Duration timeout = std::chrono::seconds(10);
};

/// A whole agent config file, validated: every instance parsed by its exporter's schema, with its
/// effective interval and timeout filled in (timeout always below the interval), and the `probe:`
/// section's modules and allowlist. Immutable.
struct AgentConfig {
  std::string file;
  AgentSettings settings;
  std::vector<InstanceSpec> instances;
  ProbeConfig probe;
  /// Rules, receivers, routes and spool; shared with the loop thread's alerter. Never null.
  std::shared_ptr<const alerting::AlertingConfig> alerting =
      std::make_shared<const alerting::AlertingConfig>();
  /// `kubernetes:`, `discovery:` and `sharding:`: checks from pods, SLA probes shared.
  discovery::DiscoveryConfig discovery;
};

/// Reads `path` (YAML) and validates everything before anything runs: unknown sections or keys,
/// wrong types, duplicate check names, a timeout not below its interval are `file:line:col:`
/// errors. `env` expands `${VAR}`.
Result<AgentConfig> LoadAgentConfig(const std::string& path, const ExporterRegistry& registry,
                                    const config::EnvLookup& env = config::ProcessEnv());

/// The same, from an already parsed document (sre-probe, tests).
Result<AgentConfig> ParseAgentConfig(const config::Document& document,
                                     const ExporterRegistry& registry,
                                     const config::EnvLookup& env = config::ProcessEnv());

/// The schema of the `agent:` section, for --describe.
const config::Schema<AgentSettings>& AgentSettingsSchema();

}  // namespace sre
