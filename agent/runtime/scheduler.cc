#include "agent/runtime/scheduler.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "agent/core/metric_set.h"

namespace sre {
namespace {

// A watchdog beyond the deadline in case an exporter breaks its promise to finish by it.
constexpr Duration kWatchdogGrace = std::chrono::milliseconds(50);
// First runs are spread over this much (or the interval, when shorter) so a thousand checks do
// not all connect in the same millisecond, yet the agent is ready soon after start.
constexpr Duration kStartSpread = std::chrono::seconds(1);
constexpr uint64_t kStartSlots = 100;

uint64_t Fnv1a(std::string_view text) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

}  // namespace

std::string InstanceKey(const std::string& exporter, const std::string& check) {
  return exporter + "/" + check;
}

struct Scheduler::Instance {
  InstanceSpec spec;
  std::string key;
  std::unique_ptr<Exporter> exporter;
  TimePoint next_tick;
  net::EventLoop::TimerId tick_timer = 0;
  net::EventLoop::TimerId watchdog_timer = 0;
  bool running = false;
  bool finished_once = false;
  TimePoint run_started;
  uint64_t runs = 0;
  uint64_t skipped_ticks = 0;
  std::map<Reason, uint64_t> errors;
};

Scheduler::Scheduler(ExporterEnv& env, const ExporterRegistry& registry, SnapshotStore& store)
    : env_(env),
      registry_(registry),
      store_(store),
      // From a loop keeping up (tens of microseconds) to one that is badly behind.
      start_lateness_(
          {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}) {}

Scheduler::~Scheduler() {
  for (auto& [key, instance] : instances_) {
    env_.loop.CancelTimer(instance->tick_timer);
    env_.loop.CancelTimer(instance->watchdog_timer);
    if (instance->running) instance->exporter->Cancel();
  }
}

Status Scheduler::Apply(const std::vector<InstanceSpec>& specs) {
  // Build every new instance first, so a failure leaves the running set untouched.
  std::map<std::string, std::unique_ptr<Instance>> next;
  for (const InstanceSpec& spec : specs) {
    const std::string key = InstanceKey(spec.exporter, spec.settings.check);
    auto old = instances_.find(key);
    if (old != instances_.end() && old->second->spec.fingerprint == spec.fingerprint) {
      continue;  // unchanged: moved over below
    }
    const ExporterFactory* factory = registry_.Find(spec.exporter);
    if (factory == nullptr) return Status::Error("unknown exporter " + spec.exporter);
    auto exporter = factory->Create(spec, env_);
    if (!exporter.ok()) {
      return Status::Error(fmt::format("{}: {}", key, exporter.status().message()));
    }
    auto instance = std::make_unique<Instance>();
    instance->spec = spec;
    instance->key = key;
    instance->exporter = std::move(exporter).value();
    next.emplace(key, std::move(instance));
  }
  for (const InstanceSpec& spec : specs) {
    const std::string key = InstanceKey(spec.exporter, spec.settings.check);
    if (next.contains(key)) continue;
    next.emplace(key, std::move(instances_.at(key)));
  }
  // Whatever is left in instances_ was removed or replaced.
  for (auto& [key, instance] : instances_) {
    if (!instance) continue;
    env_.loop.CancelTimer(instance->tick_timer);
    env_.loop.CancelTimer(instance->watchdog_timer);
    if (instance->running) instance->exporter->Cancel();
    if (!next.contains(key)) {
      store_.Remove(key);
      if (observer_) observer_(key, nullptr);
    }
  }
  instances_ = std::move(next);
  const TimePoint now = env_.loop.clock().Now();
  for (auto& [key, instance] : instances_) {
    if (instance->tick_timer != 0) continue;  // kept running
    // First runs land on one of kStartSlots slots of the spread window: checks sharing a slot
    // run in one loop wake-up instead of one each (fewer epoll_wait calls at high rates).
    const Duration spread = std::min(kStartSpread, instance->spec.settings.interval);
    const Duration offset = spread * static_cast<int64_t>(Fnv1a(key) % kStartSlots) / kStartSlots;
    // A placeholder snapshot, so the landing page lists the check before its first run.
    CheckStatus pending;
    pending.exporter = instance->spec.exporter;
    pending.check = instance->spec.settings.check;
    pending.target = instance->spec.target;
    store_.Publish(key, MakeSnapshot(std::move(pending), {}));
    ScheduleTick(*instance, now + offset);
  }
  return Status::Ok();
}

bool Scheduler::FirstRoundDone() const {
  for (const auto& [key, instance] : instances_) {
    if (!instance->finished_once) return false;
  }
  return true;
}

void Scheduler::ScheduleTick(Instance& instance, TimePoint when) {
  instance.next_tick = when;
  instance.tick_timer = env_.loop.AddTimer(when, [this, &instance] { Tick(instance); });
}

void Scheduler::Tick(Instance& instance) {
  const Duration interval = instance.spec.settings.interval;
  const TimePoint now = env_.loop.clock().Now();
  start_lateness_.Observe(ToSeconds(now - instance.next_tick));
  // Fixed rate: the next tick keeps its phase. When the loop fell behind by whole intervals,
  // those ticks are counted as skipped rather than run in a burst.
  TimePoint next = instance.next_tick + interval;
  while (next <= now) {
    next += interval;
    ++instance.skipped_ticks;
  }
  ScheduleTick(instance, next);

  if (instance.running) {
    ++instance.skipped_ticks;
    env_.log.WarnLimited(
        "tick skipped: previous run still going",
        {{"exporter", instance.spec.exporter}, {"check", instance.spec.settings.check}});
    return;
  }
  instance.running = true;
  instance.run_started = now;
  const TimePoint deadline = now + instance.spec.settings.timeout;
  instance.watchdog_timer = env_.loop.AddTimer(deadline + kWatchdogGrace, [this, &instance] {
    instance.watchdog_timer = 0;
    if (!instance.running) return;
    instance.exporter->Cancel();
    CollectResult result;
    result.reason = Reason::kTimeout;
    result.message = "exporter did not finish by its deadline";
    Finish(instance, std::move(result));
  });
  instance.exporter->Collect(
      deadline, [this, &instance](CollectResult result) { Finish(instance, std::move(result)); });
}

void Scheduler::Finish(Instance& instance, CollectResult result) {
  if (!instance.running) return;
  instance.running = false;
  env_.loop.CancelTimer(instance.watchdog_timer);
  instance.watchdog_timer = 0;
  const Duration took = env_.loop.clock().Now() - instance.run_started;
  ++instance.runs;
  instance.finished_once = true;
  if (!result.success) {
    ++instance.errors[result.reason];
    if (result.reason != Reason::kNotPresent) {
      env_.log.WarnLimited("check failed", {{"exporter", instance.spec.exporter},
                                            {"check", instance.spec.settings.check},
                                            {"reason", std::string(ReasonName(result.reason))},
                                            {"error", result.message}});
    } else if (instance.errors[result.reason] == 1) {
      // A service that is not on this node is a fact to state once, not a warning per run.
      env_.log.Info("service not present", {{"exporter", instance.spec.exporter},
                                            {"check", instance.spec.settings.check},
                                            {"error", result.message}});
    }
  }
  Publish(instance, result, took);
}

void Scheduler::Publish(Instance& instance, CollectResult& result, Duration took) {
  const CheckSettings& settings = instance.spec.settings;
  const double now_unix = env_.loop.clock().WallSeconds();
  CheckStatus status{instance.spec.exporter,
                     settings.check,
                     instance.spec.target,
                     true,
                     result.success,
                     result.reason,
                     result.message,
                     ToSeconds(took),
                     now_unix,
                     std::move(result.incidents)};

  // The check's extra labels go on every series it exports, whatever the exporter.
  std::vector<prometheus::MetricFamily> families = std::move(result.families);
  if (!settings.labels.empty()) {
    for (auto& family : families) {
      for (auto& metric : family.metric) {
        for (const auto& extra : settings.labels) {
          // Config validation reserves the names exporters use; never emit one twice anyway.
          const bool taken = std::any_of(metric.label.begin(), metric.label.end(),
                                         [&](const auto& l) { return l.name == extra.first; });
          if (!taken) metric.label.push_back({extra.first, extra.second});
        }
      }
    }
  }

  MetricSet self;
  const Labels labels = {{"exporter", instance.spec.exporter}, {"check", settings.check}};
  self.Gauge("sre_agent_collect_duration_seconds", "Duration of the check's last run.", labels,
             ToSeconds(took));
  self.Gauge("sre_agent_collect_success", "Whether the check's last run succeeded (1) or not (0).",
             labels, result.success ? 1 : 0);
  self.Gauge("sre_agent_collect_absent",
             "Whether the check's last run found its service not on this node (reason "
             "not_present): 1 is not a failure to page about.",
             labels, result.reason == Reason::kNotPresent ? 1 : 0);
  self.Gauge("sre_agent_collect_last_timestamp_seconds", "When the check's last run finished.",
             labels, now_unix);
  self.Counter("sre_agent_collects_total", "Runs of the check.", labels,
               static_cast<double>(instance.runs));
  self.Counter("sre_agent_skipped_ticks_total",
               "Ticks not run because the previous run was still going or the loop was late.",
               labels, static_cast<double>(instance.skipped_ticks));
  for (const auto& [reason, count] : instance.errors) {
    self.Counter("sre_agent_collect_errors_total", "Failed runs of the check, by reason.",
                 WithLabels(labels, {{"reason", std::string(ReasonName(reason))}}),
                 static_cast<double>(count));
  }
  std::vector<prometheus::MetricFamily> own = self.Take();
  families.reserve(families.size() + own.size());
  std::move(own.begin(), own.end(), std::back_inserter(families));
  if (observer_) observer_(instance.key, &families);
  store_.Publish(instance.key, MakeSnapshot(std::move(status), families, &headers_, &scratch_));
}

std::vector<prometheus::MetricFamily> Scheduler::SelfFamilies() const {
  MetricSet set;
  set.Histogram("sre_agent_collect_start_lateness_seconds",
                "How long after its tick was due each run started, over every check.", {},
                start_lateness_.ToMetric());
  return set.Take();
}

}  // namespace sre
