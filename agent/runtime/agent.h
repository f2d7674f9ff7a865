#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/base/clock.h"
#include "agent/core/exporter_registry.h"
#include "agent/core/log.h"
#include "agent/net/dns_resolver.h"
#include "agent/net/event_loop.h"
#include "agent/runtime/agent_config.h"
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

/// The running agent: the event-loop thread, the scheduler of every configured check, and the
/// snapshot store that HTTP handlers read. Start, Reload, Stop and the accessors are thread-safe.
class Agent {
 public:
  Agent(const ExporterRegistry& registry, Logger& log, const Clock& clock, AgentOptions options);
  ~Agent();

  /// Loads the config and starts the loop thread. A config error starts nothing.
  Status Start();
  /// Re-reads the config file. An invalid file is rejected and logged, and the running checks
  /// go on as they were; `sre_agent_config_last_reload_successful` says which.
  Status Reload();
  /// Cancels every run and joins the loop thread.
  void Stop();

  const SnapshotStore& store() const { return store_; }
  bool ready() const { return ready_.load(); }
  AgentState state() const;

 private:
  void RefreshSelfSnapshot();
  void WatchReadiness();
  Status Apply(AgentConfig config);

  const ExporterRegistry& registry_;
  Logger& log_;
  const Clock& clock_;
  const AgentOptions options_;
  const double start_time_unix_;

  net::EventLoop loop_;
  net::ResolverPool resolvers_;
  ExporterEnv env_;
  SnapshotStore store_;
  Scheduler scheduler_;
  std::thread thread_;
  std::atomic<bool> ready_{false};

  std::mutex reload_mutex_;  // one reload at a time
  mutable std::mutex state_mutex_;
  bool last_reload_ok_ = true;
  std::string last_reload_error_;
  double last_reload_success_unix_ = 0;
  std::vector<std::pair<std::string, size_t>> checks_by_exporter_;
};

}  // namespace sre
