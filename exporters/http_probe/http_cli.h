#pragma once

#include "agent/main/probe_command.h"

namespace sre::exporters::http_probe {

/// `sre-probe http URL [--header H] [--expect-status N] [--dns-server ADDR] [--one-address]`.
cli::ProbeCommand HttpProbeCommand();

}  // namespace sre::exporters::http_probe
