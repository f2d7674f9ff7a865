#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/core/exporter_factory.h"
#include "agent/net/curl_multi.h"
#include "exporters/fluentd/fluentd_config.h"
#include "exporters/fluentd/plugin_metrics.h"
#include "exporters/fluentd/plugins.h"
#include "exporters/fluentd/plugins_request.h"

namespace sre::exporters::fluentd {

/// Reads `/api/plugins.json` from every monitor_agent of the check at once (each URL, at each
/// worker's port) on the shared libcurl multi, and reports fluent-plugin-prometheus's
/// fluentd_output_status_* series of the selected plugins (labels `plugin_id`, `type`, plus
/// `check`, `target` and, with workers, `worker`). Each endpoint reports fluentd_up; one that
/// fails (refused, 404, not JSON, truncated, too large, wrong types, no answer by the deadline)
/// reports fluentd_up 0 with fluentd_failure_info{reason} and has no effect on the others.
/// Loop-thread only.
class FluentdExporter final : public Exporter {
 public:
  FluentdExporter(const FluentdConfig& config, net::CurlMulti& curl);
  ~FluentdExporter() override;

  // Exporter
  void Collect(TimePoint deadline, Done done) override;
  void Cancel() override;

 private:
  struct Target {
    Endpoint endpoint;
    std::unique_ptr<PluginsRequest> request;
    uint64_t failures = 0;  // fluentd_scrape_failures_total
    // The last run.
    Reason reason = Reason::kNone;
    std::string message;
    Duration elapsed{0};
    std::vector<PluginStatus> plugins;
  };

  void OnFetched(size_t index, const FetchResult& fetched);
  void Finish();
  void Report(Target& target, MetricSet& set, CollectResult& result, size_t& reported,
              size_t& retrying) const;
  std::string Subject(const Target& target) const;

  const FluentdConfig config_;
  const PluginSelection selection_;
  const PluginsLimits limits_;
  std::vector<Target> targets_;

  // The running collection.
  Done done_;
  size_t pending_ = 0;
};

/// The `fluentd` exporter type.
std::unique_ptr<ExporterFactory> MakeFluentdFactory();

}  // namespace sre::exporters::fluentd
