#include "agent/runtime/agent.h"

#include <future>

#include "agent/runtime/self_metrics.h"

namespace sre {
namespace {

constexpr Duration kSelfRefresh = std::chrono::seconds(1);
constexpr Duration kReadinessPoll = std::chrono::milliseconds(20);
constexpr auto kApplyWait = std::chrono::seconds(10);

}  // namespace

Agent::Agent(const ExporterRegistry& registry, Logger& log, const Clock& clock,
             AgentOptions options)
    : registry_(registry),
      log_(log),
      clock_(clock),
      options_(std::move(options)),
      start_time_unix_(clock.WallSeconds()),
      loop_(clock),
      resolvers_(loop_),
      env_{loop_, resolvers_, log_},
      scheduler_(env_, registry_, store_) {}

Agent::~Agent() { Stop(); }

Status Agent::Start() {
  auto config = LoadAgentConfig(options_.config_file, registry_);
  if (!config.ok()) return config.status();
  if (Status s = Apply(std::move(config).value()); !s.ok()) return s;
  RefreshSelfSnapshot();
  WatchReadiness();
  thread_ = std::thread([this] { loop_.Run(); });
  return Status::Ok();
}

Status Agent::Apply(AgentConfig config) {
  std::map<std::string, size_t> counts;
  for (const std::string& name : registry_.Names()) counts[name] = 0;
  for (const InstanceSpec& spec : config.instances) ++counts[spec.exporter];
  Status applied = Status::Ok();
  if (!thread_.joinable()) {
    applied = scheduler_.Apply(config.instances);
  } else {
    std::promise<Status> done;
    auto result = done.get_future();
    loop_.Post([&] { done.set_value(scheduler_.Apply(config.instances)); });
    if (result.wait_for(kApplyWait) != std::future_status::ready) {
      // The loop never blocks, so this means it is gone; nothing sensible is left to do.
      return Status::Error("event loop did not apply the configuration");
    }
    applied = result.get();
  }
  std::lock_guard lock(state_mutex_);
  last_reload_ok_ = applied.ok();
  last_reload_error_ = applied.ok() ? "" : applied.message();
  if (applied.ok()) {
    last_reload_success_unix_ = clock_.WallSeconds();
    checks_by_exporter_.assign(counts.begin(), counts.end());
  }
  return applied;
}

Status Agent::Reload() {
  std::lock_guard reload_lock(reload_mutex_);
  auto config = LoadAgentConfig(options_.config_file, registry_);
  Status status = config.ok() ? Apply(std::move(config).value()) : config.status();
  if (status.ok()) {
    log_.Info("configuration reloaded", {{"file", options_.config_file}});
  } else {
    {
      std::lock_guard lock(state_mutex_);
      last_reload_ok_ = false;
      last_reload_error_ = status.message();
    }
    log_.Error("configuration reload rejected; the previous configuration keeps running",
               {{"error", status.message()}});
  }
  loop_.Post([this] { RefreshSelfSnapshot(); });
  return status;
}

void Agent::Stop() {
  if (!thread_.joinable()) return;
  loop_.Stop();
  thread_.join();
}

AgentState Agent::state() const {
  std::lock_guard lock(state_mutex_);
  return {options_.config_file, ready_.load(), last_reload_ok_, last_reload_error_,
          start_time_unix_};
}

void Agent::RefreshSelfSnapshot() {
  AgentFacts facts;
  facts.version = options_.version;
  facts.revision = options_.revision;
  facts.log_suppressed = log_.suppressed_total();
  {
    std::lock_guard lock(state_mutex_);
    facts.last_reload_ok = last_reload_ok_;
    facts.last_reload_success_unix = last_reload_success_unix_;
    facts.checks_by_exporter = checks_by_exporter_;
  }
  store_.Publish("agent/self", MakeSnapshot({}, AgentFamilies(facts)));
}

void Agent::WatchReadiness() {
  // Refreshes the agent's own series every second; meanwhile checks for the first full round.
  loop_.AddTimerAfter(ready_ ? kSelfRefresh : kReadinessPoll, [this] {
    if (!ready_ && scheduler_.FirstRoundDone()) {
      ready_ = true;
      log_.Info("ready: every check has run once", {{"checks", std::to_string(scheduler_.size())}});
    }
    if (ready_) RefreshSelfSnapshot();
    WatchReadiness();
  });
}

}  // namespace sre
