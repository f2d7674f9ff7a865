#include "agent/runtime/agent.h"

#include <future>

#include "agent/runtime/self_metrics.h"

namespace sre {
namespace {

constexpr Duration kSelfRefresh = std::chrono::seconds(1);
constexpr Duration kReadinessPoll = std::chrono::milliseconds(20);
constexpr auto kApplyWait = std::chrono::seconds(10);
// How long past its deadline a /probe run may go before the agent abandons it: exporters enforce
// their own deadline, this only guards against one that does not.
constexpr Duration kProbeGrace = std::chrono::seconds(1);

}  // namespace

struct Agent::ProbeRun {
  ExporterEnv env;  // the agent's, with peer_compatible set; outlives the exporter
  std::unique_ptr<Exporter> exporter;
  net::EventLoop::TimerId guard = 0;
};

Agent::Agent(const ExporterRegistry& registry, Logger& log, const Clock& clock,
             AgentOptions options)
    : registry_(registry),
      log_(log),
      clock_(clock),
      options_(std::move(options)),
      start_time_unix_(clock.WallSeconds()),
      loop_(clock),
      resolvers_(loop_),
      curl_(net::CurlMulti::Create(loop_).value()),
      env_{loop_, resolvers_, *curl_, log_, false, false},
      alerter_(loop_, *curl_, log_,
               [this](const std::vector<prometheus::MetricFamily>& families) {
                 store_.Publish("agent/alerts", MakeSnapshot({}, families));
               }),
      scheduler_(env_, registry_, store_),
      checks_(*curl_, log_, registry_,
              [this](const std::vector<InstanceSpec>& specs) { return scheduler_.Apply(specs); }) {
  scheduler_.set_observer(
      [this](const std::string& key, const std::vector<prometheus::MetricFamily>* families) {
        if (families != nullptr) {
          alerter_.SetSource(key, *families);
        } else {
          alerter_.RemoveSource(key);
        }
      });
}

Agent::~Agent() { Stop(); }

Status Agent::Start() {
  auto config = LoadAgentConfig(options_.config_file, registry_);
  if (!config.ok()) return config.status();
  if (Status s = Apply(std::move(config).value()); !s.ok()) return s;
  RefreshSelfSnapshot();
  WatchReadiness();
  thread_ = std::thread([this] { loop_.Run(); });
  std::lock_guard lock(probe_mutex_);
  accepting_probes_ = true;
  return Status::Ok();
}

Status Agent::Apply(AgentConfig config) {
  std::map<std::string, size_t> counts;
  for (const std::string& name : registry_.Names()) counts[name] = 0;
  for (const InstanceSpec& spec : config.instances) ++counts[spec.exporter];
  // Alerting first: it fails (a spool it cannot open) without changing anything; should the
  // scheduler then refuse the checks, alerting goes back to what it ran with.
  auto apply = [&]() -> Status {
    if (Status s = alerter_.Configure(config.alerting, config.settings.interval); !s.ok()) {
      return s;
    }
    Status applied = checks_.Configure(config.instances, config.discovery,
                                       {config.settings.interval, config.settings.timeout});
    if (applied.ok()) {
      alerting_config_ = config.alerting;
      alerting_interval_ = config.settings.interval;
    } else {
      (void)alerter_.Configure(alerting_config_, alerting_interval_);  // same spool: cannot fail
    }
    return applied;
  };
  Status applied = Status::Ok();
  if (!thread_.joinable()) {
    applied = apply();
  } else {
    std::promise<Status> done;
    auto result = done.get_future();
    loop_.Post([&] { done.set_value(apply()); });
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
    probe_config_ = std::make_shared<const ProbeConfig>(std::move(config.probe));
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
  {
    std::lock_guard lock(probe_mutex_);
    accepting_probes_ = false;
  }
  if (!thread_.joinable()) return;
  loop_.Stop();
  thread_.join();
  // The loop is gone, so its runs can be dropped from here; their requests still get an answer.
  for (auto& [id, run] : probe_runs_) run->exporter->Cancel();
  probe_runs_.clear();
  std::map<uint64_t, ProbeDone> abandoned;
  {
    std::lock_guard lock(probe_mutex_);
    abandoned.swap(pending_probes_);
  }
  for (auto& [id, done] : abandoned) done(Status::Error("sre-agent is stopping"));
}

std::shared_ptr<const ProbeConfig> Agent::probe_config() const {
  std::lock_guard lock(state_mutex_);
  return probe_config_;
}

void Agent::Probe(InstanceSpec spec, Duration timeout, ProbeDone done) {
  if (registry_.Find(spec.exporter) == nullptr) {
    done(Status::Error("unknown exporter \"" + spec.exporter + "\""));
    return;
  }
  const TimePoint deadline = clock_.Now() + std::max(timeout, Duration::zero());
  uint64_t id = 0;
  {
    std::lock_guard lock(probe_mutex_);
    if (accepting_probes_) {
      id = next_probe_id_++;
      pending_probes_.emplace(id, std::move(done));
    }
  }
  if (id == 0) {
    done(Status::Error("sre-agent is not running"));
    return;
  }
  loop_.Post([this, id, spec = std::move(spec), deadline] { StartProbe(id, spec, deadline); });
}

void Agent::StartProbe(uint64_t id, const InstanceSpec& spec, TimePoint deadline) {
  auto run = std::make_unique<ProbeRun>(ProbeRun{env_, nullptr, 0});
  run->env.peer_compatible = true;
  run->env.for_people = true;  // /probe's debug output lists the observations
  auto exporter = registry_.Find(spec.exporter)->Create(spec, run->env);
  if (!exporter.ok()) {
    FinishProbe(id, exporter.status());
    return;
  }
  run->exporter = std::move(exporter).value();
  ProbeRun& started = *run;
  probe_runs_[id] = std::move(run);
  started.guard = loop_.AddTimer(deadline + kProbeGrace, [this, id] {
    auto it = probe_runs_.find(id);
    if (it == probe_runs_.end()) return;
    it->second->exporter->Cancel();
    probe_runs_.erase(it);
    CollectResult overran;
    overran.reason = Reason::kTimeout;
    overran.message = "the probe did not finish by its deadline";
    FinishProbe(id, std::move(overran));
  });
  started.exporter->Collect(deadline, [this, id](CollectResult result) {
    if (auto it = probe_runs_.find(id); it != probe_runs_.end()) {
      loop_.CancelTimer(it->second->guard);
    }
    FinishProbe(id, std::move(result));
    // Not destroyed here, inside the exporter's own call: on the next iteration.
    loop_.Post([this, id] { probe_runs_.erase(id); });
  });
}

void Agent::FinishProbe(uint64_t id, Result<CollectResult> result) {
  ProbeDone done;
  {
    std::lock_guard lock(probe_mutex_);
    auto it = pending_probes_.find(id);
    if (it == pending_probes_.end()) return;
    done = std::move(it->second);
    pending_probes_.erase(it);
  }
  done(std::move(result));
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
  std::vector<prometheus::MetricFamily> families = AgentFamilies(facts);
  for (auto& family : scheduler_.SelfFamilies()) families.push_back(std::move(family));
  for (auto& family : checks_.SelfFamilies()) families.push_back(std::move(family));
  store_.Publish("agent/self", MakeSnapshot({}, families));
  alerter_.SetSource("agent/self", families);
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
