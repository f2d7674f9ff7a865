#pragma once

// Pods opt in to checks by annotation: `sre-agent.io/php-fpm: "tcp://:9000/status"` or
// `sre-agent.io/fluentd: "http://:24220"`. An empty host means the pod's IP, and no other host is
// allowed: a pod asks for checks of itself, never of another address. Each annotation of
// a ready pod becomes one check of that exporter, named `<namespace>/<pod>`, labelled
// k8s_namespace, k8s_pod and k8s_container (the container that declares the port, else the
// first one). Pure: pods in, InstanceSpecs out.

#include <string>
#include <vector>

#include "agent/config/source.h"
#include "agent/core/exporter_factory.h"
#include "agent/core/exporter_registry.h"
#include "agent/discovery/pod.h"

namespace sre::discovery {

/// Defaults for discovered checks (the agent's `agent:` section).
struct DiscoveredCheckDefaults {
  Duration interval = std::chrono::seconds(15);
  Duration timeout = std::chrono::seconds(10);  ///< capped at 4/5 of the interval
};

struct PodChecks {
  std::vector<InstanceSpec> specs;  ///< sorted by exporter, then check
  /// One line per annotation that could not become a check ("default/web-1: sre-agent.io/php-fpm:
  /// invalid address ..."), for a rate-limited warning; the pod's other annotations still count.
  std::vector<std::string> errors;
};

/// The checks `pods` ask for. Pods that are not ready, are terminating or have no IP are
/// skipped (their checks go away until they are ready again). Each spec is parsed by its
/// exporter's own schema (registry), so it is exactly what the same check in the config file
/// would be; its fingerprint depends only on what the annotation and the pod say, so an
/// unchanged pod keeps its check running across updates of other fields.
PodChecks ChecksForPods(const std::vector<Pod>& pods, const ExporterRegistry& registry,
                        const DiscoveredCheckDefaults& defaults);

/// The annotations and the exporter each maps to, for docs and errors.
/// {"sre-agent.io/php-fpm", "php_fpm"}, {"sre-agent.io/fluentd", "fluentd"}.
const std::vector<std::pair<std::string, std::string>>& CheckAnnotations();

}  // namespace sre::discovery
