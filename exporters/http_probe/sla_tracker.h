#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/reason.h"

namespace sre::exporters::http_probe {

/// One SLA violation: from the first failing run to the first run in which every address
/// succeeded again.
struct Violation {
  double opened_unix = 0;
  std::optional<double> closed_unix;      ///< nullopt while open
  std::map<std::string, Reason> failing;  ///< address -> its first reason
};

/// The SLA windows of one probe. A violation opens once `min_failures` runs in a row had a
/// failing address (dated from the first of them, when the outage began) and closes at the first
/// run in which every address succeeded. Keeps the last few violations for people. Pure: fed
/// with each run's outcome and wall time; not thread-safe.
class SlaTracker {
 public:
  explicit SlaTracker(int64_t min_failures, size_t keep = 10)
      : min_failures_(min_failures), keep_(keep) {}

  /// One run that started at `run_unix`; `failing` maps each failing address to its reason
  /// (empty: every address succeeded).
  void Record(double run_unix, const std::map<std::string, Reason>& failing);

  bool open() const { return !recent_.empty() && !recent_.front().closed_unix; }
  /// Violations opened so far.
  uint64_t opened_total() const { return opened_total_; }
  /// Seconds in violation so far: every closed one, plus the open one up to `now_unix`.
  double ViolationSeconds(double now_unix) const;
  /// Newest first.
  const std::deque<Violation>& recent() const { return recent_; }
  /// Lines for the landing page, newest first: "failed 2026-11-28 11:58:53 to 11:59:21 UTC,
  /// 28 s, 127.0.0.7: status_mismatch".
  std::vector<std::string> Describe(double now_unix) const;

 private:
  const int64_t min_failures_;
  const size_t keep_;
  int64_t failing_runs_ = 0;
  double streak_started_unix_ = 0;
  std::map<std::string, Reason> streak_failing_;
  uint64_t opened_total_ = 0;
  double closed_seconds_ = 0;
  std::deque<Violation> recent_;
};

}  // namespace sre::exporters::http_probe
