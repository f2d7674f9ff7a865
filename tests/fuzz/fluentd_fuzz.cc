// Fuzzes the JSON-to-metrics step of the fluentd exporter with what a lying or broken
// monitor_agent may send: parsing must return plugins or an error, never crash, recurse without
// bound or throw, and the series built from what parsed must have distinct label sets (two equal
// ones would make Prometheus reject the agent's whole scrape).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string_view>
#include <utility>

#include "agent/core/metric_set.h"
#include "exporters/fluentd/plugin_metrics.h"
#include "exporters/fluentd/plugins.h"
#include "exporters/fluentd/ruby_time.h"

namespace {

using namespace sre::exporters::fluentd;

void CheckDistinct(const std::vector<prometheus::MetricFamily>& families) {
  for (const auto& family : families) {
    std::set<std::vector<std::pair<std::string, std::string>>> seen;
    for (const auto& metric : family.metric) {
      std::vector<std::pair<std::string, std::string>> labels;
      for (const auto& label : metric.label) labels.emplace_back(label.name, label.value);
      if (!seen.insert(std::move(labels)).second) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto plugins = ParsePlugins(text);
  if (!plugins.ok()) return 0;
  for (const bool stable : {true, false}) {
    PluginSelection selection;  // every category
    selection.stable_ids = stable;
    sre::MetricSet set;
    AddPluginMetrics(set, {{"check", "fuzz"}, {"target", "http://127.0.0.1:24220"}}, *plugins,
                     LabelIds(*plugins, stable), selection);
    CheckDistinct(set.Take());
  }
  (void)ParseRubyTime(text);
  return 0;
}
