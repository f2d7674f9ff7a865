#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/core/metric_set.h"
#include "exporters/fluentd/plugins.h"

namespace sre::exporters::fluentd {

/// One family the exporter derives from a plugin field, as fluent-plugin-prometheus's
/// prometheus_output_monitor names it (help texts are the plugin's too).
struct FamilySpec {
  Field field;
  std::string_view name;
  std::string_view help;
  bool counter;  ///< cumulative since Fluentd started (the plugin types these as gauges)
};

/// Every family read straight from a field, in the order of the README's table.
/// `fluentd_output_status_num_errors` repeats `retry_count`: Fluentd has no field of that name,
/// and the plugin fills both from it.
extern const std::vector<FamilySpec> kFieldFamilies;

/// Which plugins a check reports.
struct PluginSelection {
  std::vector<std::string> plugin_ids;  ///< empty: any; the reported id or the stable one
  std::vector<std::string> types;       ///< empty: any
  std::vector<std::string> categories;  ///< empty: any
  bool stable_ids = true;               ///< see LabelIds
};

/// The `plugin_id` label of each plugin, in order. A plugin configured without `@id` is reported
/// by Fluentd as "object:<hex>", its Ruby object id, which changes on every restart (and with it
/// every series). With `stable_ids`, such an id becomes `<type>#<n>`: n counts the plugins of
/// that type from 0 in the response's order, which is the order of the configuration (inputs,
/// outputs, filters, then those inside <label> sections). Ids set with `@id` are kept as they
/// are. Pure.
std::vector<std::string> LabelIds(const std::vector<PluginStatus>& plugins, bool stable_ids);

/// Whether `plugin` (labelled `label_id`) passes the check's filters.
bool Selected(const PluginSelection& selection, const PluginStatus& plugin,
              std::string_view label_id);

/// What AddPluginMetrics did.
struct PluginMetricsSummary {
  size_t selected = 0;    ///< plugins reported
  size_t duplicates = 0;  ///< plugins skipped because an earlier one had the same plugin_id label
};

/// Appends the fluentd_output_status_* series of the selected plugins under `endpoint_labels`
/// (check, target, worker) plus `plugin_id` and `type`: the fields a plugin reports (a missing
/// or null field has no series), `num_errors` from `retry_count`, and, when the response has
/// the plugin's `retry` object (include_retry), `retry_wait` as the plugin computes it:
/// next_time minus start, 0 while not retrying, with `retry_steps` and
/// `retry_next_time_seconds` while retrying. A second plugin with the same label id is skipped
/// (two series with the same labels would make Prometheus reject the whole scrape). Pure.
PluginMetricsSummary AddPluginMetrics(MetricSet& set, const Labels& endpoint_labels,
                                      const std::vector<PluginStatus>& plugins,
                                      const std::vector<std::string>& label_ids,
                                      const PluginSelection& selection);

/// Names of every family AddPluginMetrics may add, for docs and tests.
std::vector<std::string_view> PluginFamilyNames();

}  // namespace sre::exporters::fluentd
