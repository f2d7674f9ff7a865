#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace sre {

/// Facts about the agent as a whole, gathered by the runtime for its own snapshot.
struct AgentFacts {
  std::string version, revision;
  bool last_reload_ok = true;
  double last_reload_success_unix = 0;
  uint64_t log_suppressed = 0;
  std::vector<std::pair<std::string, size_t>> checks_by_exporter;
};

/// `sre_agent_*` families of the agent itself and the standard `process_*` families (CPU, memory,
/// descriptors, start time) read from /proc/self. Reads a few small /proc files.
std::vector<prometheus::MetricFamily> AgentFamilies(const AgentFacts& facts);

}  // namespace sre
