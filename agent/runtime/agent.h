#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/alerting/alerter.h"
#include "agent/base/clock.h"
#include "agent/core/exporter_registry.h"
#include "agent/core/log.h"
#include "agent/net/curl_multi.h"
#include "agent/net/dns_resolver.h"
#include "agent/net/event_loop.h"
#include "agent/runtime/agent_config.h"
#include "agent/runtime/dynamic_checks.h"
#include "agent/runtime/scheduler.h"
#include "agent/runtime/snapshot_store.h"

namespace sre {

struct AgentOptions {
  std::string config_file;
  std::string version;
  std::string revision;
};

/// The agent's state at a glance, for the landing page. Value type.
struct AgentState {
  std::string config_file;
  bool ready = false;
  bool last_reload_ok = true;
  std::string last_reload_error;
  double start_time_unix = 0;
};

/// The running agent: the event-loop thread, the scheduler of every configured check, the
/// snapshot store that HTTP handlers read, and one-off runs for /probe. Start, Reload, Stop, Probe
/// and the accessors are thread-safe.
class Agent {
 public:
  /// Receives the result of one Probe: the run's CollectResult, or an error when there was no run
  /// to finish (the agent is not running or is stopping, the exporter could not be created).
  using ProbeDone = std::function<void(Result<CollectResult>)>;

  Agent(const ExporterRegistry& registry, Logger& log, const Clock& clock, AgentOptions options);
  ~Agent();

  /// Loads the config and starts the loop thread. A config error starts nothing.
  Status Start();
  /// Re-reads the config file. An invalid file is rejected and logged, and the running checks
  /// go on as they were; `sre_agent_config_last_reload_successful` says which.
  Status Reload();
  /// Cancels every run and joins the loop thread. Probes still running are answered with an
  /// error ("sre-agent is stopping") on the calling thread.
  void Stop();

  /// Runs the instance `spec` once, for /probe: creates its exporter on the loop thread with
  /// ExporterEnv::peer_compatible set, collects with a deadline `timeout` from now (zero or less:
  /// due at once), and destroys it. Never blocks the caller or the loop. `done` is called exactly
  /// once: on the loop thread with the result (or the error of creating the exporter), at the
  /// deadline at the latest (a second later, as a timeout, should the exporter overrun it); at
  /// once on the calling thread when the agent is not running or `spec.exporter` is unknown; on
  /// the thread calling Stop() for a run that Stop() abandons.
  void Probe(InstanceSpec spec, Duration timeout, ProbeDone done);

  /// The `probe:` section of the configuration in force; a successful reload swaps it, a rejected
  /// one keeps the old. Never null.
  std::shared_ptr<const ProbeConfig> probe_config() const;

  const SnapshotStore& store() const { return store_; }
  /// The alerts and receivers as of the last rule evaluation. Thread-safe; never null.
  std::shared_ptr<const alerting::AlertingView> alerting_view() const { return alerter_.view(); }
  bool ready() const { return ready_.load(); }
  AgentState state() const;

 private:
  struct ProbeRun;  // one /probe run, on the loop thread

  void RefreshSelfSnapshot();
  void WatchReadiness();
  Status Apply(AgentConfig config);
  void StartProbe(uint64_t id, const InstanceSpec& spec, TimePoint deadline);  // loop thread
  /// Hands `result` to the probe's `done`, unless it was answered already. Any thread.
  void FinishProbe(uint64_t id, Result<CollectResult> result);

  const ExporterRegistry& registry_;
  Logger& log_;
  const Clock& clock_;
  const AgentOptions options_;
  const double start_time_unix_;

  net::EventLoop loop_;
  net::ResolverPool resolvers_;
  std::unique_ptr<net::CurlMulti> curl_;
  ExporterEnv env_;
  SnapshotStore store_;
  alerting::Alerter alerter_;  // loop thread
  Scheduler scheduler_;
  DynamicChecks checks_;  // loop thread; decides what scheduler_ runs
  // What the alerter runs with, to restore it when the scheduler refuses a new config.
  std::shared_ptr<const alerting::AlertingConfig> alerting_config_ =
      std::make_shared<const alerting::AlertingConfig>();
  Duration alerting_interval_{};
  // Declared after env_, resolvers_ and loop_, which its exporters use: destroyed before them.
  std::map<uint64_t, std::unique_ptr<ProbeRun>> probe_runs_;  // loop thread
  std::thread thread_;
  std::atomic<bool> ready_{false};

  std::mutex reload_mutex_;  // one reload at a time
  mutable std::mutex state_mutex_;
  bool last_reload_ok_ = true;
  std::string last_reload_error_;
  double last_reload_success_unix_ = 0;
  std::vector<std::pair<std::string, size_t>> checks_by_exporter_;
  std::shared_ptr<const ProbeConfig> probe_config_ = std::make_shared<const ProbeConfig>();

  std::mutex probe_mutex_;
  bool accepting_probes_ = false;                 // guarded by probe_mutex_
  uint64_t next_probe_id_ = 1;                    // guarded by probe_mutex_
  std::map<uint64_t, ProbeDone> pending_probes_;  // not answered yet; guarded by probe_mutex_
};

}  // namespace sre
