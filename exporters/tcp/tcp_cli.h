#pragma once

#include "agent/main/probe_command.h"

namespace sre::exporters::tcp {

/// `sre-probe tcp HOST:PORT [--tls] [--send S] [--expect RE] [--dns-server ADDR]`.
cli::ProbeCommand TcpProbeCommand();

}  // namespace sre::exporters::tcp
