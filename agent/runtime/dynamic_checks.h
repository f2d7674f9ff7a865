#pragma once

#include <prometheus/metric_family.h>

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/core/exporter_factory.h"
#include "agent/core/exporter_registry.h"
#include "agent/core/log.h"
#include "agent/discovery/discovery_config.h"
#include "agent/discovery/peer_health.h"
#include "agent/discovery/pod_checks.h"
#include "agent/discovery/pod_watch.h"
#include "agent/discovery/rendezvous.h"
#include "agent/net/curl_multi.h"

namespace sre {

/// The checks this agent runs, which change without a reload: the configured ones, minus the
/// SLA probes (`replicas: k`) other members of the DaemonSet own, plus the checks pods on this
/// node ask for by annotation. Owns the Kubernetes watches (pods of this node; the DaemonSet's
/// members) or the static peers' health polls, and hands every new set to `apply` (the
/// scheduler, which keeps unchanged checks running). Loop-thread only.
class DynamicChecks {
 public:
  using Apply = std::function<Status(const std::vector<InstanceSpec>&)>;

  DynamicChecks(net::CurlMulti& curl, Logger& log, const ExporterRegistry& registry, Apply apply);
  ~DynamicChecks();

  /// A (re)loaded config: keeps the watches whose settings did not change, starts or stops the
  /// others, and applies the resulting set. Fails, changing nothing, when `apply` fails.
  Status Configure(std::vector<InstanceSpec> configured, discovery::DiscoveryConfig config,
                   discovery::DiscoveredCheckDefaults defaults);

  /// sre_agent_members, sre_agent_probe_owned, sre_agent_discovered_checks and the watches'
  /// sre_agent_kubernetes_* series; none of them without sharding or discovery.
  std::vector<prometheus::MetricFamily> SelfFamilies() const;

 private:
  /// Computes the set and applies it; called on every change.
  Status ApplyNow();
  void OnNodePods(const std::map<std::string, discovery::Pod>& pods);
  void OnMembers(std::vector<std::string> members);
  bool Owned(const InstanceSpec& spec) const;

  net::CurlMulti& curl_;
  Logger& log_;
  const ExporterRegistry& registry_;
  const Apply apply_;
  std::vector<InstanceSpec> configured_;
  std::vector<InstanceSpec> discovered_;
  discovery::DiscoveryConfig config_;
  discovery::DiscoveredCheckDefaults defaults_;
  /// Members as last reported; nullopt until the first report (owning nothing meanwhile).
  std::optional<discovery::Membership> members_;
  std::unique_ptr<discovery::PodWatch> pod_watch_;      // this node's pods
  std::unique_ptr<discovery::PodWatch> member_watch_;   // the DaemonSet's pods
  std::unique_ptr<discovery::PeerHealth> peer_health_;  // or the static peers
};

}  // namespace sre
