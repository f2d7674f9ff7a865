#pragma once

// The `kubernetes:`, `discovery:` and `sharding:` sections of the agent's config file.
//
//   kubernetes:                  # how to reach the API server; the defaults are in-cluster
//     api_server: https://kubernetes.default.svc
//   discovery:
//     node_name: ${NODE_NAME:-}  # watch this node's pods for sre-agent.io/* annotations
//   sharding:
//     self: ${POD_NAME}          # this agent's member name
//     namespace: ${POD_NAMESPACE}
//     label_selector: app.kubernetes.io/name=sre-agent   # members: ready pods matching it
//     # or, off Kubernetes: peers: [http://10.0.0.1:8944, ...], self being one of them

#include <string>
#include <vector>

#include "agent/base/clock.h"
#include "agent/config/schema.h"

namespace sre::discovery {

/// How to reach the Kubernetes API: a service account's token and CA, as mounted in a pod.
struct KubernetesApiConfig {
  /// Empty: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, as in-cluster clients do.
  std::string api_server;
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  /// Read again at every connection: kubelet rotates projected tokens.
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  bool operator==(const KubernetesApiConfig&) const = default;
};

struct PodDiscoveryConfig {
  std::string node_name;  ///< empty: no pod discovery
  bool enabled() const { return !node_name.empty(); }
  bool operator==(const PodDiscoveryConfig&) const = default;
};

struct ShardingConfig {
  std::string self;                ///< this agent's member name (its pod name, or its peer URL)
  std::string namespace_name;      ///< where the DaemonSet's pods are
  std::string label_selector;      ///< members: ready pods matching it
  std::vector<std::string> peers;  ///< or: a static list of agents' base URLs, health-polled
  Duration peer_interval = std::chrono::seconds(5);
  bool enabled() const { return !label_selector.empty() || !peers.empty(); }
  bool operator==(const ShardingConfig&) const = default;
};

struct DiscoveryConfig {
  KubernetesApiConfig kubernetes;
  PodDiscoveryConfig pods;
  ShardingConfig sharding;
  bool operator==(const DiscoveryConfig&) const = default;
};

const config::Schema<KubernetesApiConfig>& KubernetesApiSchema();
const config::Schema<PodDiscoveryConfig>& PodDiscoverySchema();
const config::Schema<ShardingConfig>& ShardingSchema();

}  // namespace sre::discovery
