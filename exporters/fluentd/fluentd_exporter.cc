#include "exporters/fluentd/fluentd_exporter.h"

#include <fmt/format.h>

#include "agent/base/callback.h"
#include "agent/core/metric_set.h"

namespace sre::exporters::fluentd {
namespace {

constexpr std::string_view kUpHelp = "Could the monitor_agent API be read and parsed?";

std::string Bytes(double bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  if (bytes < 1024 * 1024) return fmt::format("{:.1f} KiB", bytes / 1024);
  return fmt::format("{:.1f} MiB", bytes / (1024 * 1024));
}

// "queue 1 (117 B), stage 0 (0 B), 99.9% free, retrying: step 3, next 2025-05-29 16:05:52
// +0900": what someone looking at a stuck output wants first.
std::string Summary(const PluginStatus& p) {
  std::vector<std::string> parts;
  const auto& queue = p.Get(Field::kBufferQueueLength);
  const auto& stage = p.Get(Field::kBufferStageLength);
  if (queue || stage) {
    if (queue) {
      parts.push_back(fmt::format("queue {} ({})", *queue,
                                  Bytes(p.Get(Field::kBufferQueueByteSize).value_or(0))));
    }
    if (stage) {
      parts.push_back(fmt::format("stage {} ({})", *stage,
                                  Bytes(p.Get(Field::kBufferStageByteSize).value_or(0))));
    }
    if (const auto& free = p.Get(Field::kBufferAvailableBufferSpaceRatios)) {
      parts.push_back(fmt::format("{}% free", *free));
    }
  } else if (p.category == "output") {
    parts.emplace_back("no buffer");
  }
  if (p.retry && p.retry->next_time) {
    std::string retrying = "retrying";
    if (p.retry->steps) retrying += fmt::format(": step {}", *p.retry->steps);
    retrying += fmt::format(", next {}", p.retry->next_time_text);
    parts.push_back(std::move(retrying));
  } else if (p.category == "output" && !p.retry) {
    parts.emplace_back("retry state not reported (include_retry)");
  }
  if (parts.empty()) parts.emplace_back(p.category);
  return fmt::format("{}", fmt::join(parts, ", "));
}

Observation PluginObservation(std::string subject, const PluginStatus& p,
                              const std::string& label_id) {
  Observation o{std::move(subject), true, Reason::kNone, Summary(p), Duration{0}, {}, {}};
  for (const Field field : {Field::kRetryCount, Field::kEmitRecords, Field::kWriteCount,
                            Field::kRollbackCount, Field::kSlowFlushCount}) {
    if (const auto& value = p.Get(field)) {
      o.figures[std::string(kFieldKeys[static_cast<size_t>(field)])] = *value;
    }
  }
  o.details["type"] = p.type;
  if (label_id != p.plugin_id) o.details["fluentd_plugin_id"] = p.plugin_id;
  if (p.retry && !p.retry->start_text.empty()) o.details["retry_start"] = p.retry->start_text;
  return o;
}

PluginSelection SelectionOf(const FluentdConfig& config) {
  return {config.plugin_ids, config.types, config.categories, config.stable_ids};
}

}  // namespace

FluentdExporter::FluentdExporter(const FluentdConfig& config, net::CurlMulti& curl)
    : config_(config),
      selection_(SelectionOf(config)),
      limits_{static_cast<size_t>(config.max_body_bytes)} {
  for (const Endpoint& endpoint : config_.endpoints) {
    Target& target = targets_.emplace_back();
    target.endpoint = endpoint;
    target.request = std::make_unique<PluginsRequest>(curl, endpoint.url, limits_.max_bytes);
  }
}

FluentdExporter::~FluentdExporter() { Cancel(); }

void FluentdExporter::Cancel() {
  for (Target& target : targets_) target.request->Cancel();
  pending_ = 0;
  done_ = nullptr;
}

void FluentdExporter::Collect(TimePoint deadline, Done done) {
  done_ = std::move(done);
  pending_ = targets_.size();
  for (size_t i = 0; i < targets_.size(); ++i) {
    targets_[i].request->Start(deadline,
                               [this, i](const FetchResult& fetched) { OnFetched(i, fetched); });
  }
}

void FluentdExporter::OnFetched(size_t index, const FetchResult& fetched) {
  Target& target = targets_[index];
  target.reason = fetched.reason;
  target.message = fetched.message;
  if (config_.optional && fetched.reason == Reason::kConnectionRefused) {
    target.reason = Reason::kNotPresent;  // nothing listens: Fluentd is not on this node
  }
  target.elapsed = fetched.elapsed;
  target.plugins.clear();
  if (fetched.reason == Reason::kNone) {
    // Parsed as each answer comes, so one collection's work is spread over the loop's turns.
    auto plugins = ParsePlugins(*fetched.body, limits_);
    if (plugins.ok()) {
      target.plugins = std::move(plugins).value();
    } else {
      target.reason = Reason::kProtocolError;
      target.message = plugins.status().message();
    }
  }
  if (--pending_ == 0) Finish();
}

std::string FluentdExporter::Subject(const Target& target) const {
  if (targets_.size() == 1) return "";
  if (!target.endpoint.worker) return target.endpoint.target;
  if (config_.urls.size() == 1) return fmt::format("worker{}", *target.endpoint.worker);
  return fmt::format("{} worker{}", target.endpoint.target, *target.endpoint.worker);
}

void FluentdExporter::Report(Target& target, MetricSet& set, CollectResult& result,
                             size_t& reported, size_t& retrying) const {
  const bool ok = target.reason == Reason::kNone;
  if (!ok) ++target.failures;
  Labels labels = {{"check", config_.settings.check}, {"target", target.endpoint.target}};
  if (target.endpoint.worker) labels.push_back({"worker", std::to_string(*target.endpoint.worker)});
  set.Gauge("fluentd_up", kUpHelp, labels, ok ? 1 : 0);
  set.Counter("fluentd_scrape_failures_total",
              "Reads of monitor_agent that failed since the agent started.", labels,
              static_cast<double>(target.failures));
  set.Gauge("fluentd_scrape_duration_seconds", "How long reading monitor_agent took.", labels,
            ToSeconds(target.elapsed));
  const std::string subject = Subject(target);
  Observation endpoint{subject.empty() ? target.endpoint.target : subject,
                       ok,
                       target.reason,
                       target.message,
                       target.elapsed,
                       {},
                       {{"url", target.endpoint.url}}};
  if (!ok) {
    set.Gauge("fluentd_failure_info", "Why the last read of monitor_agent failed.",
              WithLabels(labels, {{"reason", std::string(ReasonName(target.reason))}}), 1);
    result.observations.push_back(std::move(endpoint));
    return;
  }
  const std::vector<std::string> ids = LabelIds(target.plugins, config_.stable_ids);
  const PluginMetricsSummary summary =
      AddPluginMetrics(set, labels, target.plugins, ids, selection_);
  reported += summary.selected;
  endpoint.message =
      fmt::format("{} plugins, {} reported", target.plugins.size(), summary.selected);
  if (summary.duplicates > 0) {
    endpoint.message += fmt::format(" ({} skipped: same plugin_id as another)", summary.duplicates);
  }
  result.observations.push_back(std::move(endpoint));
  // The reported plugins, for people (sre-probe, the landing page).
  for (size_t i = 0; i < target.plugins.size(); ++i) {
    const PluginStatus& plugin = target.plugins[i];
    if (!Selected(selection_, plugin, ids[i])) continue;
    if (plugin.retry && plugin.retry->next_time) ++retrying;
    result.observations.push_back(
        PluginObservation(subject.empty() ? ids[i] : subject + "/" + ids[i], plugin, ids[i]));
  }
}

void FluentdExporter::Finish() {
  CollectResult result;
  result.success = true;
  MetricSet set;
  size_t up = 0, reported = 0, retrying = 0;
  for (Target& target : targets_) {
    if (target.reason == Reason::kNone) {
      ++up;
    } else if (result.success) {
      result.success = false;
      result.reason = target.reason;
      result.message = target.endpoint.worker
                           ? fmt::format("{} worker{}: {}", target.endpoint.target,
                                         *target.endpoint.worker, target.message)
                           : fmt::format("{}: {}", target.endpoint.target, target.message);
    }
    Report(target, set, result, reported, retrying);
    std::vector<PluginStatus>().swap(target.plugins);  // memory follows one run, not the largest
  }
  if (result.success) {
    result.message = fmt::format("{} of {} monitor_agents up, {} plugins reported", up,
                                 targets_.size(), reported);
    if (retrying > 0) result.message += fmt::format(", {} retrying", retrying);
  }
  result.families = set.Take();
  CallOnce(done_, std::move(result));
}

namespace {

class FluentdFactory final : public TypedExporterFactory<FluentdConfig> {
 public:
  std::string_view name() const override { return "fluentd"; }
  std::string_view summary() const override {
    return "Fluentd outputs from monitor_agent: buffers, queues, retries (fluent-plugin-prometheus "
           "names)";
  }

 protected:
  const config::Schema<FluentdConfig>& TypedSchema() const override { return FluentdSchema(); }

  std::string Target(const FluentdConfig& config) const override {
    std::string target = fmt::format("{}", fmt::join(config.urls, ", "));
    if (config.workers > 1) target += fmt::format(" ({} workers)", config.workers);
    return target;
  }

  Status Prepare(FluentdConfig& config, const YAML::Node& node,
                 const config::ParseContext& ctx) const override {
    auto endpoints = ExpandEndpoints(config.urls, config.workers);
    if (!endpoints.ok()) {
      const YAML::Node at = config.workers > 1 && node["workers"] ? node["workers"]
                            : node["urls"]                        ? node["urls"]
                                                                  : node;
      return ctx.ErrorAt(at, endpoints.status().message());
    }
    config.endpoints = std::move(endpoints).value();
    return Status::Ok();
  }

  Result<std::unique_ptr<Exporter>> Make(const FluentdConfig& config,
                                         ExporterEnv& env) const override {
    return std::unique_ptr<Exporter>(std::make_unique<FluentdExporter>(config, env.curl));
  }
};

}  // namespace

std::unique_ptr<ExporterFactory> MakeFluentdFactory() { return std::make_unique<FluentdFactory>(); }

}  // namespace sre::exporters::fluentd
