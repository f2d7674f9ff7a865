#pragma once

#include "agent/main/probe_command.h"

namespace sre::exporters::postfix {

/// `sre-probe postfix [--showq-path PATH]`: depth, oldest message and size per queue.
cli::ProbeCommand PostfixProbeCommand();

}  // namespace sre::exporters::postfix
