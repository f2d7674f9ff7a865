#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/core/exporter_factory.h"
#include "agent/core/exporter_registry.h"
#include "agent/core/log.h"
#include "agent/core/metric_set.h"
#include "agent/net/event_loop.h"
#include "agent/runtime/snapshot_store.h"

namespace sre {

/// Runs every configured instance on its own interval on the event loop: a spread first run,
/// then fixed-rate ticks; a deadline per run below the interval; never two runs of one instance
/// at once (a tick that finds the last run still going is skipped and counted). Each finished run
/// is published to the store as one snapshot with the instance's own `sre_agent_*` series.
/// Loop-thread only.
class Scheduler {
 public:
  Scheduler(ExporterEnv& env, const ExporterRegistry& registry, SnapshotStore& store);
  ~Scheduler();

  /// Replaces the running set: instances whose exporter, check and config are unchanged keep
  /// running with their counters; removed ones are cancelled; new ones start. Fails, changing
  /// nothing, when a new instance cannot be created.
  Status Apply(const std::vector<InstanceSpec>& specs);

  /// Told of every instance's families as each run publishes them, and of removed instances
  /// (null families): the alert rules read them. Set before Apply.
  using SourceObserver =
      std::function<void(const std::string& key, const std::vector<prometheus::MetricFamily>*)>;
  void set_observer(SourceObserver observer) { observer_ = std::move(observer); }

  /// True once every instance has finished at least one run (or there are none).
  bool FirstRoundDone() const;

  size_t size() const { return instances_.size(); }

  /// The scheduler's own series: how late runs start after their tick was due (a loop that
  /// falls behind shows here first).
  std::vector<prometheus::MetricFamily> SelfFamilies() const;

 private:
  struct Instance;

  void ScheduleTick(Instance& instance, TimePoint when);
  void Tick(Instance& instance);
  void Finish(Instance& instance, CollectResult result);
  void Publish(Instance& instance, CollectResult& result, Duration took);

  ExporterEnv& env_;
  const ExporterRegistry& registry_;
  SnapshotStore& store_;
  std::map<std::string, std::unique_ptr<Instance>> instances_;  // key: "exporter/check"
  SourceObserver observer_;
  HeaderPool headers_;
  std::string scratch_;  // reused render buffer
  Histogram start_lateness_;
};

/// The store key of an instance.
std::string InstanceKey(const std::string& exporter, const std::string& check);

}  // namespace sre
