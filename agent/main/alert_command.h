#pragma once

#include <string>
#include <vector>

#include "agent/core/exporter_registry.h"

namespace sre::cli {

/// `sre-probe alert test RECEIVER --config FILE`: sends a test alert through one receiver of the
/// agent's config, firing then resolved (so a PagerDuty test leaves no incident open), and says
/// what the receiver answered, in sre-probe's output formats and exit codes. `args` follow
/// `alert`. Returns the exit code.
int RunAlertCommand(const ExporterRegistry& registry, const std::vector<std::string>& args);

/// The line `sre-probe --help` lists for it.
inline constexpr const char* kAlertCommandUsage =
    "  alert      test RECEIVER  send a test alert through a receiver of the agent's config\n";

}  // namespace sre::cli
