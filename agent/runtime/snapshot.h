#pragma once

#include <prometheus/metric_family.h>

#include <memory>
#include <string>
#include <vector>

#include "agent/core/reason.h"

namespace sre {

/// One metric family rendered once, at publish time, in the text format 0.0.4.
struct RenderedFamily {
  std::string name;
  prometheus::MetricType type = prometheus::MetricType::Untyped;
  std::string header;   ///< "# HELP ...\n# TYPE ...\n"
  std::string samples;  ///< the sample lines
};

/// Renders families for the store (sorted by name).
std::vector<RenderedFamily> RenderFamilies(const std::vector<prometheus::MetricFamily>& families);

/// What one check's latest run came to, for people.
struct CheckStatus {
  std::string exporter, check, target;
  bool ran = false;  ///< false until the first run finishes
  bool success = false;
  Reason reason = Reason::kNone;
  std::string message;
  double duration_seconds = 0;
  double time_unix = 0;  ///< when the run finished
};

/// The latest result of one source (a check, or the agent itself), immutable once published so
/// scrapes read it without locks on its contents.
struct Snapshot {
  CheckStatus status;
  std::vector<RenderedFamily> families;  ///< sorted by name
};

}  // namespace sre
