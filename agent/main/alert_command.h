#pragma once

#include <string>
#include <vector>

#include "agent/core/exporter_registry.h"
#include "agent/main/probe_command.h"

namespace sre::cli {

/// `sre-probe alert test RECEIVER --config FILE`: sends a test alert through one receiver of the
/// agent's config, firing then resolved (so a PagerDuty test leaves no incident open), and says
/// what the receiver answered, in sre-probe's output formats and exit codes. `args` follow
/// `alert`. Returns the exit code.
int RunAlertCommand(const ExporterRegistry& registry, const std::vector<std::string>& args);

/// Its entry in sre-probe's command table.
CommandDoc AlertCommandDoc();

}  // namespace sre::cli
