#include "agent/server/probe_endpoint.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "agent/config/duration.h"
#include "agent/core/metric_set.h"
#include "agent/runtime/snapshot_store.h"
#include "agent/runtime/target_allowlist.h"

namespace sre::server {
namespace {

constexpr char kText004[] = "text/plain; version=0.0.4; charset=utf-8";
// blackbox_exporter's default module, used when a request names none.
constexpr char kDefaultModule[] = "http_2xx";
constexpr double kNoHeaderTimeoutSeconds = 120;

/// The first value of query argument `key`, or "" (Go's url.Values.Get).
std::string Query(const HttpRequest& request, const std::string& key) {
  auto it = request.query.find(key);
  return it == request.query.end() ? "" : it->second;
}

bool HasFamily(const std::vector<prometheus::MetricFamily>& families, std::string_view name) {
  return std::any_of(families.begin(), families.end(),
                     [&](const prometheus::MetricFamily& family) { return family.name == name; });
}

/// The result's families, with the two that blackbox_exporter's handler itself always adds.
std::string RenderFamilies(const CollectResult& result, Duration took) {
  std::vector<prometheus::MetricFamily> families = result.families;
  MetricSet always;
  if (!HasFamily(families, "probe_success")) {
    always.Gauge("probe_success", "Displays whether or not the probe was a success", {},
                 result.success ? 1 : 0);
  }
  if (!HasFamily(families, "probe_duration_seconds")) {
    always.Gauge("probe_duration_seconds", "Returns how long the probe took to complete in seconds",
                 {}, ToSeconds(took));
  }
  for (prometheus::MetricFamily& family : always.Take()) families.push_back(std::move(family));
  return MergeExposition({MakeSnapshot({}, families)}, ExpositionFormat::kText004);
}

/// What `debug=true` answers: the outcome in words, the metrics, and the module.
std::string DebugText(const ProbeModule& module, const std::string& target, double timeout,
                      const CollectResult& result, const std::string& metrics) {
  std::string text =
      fmt::format("Probe of \"{}\" with module \"{}\" (prober {}, timeout {}s): {}", target,
                  module.name, module.prober, timeout, result.success ? "success" : "failure");
  if (!result.success) {
    text += fmt::format(" ({}: {})", ReasonName(result.reason), result.message);
  }
  text += "\n";
  for (const Observation& observation : result.observations) {
    text += fmt::format("  {}: {} {}s", observation.subject, observation.success ? "ok" : "failed",
                        ToSeconds(observation.duration));
    if (!observation.success) {
      text += fmt::format(" {}: {}", ReasonName(observation.reason), observation.message);
    }
    text += "\n";
  }
  text += "\n\n\nMetrics that would have been returned:\n" + metrics;
  text += fmt::format("\n\n\nModule configuration:\nprober: {}\n", module.prober);
  if (module.timeout > Duration::zero()) {
    text += fmt::format("timeout: {}\n", config::FormatDuration(module.timeout));
  }
  if (!module.options.empty()) {
    text += module.prober + ":\n";
    std::string_view options = module.options;
    while (!options.empty()) {
      const size_t end = options.find('\n');
      text += "  ";
      text += options.substr(0, end);
      text += "\n";
      if (end == std::string_view::npos) break;
      options.remove_prefix(end + 1);
    }
  }
  return text;
}

HttpResponse NotAllowed(const std::string& target, const ProbeConfig& config) {
  const std::optional<std::string> host = TargetHost(target);
  if (!host) {
    return HttpResponse::Text(
        403, fmt::format("Target \"{}\" is not allowed: it names no host that probe.allow can "
                         "match (expected host:port, a URL or an IP address)\n",
                         target));
  }
  return HttpResponse::Text(
      403, fmt::format(
               "Target \"{}\" is not allowed: add \"{}\", or a *.domain wildcard or CIDR block "
               "that covers it, to probe.allow in the agent's configuration file{}\n",
               target, *host,
               config.allow.empty() ? " (probe.allow is empty, so every target is refused)" : ""));
}

}  // namespace

Result<double> ProbeTimeoutSeconds(const std::string* scrape_timeout_header,
                                   Duration module_timeout, double offset_seconds) {
  double timeout = 0;
  if (scrape_timeout_header != nullptr && !scrape_timeout_header->empty()) {
    std::string_view text = *scrape_timeout_header;
    if (text.front() == '+') text.remove_prefix(1);
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), timeout);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
        !std::isfinite(timeout)) {
      return Status::Error(
          fmt::format("\"{}\" is not a number of seconds", *scrape_timeout_header));
    }
  }
  if (timeout == 0) timeout = kNoHeaderTimeoutSeconds;
  const double max_timeout = timeout - offset_seconds;
  const double module_seconds = ToSeconds(module_timeout);
  if ((module_seconds > 0 && module_seconds < max_timeout) || max_timeout < 0) {
    return module_seconds;
  }
  return max_timeout;
}

AsyncHttpHandler ProbeHandler(Agent& agent, const Clock& clock, ProbeEndpointOptions options) {
  return [&agent, &clock, options](const HttpRequest& request, HttpRespond respond) {
    if (request.method != "GET" && request.method != "HEAD") {
      HttpResponse response = HttpResponse::Text(405, "method not allowed; use GET, HEAD\n");
      response.headers.emplace_back("Allow", "GET, HEAD");
      respond(std::move(response));
      return;
    }
    // The order of the checks is blackbox_exporter's.
    const std::shared_ptr<const ProbeConfig> config = agent.probe_config();
    std::string module_name = Query(request, "module");
    if (module_name.empty()) module_name = kDefaultModule;
    const ProbeModule* module = config->FindModule(module_name);
    if (module == nullptr) {
      respond(HttpResponse::Text(400, fmt::format("Unknown module \"{}\"\n", module_name)));
      return;
    }
    Result<double> timeout =
        ProbeTimeoutSeconds(request.Header("x-prometheus-scrape-timeout-seconds"), module->timeout,
                            options.timeout_offset_seconds);
    if (!timeout.ok()) {
      respond(HttpResponse::Text(500, "Failed to parse timeout from Prometheus header: " +
                                          timeout.status().message() + "\n"));
      return;
    }
    const double seconds = std::clamp(*timeout, 0.0, options.max_timeout_seconds);
    const std::string target = Query(request, "target");
    if (target.empty()) {
      respond(HttpResponse::Text(400, "Target parameter is missing\n"));
      return;
    }
    if (!config->allow.Allows(target)) {
      respond(NotAllowed(target, *config));
      return;
    }
    const auto budget =
        std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
    // Parsed per request: reads the files the module names (a CA bundle) each time.
    Result<InstanceSpec> spec = module->Instantiate(target, budget);
    if (!spec.ok()) {
      respond(HttpResponse::Text(400, spec.status().message() + "\n"));
      return;
    }
    const bool debug = Query(request, "debug") == "true";
    const TimePoint start = clock.Now();
    // `config` keeps the module alive until the answer is written.
    agent.Probe(
        std::move(spec).value(), budget,
        [respond, config, module, target, seconds, debug, start,
         &clock](Result<CollectResult> result) {
          if (!result.ok()) {
            respond(HttpResponse::Text(
                503, "Cannot run the probe: " + result.status().message() + "\n"));
            return;
          }
          const std::string metrics = RenderFamilies(*result, clock.Now() - start);
          if (debug) {
            respond(HttpResponse::Text(200, DebugText(*module, target, seconds, *result, metrics)));
            return;
          }
          HttpResponse response = HttpResponse::Text(200, metrics);
          response.content_type = kText004;
          respond(std::move(response));
        });
  };
}

}  // namespace sre::server
