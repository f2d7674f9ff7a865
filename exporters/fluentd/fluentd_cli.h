#pragma once

#include "agent/main/probe_command.h"

namespace sre::exporters::fluentd {

/// `sre-probe fluentd URL...`: each monitor_agent, then each reported plugin's buffer, queue and
/// retry state.
cli::ProbeCommand FluentdProbeCommand();

}  // namespace sre::exporters::fluentd
