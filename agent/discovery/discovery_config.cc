#include "agent/discovery/discovery_config.h"

#include <algorithm>

namespace sre::discovery {

const config::Schema<KubernetesApiConfig>& KubernetesApiSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<KubernetesApiConfig>("kubernetes");
    s->Field("api_server", &KubernetesApiConfig::api_server, "API server base URL")
        .DefaultText("https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT");
    s->Field("ca_file", &KubernetesApiConfig::ca_file, "CA bundle of the API server");
    s->Field("token_file", &KubernetesApiConfig::token_file,
             "bearer token (a service account's), read again at every connection");
    return s;
  }();
  return *schema;
}

const config::Schema<PodDiscoveryConfig>& PodDiscoverySchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<PodDiscoveryConfig>("discovery");
    s->Field("node_name", &PodDiscoveryConfig::node_name,
             "watch the pods of this node (spec.nodeName; ${NODE_NAME:-} from the downward API) "
             "for sre-agent.io/php-fpm and sre-agent.io/fluentd annotations; empty: off");
    return s;
  }();
  return *schema;
}

const config::Schema<ShardingConfig>& ShardingSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<ShardingConfig>("sharding");
    s->Field("self", &ShardingConfig::self,
             "this agent's member name: its pod name (${POD_NAME}), or its URL in peers")
        .Required();
    s->Field("namespace", &ShardingConfig::namespace_name,
             "namespace of the agent's DaemonSet (${POD_NAMESPACE})");
    s->Field("label_selector", &ShardingConfig::label_selector,
             "members are the ready pods matching it, such as app.kubernetes.io/name=sre-agent");
    s->Field("peers", &ShardingConfig::peers,
             "off Kubernetes: every agent's base URL (http://10.0.0.1:8944), self included; a peer "
             "is a member while its /-/ready answers");
    s->Field("peer_interval", &ShardingConfig::peer_interval, "how often peers are polled");
    s->Check([](const ShardingConfig& c) -> std::optional<std::string> {
      if (c.label_selector.empty() == c.peers.empty()) {
        return "set either label_selector (members from Kubernetes) or peers (a static list)";
      }
      if (!c.label_selector.empty() && c.namespace_name.empty()) {
        return "label_selector needs namespace: the DaemonSet's (${POD_NAMESPACE})";
      }
      if (!c.peers.empty() && std::find(c.peers.begin(), c.peers.end(), c.self) == c.peers.end()) {
        return "self (\"" + c.self + "\") must be one of peers";
      }
      if (c.peer_interval < std::chrono::milliseconds(100)) {
        return "peer_interval must be at least 100ms";
      }
      return std::nullopt;
    });
    return s;
  }();
  return *schema;
}

}  // namespace sre::discovery
