#pragma once

#include <vector>

#include "agent/core/exporter_registry.h"
#include "agent/main/probe_command.h"

namespace sre::exporters {

/// Registers every exporter this build contains. The one place that lists them.
void RegisterBuiltinExporters(ExporterRegistry& registry);

/// The sre-probe subcommands of those exporters.
std::vector<cli::ProbeCommand> BuiltinProbeCommands();

}  // namespace sre::exporters
