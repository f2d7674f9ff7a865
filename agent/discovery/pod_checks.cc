#include "agent/discovery/pod_checks.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>
#include <tuple>

#include "agent/config/duration.h"

namespace sre::discovery {
namespace {

/// An annotation's URI, split where the pod's IP may go in: SCHEME://[HOST][:PORT][REST].
struct AnnotationUri {
  std::string scheme;
  std::string host;  ///< as written, IPv6 in brackets; empty: the pod's IP
  int port = 0;      ///< 0: none written (the exporter's default)
  std::string rest;  ///< from the first '/', '?' or '#' on
};

Result<AnnotationUri> SplitUri(std::string_view text) {
  const auto invalid = [text](std::string_view why) {
    return Status::Error(
        fmt::format("invalid address \"{}\": {}; expected SCHEME://[HOST]:PORT[/PATH], like "
                    "tcp://:9000/status (no host: the pod's IP)",
                    text, why));
  };
  const size_t separator = text.find("://");
  if (separator == std::string_view::npos || separator == 0) return invalid("no scheme");
  AnnotationUri uri;
  uri.scheme = std::string(text.substr(0, separator));
  const std::string_view after = text.substr(separator + 3);
  const size_t authority_end = std::min(after.find_first_of("/?#"), after.size());
  const std::string_view authority = after.substr(0, authority_end);
  uri.rest = std::string(after.substr(authority_end));

  std::string_view port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalid("unclosed [");
    uri.host = std::string(authority.substr(0, close + 1));
    const std::string_view tail = authority.substr(close + 1);
    if (!tail.empty() && !tail.starts_with(':')) return invalid("expected :PORT after ]");
    if (!tail.empty()) port = tail.substr(1);
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    uri.host = std::string(authority.substr(0, colon));
    port = authority.substr(colon + 1);
  } else {
    uri.host = std::string(authority);
  }
  if (!port.empty()) {
    if (port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return invalid(fmt::format("\"{}\" is not a port", port));
    }
    uri.port = std::stoi(std::string(port));
    if (uri.port < 1 || uri.port > 65535) return invalid(fmt::format("port {} out of range", port));
  }
  if (uri.host.empty() && uri.port == 0) {
    return invalid("without a host, the port must be given (the pod's IP has no default port)");
  }
  return uri;
}

std::string WithHost(const AnnotationUri& uri, const std::string& pod_ip) {
  std::string host = uri.host;
  if (host.empty()) host = pod_ip.find(':') == std::string::npos ? pod_ip : "[" + pod_ip + "]";
  const std::string port = uri.port == 0 ? "" : fmt::format(":{}", uri.port);
  return fmt::format("{}://{}{}{}", uri.scheme, host, port, uri.rest);
}

/// The container that declares `port`, else the first one: a label people can filter on.
std::string ContainerFor(const Pod& pod, int port) {
  for (const PodContainer& container : pod.containers) {
    if (std::find(container.ports.begin(), container.ports.end(), port) != container.ports.end()) {
      return container.name;
    }
  }
  return pod.containers.empty() ? "" : pod.containers.front().name;
}

/// The check one annotation of a ready pod asks for, parsed by the exporter's own schema.
Result<InstanceSpec> CheckFor(const Pod& pod, const std::string& annotation,
                              const std::string& value, const ExporterFactory& factory,
                              const std::string& uri_key, const DiscoveredCheckDefaults& defaults) {
  auto uri = SplitUri(value);
  if (!uri.ok()) return uri.status();
  // Whoever may annotate a pod must not aim the agent at anything else (another namespace's
  // service, the cloud's metadata address): a pod asks for checks of itself only.
  if (!uri->host.empty() && uri->host != pod.ip && uri->host != "[" + pod.ip + "]") {
    return Status::Error(fmt::format(
        "host \"{}\" is not the pod's IP ({}): a pod may only ask for checks of itself; leave "
        "the host out",
        uri->host, pod.ip));
  }
  const std::string check = pod.namespace_name + "/" + pod.name;

  YAML::Node node(YAML::NodeType::Map);
  node["check"] = config::Literal(check);
  node[uri_key].push_back(config::Literal(WithHost(*uri, pod.ip)));
  node["labels"]["k8s_namespace"] = config::Literal(pod.namespace_name);
  node["labels"]["k8s_pod"] = config::Literal(pod.name);
  node["labels"]["k8s_container"] = config::Literal(ContainerFor(pod, uri->port));
  node["interval"] = config::FormatDuration(defaults.interval);
  node["timeout"] =
      config::FormatDuration(DefaultCheckTimeout(defaults.timeout, defaults.interval));

  // Nothing may be expanded (config::Literal() escaped every `$`), so no variable is ever looked
  // up.
  const config::ParseContext ctx(fmt::format("pod {} annotation {}", check, annotation),
                                 [](const std::string&) { return std::optional<std::string>(); });
  auto spec = factory.Parse(node, ctx);
  if (!spec.ok())
    return Status::Error(config::WithoutPosition(spec.status().message(), ctx.file()));
  return spec;
}

/// An opt-in annotation, the exporter it asks for, and that exporter's list of addresses.
struct AnnotatedExporter {
  std::string_view annotation;
  std::string_view exporter;
  std::string_view uri_key;
};

constexpr AnnotatedExporter kAnnotatedExporters[] = {
    {"sre-agent.io/php-fpm", "php_fpm", "scrape_uri"},
    {"sre-agent.io/fluentd", "fluentd", "urls"},
};

}  // namespace

const std::vector<std::pair<std::string, std::string>>& CheckAnnotations() {
  static const auto* annotations = [] {
    auto* list = new std::vector<std::pair<std::string, std::string>>;
    for (const AnnotatedExporter& entry : kAnnotatedExporters) {
      list->emplace_back(entry.annotation, entry.exporter);
    }
    return list;
  }();
  return *annotations;
}

PodChecks ChecksForPods(const std::vector<Pod>& pods, const ExporterRegistry& registry,
                        const DiscoveredCheckDefaults& defaults) {
  PodChecks out;
  for (const Pod& pod : pods) {
    if (!pod.ready || pod.terminating || pod.ip.empty()) continue;
    for (const AnnotatedExporter& entry : kAnnotatedExporters) {
      const std::string annotation(entry.annotation);
      auto found = pod.annotations.find(annotation);
      if (found == pod.annotations.end()) continue;
      const auto fail = [&](std::string_view message) {
        out.errors.push_back(
            fmt::format("{}/{}: {}: {}", pod.namespace_name, pod.name, annotation, message));
      };
      const ExporterFactory* factory = registry.Find(entry.exporter);
      if (factory == nullptr) {
        fail(fmt::format("this build has no {} exporter", entry.exporter));
        continue;
      }
      auto spec =
          CheckFor(pod, annotation, found->second, *factory, std::string(entry.uri_key), defaults);
      if (!spec.ok()) {
        fail(spec.status().message());
        continue;
      }
      out.specs.push_back(std::move(spec).value());
    }
  }
  std::sort(out.specs.begin(), out.specs.end(), [](const InstanceSpec& a, const InstanceSpec& b) {
    return std::tie(a.exporter, a.settings.check) < std::tie(b.exporter, b.settings.check);
  });
  return out;
}

}  // namespace sre::discovery
