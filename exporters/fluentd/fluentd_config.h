#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/base/status.h"
#include "agent/config/schema.h"
#include "agent/core/check_settings.h"

namespace sre::exporters::fluentd {

/// monitor_agent's JSON API, appended to each base URL.
inline constexpr std::string_view kPluginsPath = "/api/plugins.json";

/// One monitor_agent to read: a base URL, or one worker's port of it.
struct Endpoint {
  std::string target;         ///< the base URL as configured (normalised): the `target` label
  std::string url;            ///< what is fetched: at this worker's port, plus kPluginsPath
  std::optional<int> worker;  ///< with `workers` above 1: the `worker` label
};

/// One fluentd check: the monitor_agents it reads and the plugins it reports.
struct FluentdConfig {
  CheckSettings settings;
  /// Base URLs of monitor_agent, like http://127.0.0.1:24220 (an optional path prefix for a
  /// proxy; the exporter appends /api/plugins.json).
  std::vector<std::string> urls = {"http://127.0.0.1:24220"};
  /// Fluentd's `<system> workers N`: monitor_agent listens on port+0 ... port+N-1, one per
  /// worker. Above 1, every URL is read at each of those ports, labelled `worker`.
  int64_t workers = 1;
  std::vector<std::string> plugin_ids;               ///< only these (the reported or stable id)
  std::vector<std::string> types;                    ///< only these @type values
  std::vector<std::string> categories = {"output"};  ///< only these plugin categories
  /// `<type>#<n>` instead of the "object:<hex>" ids that change on every Fluentd restart.
  bool stable_ids = true;
  /// A larger response fails with body_too_large.
  int64_t max_body_bytes = 8 << 20;
  /// Fluentd may not run on this node (a DaemonSet's default config): a refused connection then
  /// means absent (not_present), shown as such rather than as a failure.
  bool optional = false;

  /// From `urls` and `workers` (not a key).
  std::vector<Endpoint> endpoints;
};

const config::Schema<FluentdConfig>& FluentdSchema();

/// The endpoints of `urls` read by `workers` workers each: an error names the URL.
Result<std::vector<Endpoint>> ExpandEndpoints(const std::vector<std::string>& urls,
                                              int64_t workers);

}  // namespace sre::exporters::fluentd
