#pragma once

#include <prometheus/metric_family.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/base/clock.h"
#include "agent/core/reason.h"

namespace sre {

/// What one probed subject (an address, a pool, a queue) came to, for people: the landing page
/// and sre-probe print these.
struct Observation {
  std::string subject;  ///< "127.0.0.1", "www", ...
  bool success = false;
  Reason reason = Reason::kNone;
  std::string message;  ///< what happened, in words
  Duration duration{0};
  /// Extra figures for --output json and text ("connect_seconds": 0.0003, ...).
  std::map<std::string, double> figures;
  /// Extra facts in words ("certificate_subject": "CN=web"), printed by sre-probe.
  std::map<std::string, std::string> details;
};

/// The result of one collection of one exporter instance.
struct CollectResult {
  bool success = false;
  Reason reason = Reason::kNone;  ///< the first failure's reason
  std::string message;            ///< the first failure's message, or a short OK summary
  std::vector<prometheus::MetricFamily> families;
  std::vector<Observation> observations;
  /// Recent incidents of this check for people, newest first, one line each ("failed 11:58:53
  /// to 11:59:21, 28 s, 127.0.0.7: status_mismatch"); the landing page lists them.
  std::vector<std::string> incidents;
};

/// One configured instance of an exporter (a TCP check, an FPM instance). Lives on the event
/// loop thread: every method is called there, and `done` is called there too.
class Exporter {
 public:
  using Done = std::function<void(CollectResult)>;
  virtual ~Exporter() = default;

  /// Starts one collection. Calls `done` exactly once, no later than `deadline` (the exporter
  /// enforces it: a hung target fails with Reason::kTimeout), unless Cancel() comes first.
  /// Never called while a previous collection is still running.
  virtual void Collect(TimePoint deadline, Done done) = 0;

  /// Abandons the running collection, if any, without calling `done`; frees its resources.
  virtual void Cancel() = 0;
};

}  // namespace sre
