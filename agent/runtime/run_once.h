#pragma once

#include "agent/base/status.h"
#include "agent/core/exporter_factory.h"
#include "agent/core/log.h"

namespace sre {

/// Runs one instance once on a private event loop, for sre-probe and tests: creates it, collects
/// with the spec's timeout as the deadline, and returns the result. Blocks the calling thread.
Result<CollectResult> RunOnce(const ExporterFactory& factory, const InstanceSpec& spec,
                              Logger& log);

}  // namespace sre
