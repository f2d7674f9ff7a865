#include "agent/runtime/dynamic_checks.h"

#include <fmt/format.h>

#include "agent/core/metric_set.h"
#include "agent/runtime/scheduler.h"

namespace sre {

DynamicChecks::DynamicChecks(net::CurlMulti& curl, Logger& log, const ExporterRegistry& registry,
                             Apply apply)
    : curl_(curl), log_(log), registry_(registry), apply_(std::move(apply)) {}

DynamicChecks::~DynamicChecks() = default;

Status DynamicChecks::Configure(std::vector<InstanceSpec> configured,
                                discovery::DiscoveryConfig config,
                                discovery::DiscoveredCheckDefaults defaults) {
  const discovery::DiscoveryConfig previous = config_;
  const bool api_changed = !(config.kubernetes == previous.kubernetes);
  const bool pods_changed = api_changed || !(config.pods == previous.pods) ||
                            defaults.interval != defaults_.interval ||
                            defaults.timeout != defaults_.timeout;
  const bool sharding_changed = api_changed || !(config.sharding == previous.sharding);
  // Owners under the new sharding settings from the start: new member sources know no members
  // yet, so the agent starts none of the shared probes until they report.
  std::optional<discovery::Membership> members;
  if (!sharding_changed) members = members_;
  std::swap(configured_, configured);
  std::swap(members_, members);
  config_ = std::move(config);
  if (Status s = ApplyNow(); !s.ok()) {
    // The scheduler kept the old set: so does everything here.
    std::swap(configured_, configured);
    std::swap(members_, members);
    config_ = previous;
    return s;
  }
  defaults_ = defaults;
  if (pods_changed) {
    // Started over from a fresh list: rare (a reload that changes these), and simple.
    pod_watch_.reset();
    discovered_.clear();
    if (config_.pods.enabled()) {
      pod_watch_ = std::make_unique<discovery::PodWatch>(
          curl_, log_, config_.kubernetes,
          discovery::PodQuery{"pods", "", "spec.nodeName=" + config_.pods.node_name, ""},
          [this](const auto& pods) { OnNodePods(pods); });
      pod_watch_->Start();
    }
  }
  if (sharding_changed) {
    member_watch_.reset();
    peer_health_.reset();
    const discovery::ShardingConfig& sharding = config_.sharding;
    if (!sharding.label_selector.empty()) {
      member_watch_ = std::make_unique<discovery::PodWatch>(
          curl_, log_, config_.kubernetes,
          discovery::PodQuery{"members", sharding.namespace_name, "", sharding.label_selector},
          [this](const std::map<std::string, discovery::Pod>& pods) {
            std::vector<std::string> ready;
            for (const auto& [uid, pod] : pods) {
              if (pod.ready && !pod.terminating) ready.push_back(pod.name);
            }
            OnMembers(std::move(ready));
          });
      member_watch_->Start();
    } else if (!sharding.peers.empty()) {
      peer_health_ = std::make_unique<discovery::PeerHealth>(
          curl_, log_, sharding, [this](const std::vector<std::string>& m) { OnMembers(m); });
      peer_health_->Start();
    }
  }
  if (pods_changed || sharding_changed) {
    if (Status s = ApplyNow(); !s.ok()) {
      log_.WarnLimited("checks not applied after a discovery change", {{"error", s.message()}});
    }
  }
  return Status::Ok();
}

bool DynamicChecks::Owned(const InstanceSpec& spec) const {
  if (spec.settings.replicas <= 0 || !config_.sharding.enabled()) return true;
  // Every agent names a probe alike: the same config gives the same exporter and check.
  return members_.has_value() &&
         members_->Owns(InstanceKey(spec.exporter, spec.settings.check), config_.sharding.self,
                        static_cast<size_t>(spec.settings.replicas));
}

Status DynamicChecks::ApplyNow() {
  std::vector<InstanceSpec> effective;
  std::set<std::string> keys;
  for (const InstanceSpec& spec : configured_) {
    if (!Owned(spec)) continue;
    effective.push_back(spec);
    keys.insert(InstanceKey(spec.exporter, spec.settings.check));
  }
  for (const InstanceSpec& spec : discovered_) {
    // A configured check of the same name wins; the pod's is left out rather than replacing it.
    if (keys.insert(InstanceKey(spec.exporter, spec.settings.check)).second) {
      effective.push_back(spec);
    }
  }
  return apply_(effective);
}

void DynamicChecks::OnNodePods(const std::map<std::string, discovery::Pod>& pods) {
  std::vector<discovery::Pod> node_pods;
  for (const auto& [uid, pod] : pods) node_pods.push_back(pod);
  discovery::PodChecks checks = discovery::ChecksForPods(node_pods, registry_, defaults_);
  for (const std::string& error : checks.errors) {
    // "<namespace>/<pod>: ...": one line per pod and minute, whatever the error text.
    log_.WarnLimited("pod annotation ignored",
                     {{"pod", error.substr(0, error.find(": "))}, {"error", error}});
  }
  discovered_ = std::move(checks.specs);
  if (Status s = ApplyNow(); !s.ok()) {
    log_.WarnLimited("discovered checks not applied", {{"error", s.message()}});
  }
}

void DynamicChecks::OnMembers(std::vector<std::string> members) {
  discovery::Membership next(std::move(members));
  if (members_.has_value() && members_->names() == next.names()) return;
  log_.Info("sharding members changed",
            {{"members", std::to_string(next.size())}, {"self", config_.sharding.self}});
  members_ = std::move(next);
  if (Status s = ApplyNow(); !s.ok()) {
    log_.WarnLimited("sharded checks not applied", {{"error", s.message()}});
  }
}

std::vector<prometheus::MetricFamily> DynamicChecks::SelfFamilies() const {
  MetricSet set;
  if (config_.sharding.enabled()) {
    set.Gauge("sre_agent_members",
              "Members of the agent's DaemonSet (or peers) sharing SLA probes.", {},
              members_ ? static_cast<double>(members_->size()) : 0);
    for (const InstanceSpec& spec : configured_) {
      if (spec.settings.replicas <= 0) continue;
      const Labels labels = {{"exporter", spec.exporter}, {"check", spec.settings.check}};
      set.Gauge("sre_agent_probe_owned",
                "1 when this agent runs the check (one of its `replicas` owners), else 0.", labels,
                Owned(spec) ? 1 : 0);
      set.Gauge("sre_agent_probe_replicas",
                "How many agents should run the check (its `replicas`); every agent says it.",
                labels, static_cast<double>(spec.settings.replicas));
    }
  }
  if (config_.pods.enabled()) {
    std::map<std::string, size_t> by_exporter;
    for (const auto& [annotation, exporter] : discovery::CheckAnnotations()) by_exporter[exporter];
    for (const InstanceSpec& spec : discovered_) ++by_exporter[spec.exporter];
    for (const auto& [exporter, count] : by_exporter) {
      set.Gauge("sre_agent_discovered_checks",
                "Checks that pods on this node ask for by annotation.", {{"exporter", exporter}},
                static_cast<double>(count));
    }
  }
  for (const auto* watch : {pod_watch_.get(), member_watch_.get()}) {
    if (watch == nullptr) continue;
    const discovery::PodWatchStats stats = watch->stats();
    const Labels labels = {{"watch", watch == pod_watch_.get() ? "pods" : "members"}};
    set.Gauge("sre_agent_kubernetes_watch_synced", "1 once the watch's first list has arrived.",
              labels, stats.synced ? 1 : 0);
    set.Gauge("sre_agent_kubernetes_watch_pods", "Pods the watch knows now.", labels,
              static_cast<double>(stats.pods));
    set.Counter("sre_agent_kubernetes_watch_errors_total",
                "Failed list or watch requests and dropped streams, retried after a backoff.",
                labels, static_cast<double>(stats.errors));
    set.Counter("sre_agent_kubernetes_relists_total",
                "Lists made again because the watch's resourceVersion had expired (410 Gone).",
                labels, static_cast<double>(stats.relists_gone));
  }
  return set.Take();
}

}  // namespace sre
