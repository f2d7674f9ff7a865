#include "exporters/fluentd/plugin_metrics.h"

#include <algorithm>

namespace sre::exporters::fluentd {
namespace {

constexpr std::string_view kRetryWait = "fluentd_output_status_retry_wait";
constexpr std::string_view kRetrySteps = "fluentd_output_status_retry_steps";
constexpr std::string_view kRetryNextTime = "fluentd_output_status_retry_next_time_seconds";

bool Contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

// Names, help texts and fields as fluent-plugin-prometheus 2.x's prometheus_output_monitor
// declares them (it types everything as a gauge unless `gauge_all false`, and rollback_count
// as a gauge always); drop_oldest_chunk_count is ours, after the same pattern.
const std::vector<FamilySpec> kFieldFamilies = {
    {Field::kBufferQueueLength, "fluentd_output_status_buffer_queue_length",
     "Current length of queue buffers.", false},
    {Field::kBufferTotalQueuedSize, "fluentd_output_status_buffer_total_bytes",
     "Current total size of stage and queue buffers.", false},
    {Field::kBufferStageLength, "fluentd_output_status_buffer_stage_length",
     "Current length of stage buffers.", false},
    {Field::kBufferStageByteSize, "fluentd_output_status_buffer_stage_byte_size",
     "Current total size of stage buffers.", false},
    {Field::kBufferQueueByteSize, "fluentd_output_status_buffer_queue_byte_size",
     "Current total size of queue buffers.", false},
    {Field::kBufferAvailableBufferSpaceRatios, "fluentd_output_status_buffer_available_space_ratio",
     "Ratio of available space in buffer.", false},
    {Field::kBufferNewestTimekey, "fluentd_output_status_buffer_newest_timekey",
     "Newest timekey in buffer.", false},
    {Field::kBufferOldestTimekey, "fluentd_output_status_buffer_oldest_timekey",
     "Oldest timekey in buffer.", false},
    {Field::kRetryCount, "fluentd_output_status_retry_count", "Current retry counts.", true},
    {Field::kRetryCount, "fluentd_output_status_num_errors", "Current number of errors.", true},
    {Field::kEmitCount, "fluentd_output_status_emit_count", "Current emit counts.", true},
    {Field::kEmitRecords, "fluentd_output_status_emit_records", "Current emit records.", true},
    {Field::kWriteCount, "fluentd_output_status_write_count", "Current write counts.", true},
    {Field::kRollbackCount, "fluentd_output_status_rollback_count", "Current rollback counts.",
     true},
    {Field::kFlushTimeCount, "fluentd_output_status_flush_time_count", "Total flush time.", true},
    {Field::kSlowFlushCount, "fluentd_output_status_slow_flush_count", "Current slow flush counts.",
     true},
    {Field::kDropOldestChunkCount, "fluentd_output_status_drop_oldest_chunk_count",
     "Chunks dropped by overflow_action drop_oldest_chunk.", true},
};

std::vector<std::string> LabelIds(const std::vector<PluginStatus>& plugins, bool stable_ids) {
  std::vector<std::string> ids;
  ids.reserve(plugins.size());
  // Plugins of each type seen so far; a response holds a few dozen types at most.
  std::vector<std::pair<std::string_view, size_t>> seen;
  for (const PluginStatus& plugin : plugins) {
    auto it = std::find_if(seen.begin(), seen.end(),
                           [&](const auto& entry) { return entry.first == plugin.type; });
    if (it == seen.end()) it = seen.insert(seen.end(), {plugin.type, 0});
    const size_t position = it->second++;
    if (stable_ids && plugin.plugin_id.starts_with("object:")) {
      ids.push_back(plugin.type + "#" + std::to_string(position));
    } else {
      ids.push_back(plugin.plugin_id);
    }
  }
  return ids;
}

bool Selected(const PluginSelection& selection, const PluginStatus& plugin,
              std::string_view label_id) {
  if (!selection.categories.empty() && !Contains(selection.categories, plugin.category))
    return false;
  if (!selection.types.empty() && !Contains(selection.types, plugin.type)) return false;
  if (!selection.plugin_ids.empty() && !Contains(selection.plugin_ids, plugin.plugin_id) &&
      !Contains(selection.plugin_ids, label_id)) {
    return false;
  }
  return true;
}

PluginMetricsSummary AddPluginMetrics(MetricSet& set, const Labels& endpoint_labels,
                                      const std::vector<PluginStatus>& plugins,
                                      const std::vector<std::string>& label_ids,
                                      const PluginSelection& selection) {
  PluginMetricsSummary summary;
  // The selected plugins, the first of each label id only.
  std::vector<size_t> order;
  order.reserve(plugins.size());
  for (size_t i = 0; i < plugins.size(); ++i) {
    if (Selected(selection, plugins[i], label_ids[i])) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return label_ids[a] < label_ids[b]; });
  const auto last = std::unique(order.begin(), order.end(),
                                [&](size_t a, size_t b) { return label_ids[a] == label_ids[b]; });
  summary.duplicates = static_cast<size_t>(order.end() - last);
  order.erase(last, order.end());
  std::sort(order.begin(), order.end());  // back to the response's order
  summary.selected = order.size();

  for (const size_t i : order) {
    const PluginStatus& plugin = plugins[i];
    const Labels labels =
        WithLabels(endpoint_labels, {{"plugin_id", label_ids[i]}, {"type", plugin.type}});
    for (const FamilySpec& family : kFieldFamilies) {
      const std::optional<double>& value = plugin.Get(family.field);
      if (!value) continue;
      if (family.counter) {
        set.Counter(family.name, family.help, labels, *value);
      } else {
        set.Gauge(family.name, family.help, labels, *value);
      }
    }
    if (!plugin.retry) continue;
    const RetryState& retry = *plugin.retry;
    // As the plugin computes it: the wait from the first failure to the next try.
    const double wait = retry.next_time && retry.start ? *retry.next_time - *retry.start : 0;
    set.Gauge(kRetryWait, "Current retry wait", labels, wait);
    if (retry.steps) {
      set.Gauge(kRetrySteps, "Failed flushes of the current retry sequence.", labels,
                static_cast<double>(*retry.steps));
    }
    if (retry.next_time) {
      set.Gauge(kRetryNextTime, "When the next retry is due, in Unix seconds.", labels,
                *retry.next_time);
    }
  }
  return summary;
}

std::vector<std::string_view> PluginFamilyNames() {
  std::vector<std::string_view> names;
  for (const FamilySpec& family : kFieldFamilies) names.push_back(family.name);
  names.insert(names.end(), {kRetryWait, kRetrySteps, kRetryNextTime});
  return names;
}

}  // namespace sre::exporters::fluentd
