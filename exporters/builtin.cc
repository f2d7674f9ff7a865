#include "exporters/builtin.h"

#include "exporters/tcp/tcp_cli.h"
#include "exporters/tcp/tcp_exporter.h"

namespace sre::exporters {

void RegisterBuiltinExporters(ExporterRegistry& registry) { registry.Add(tcp::MakeTcpFactory()); }

std::vector<cli::ProbeCommand> BuiltinProbeCommands() { return {tcp::TcpProbeCommand()}; }

}  // namespace sre::exporters
