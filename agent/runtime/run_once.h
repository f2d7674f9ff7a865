#pragma once

#include <vector>

#include "agent/base/clock.h"
#include "agent/base/status.h"
#include "agent/core/exporter_factory.h"
#include "agent/core/exporter_registry.h"
#include "agent/core/log.h"

namespace sre {

/// Runs one instance once on a private event loop, for sre-probe and tests: creates it, collects
/// with the spec's timeout as the deadline, and returns the result. Blocks the calling thread.
Result<CollectResult> RunOnce(const ExporterFactory& factory, const InstanceSpec& spec,
                              Logger& log);

/// One instance's run among several: its result and how long it took.
struct TimedResult {
  CollectResult result;
  Duration took{0};
};

/// Runs every instance of `specs` once, all at the same time on one private event loop (so ten
/// checks of a config take as long as the slowest), each with its spec's timeout as deadline.
/// Results are in the order of `specs`. Fails before running anything when an instance cannot
/// be created. Blocks the calling thread.
Result<std::vector<TimedResult>> RunAllOnce(const ExporterRegistry& registry,
                                            const std::vector<InstanceSpec>& specs, Logger& log);

}  // namespace sre
