#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/metric_set.h"
#include "agent/core/reason.h"

namespace sre::exporters {

/// The SLO series a network probe keeps across runs, per probed address: attempts, failures by
/// reason, and a histogram of one duration. An address not seen for 100 runs is forgotten, so
/// one DNS hiccup does not reset its counters but a backend gone for good leaves no series.
/// Not thread-safe: one per exporter instance, on the loop thread.
class ProbeCounters {
 public:
  /// The histogram's family name, help and buckets ("probe_tcp_connect_duration_seconds", ...).
  ProbeCounters(std::string histogram_name, std::string histogram_help,
                std::vector<double> buckets);

  /// Starts counting a new run.
  void StartRun() { ++runs_; }
  /// One attempt of `address` ("" when the name did not resolve) with its outcome; `duration`
  /// goes into the histogram when given.
  void Record(const std::string& address, Reason reason, std::optional<double> duration);
  /// Forgets stale addresses, then adds `probe_attempts_total`, `probe_failures_total` and the
  /// histogram, labelled `base` plus `address`.
  void AddTo(MetricSet& set, const Labels& base);

 private:
  struct PerAddress {
    uint64_t attempts = 0;
    std::map<Reason, uint64_t> failures;
    Histogram duration;
    uint64_t last_seen_run = 0;
  };

  const std::string histogram_name_;
  const std::string histogram_help_;
  const std::vector<double> buckets_;
  uint64_t runs_ = 0;
  std::map<std::string, PerAddress> addresses_;
};

}  // namespace sre::exporters
