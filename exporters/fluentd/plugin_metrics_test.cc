#include "exporters/fluentd/plugin_metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "exporters/fluentd/fake_monitor_agent.h"

namespace sre::exporters::fluentd {
namespace {

using fake::Testdata;

std::vector<PluginStatus> Parsed(const std::string& name) {
  auto plugins = ParsePlugins(Testdata(name));
  EXPECT_TRUE(plugins.ok()) << plugins.status().message();
  return plugins.ok() ? std::move(plugins).value() : std::vector<PluginStatus>{};
}

const Labels kEndpoint = {{"check", "fluentd"}, {"target", "http://127.0.0.1:24220"}};

// family name -> (plugin_id label -> value)
using Values = std::map<std::string, std::map<std::string, double>>;

struct Mapped {
  std::vector<prometheus::MetricFamily> families;
  PluginMetricsSummary summary;

  Values values() const {
    Values out;
    for (const auto& family : families) {
      for (const auto& metric : family.metric) {
        std::string id;
        for (const auto& label : metric.label) {
          if (label.name == "plugin_id") id = label.value;
        }
        out[family.name][id] = family.type == prometheus::MetricType::Counter ? metric.counter.value
                                                                              : metric.gauge.value;
      }
    }
    return out;
  }
  const prometheus::MetricFamily* family(const std::string& name) const {
    for (const auto& f : families) {
      if (f.name == name) return &f;
    }
    return nullptr;
  }
};

Mapped Map(const std::vector<PluginStatus>& plugins, PluginSelection selection = {}) {
  MetricSet set;
  Mapped mapped;
  mapped.summary =
      AddPluginMetrics(set, kEndpoint, plugins, LabelIds(plugins, selection.stable_ids), selection);
  mapped.families = set.Take();
  return mapped;
}

PluginSelection Outputs() {
  PluginSelection selection;
  selection.categories = {"output"};
  return selection;
}

TEST(PluginMetricsTest, ObjectIdsBecomeTypeAndPosition) {
  const auto plugins = Parsed("plugins_object_ids.json");
  // monitor_agent, forward (in), tail, stdout, forward (out), forward (out), file, filter.
  EXPECT_EQ(
      LabelIds(plugins, true),
      (std::vector<std::string>{"monitor_agent#0", "forward#0", "in_tail_app", "stdout#0",
                                "forward#1", "forward#2", "out_file", "record_transformer#0"}));
  EXPECT_EQ(LabelIds(plugins, false)[1], "object:8d4");
}

// A restart gives every plugin without @id a new object id; the labels stay.
TEST(PluginMetricsTest, StableIdsSurviveARestart) {
  auto before = Parsed("plugins_object_ids.json");
  auto after = before;
  for (PluginStatus& p : after) {
    if (p.plugin_id.starts_with("object:")) p.plugin_id = "object:7f3a" + p.plugin_id.substr(7);
  }
  EXPECT_EQ(LabelIds(before, true), LabelIds(after, true));
  EXPECT_NE(LabelIds(before, false), LabelIds(after, false));
}

TEST(PluginMetricsTest, SelectionByCategoryTypeAndId) {
  const auto plugins = Parsed("plugins_object_ids.json");
  EXPECT_EQ(Map(plugins, Outputs()).summary.selected, 4u);
  EXPECT_EQ(Map(plugins).summary.selected, 8u);  // no filter: every category
  PluginSelection forward = Outputs();
  forward.types = {"forward"};
  const Mapped mapped = Map(plugins, forward);
  EXPECT_EQ(mapped.summary.selected, 2u);
  EXPECT_EQ(mapped.values()["fluentd_output_status_write_count"],
            (std::map<std::string, double>{{"forward#1", 31}, {"forward#2", 12}}));
  PluginSelection by_id;
  by_id.plugin_ids = {"forward#2", "object:8e8", "out_file"};  // stable, Fluentd's, @id
  EXPECT_EQ(Map(plugins, by_id).summary.selected, 3u);
}

// Cumulative values are counters; levels and the retry wait are gauges (README, "Metrics").
TEST(PluginMetricsTest, CountersAndGaugesAsDocumented) {
  const Mapped mapped = Map(Parsed("plugins_retrying.json"), Outputs());
  const std::set<std::string> counters = {"fluentd_output_status_retry_count",
                                          "fluentd_output_status_num_errors",
                                          "fluentd_output_status_emit_count",
                                          "fluentd_output_status_emit_records",
                                          "fluentd_output_status_write_count",
                                          "fluentd_output_status_rollback_count",
                                          "fluentd_output_status_flush_time_count",
                                          "fluentd_output_status_slow_flush_count",
                                          "fluentd_output_status_drop_oldest_chunk_count"};
  size_t seen = 0;
  for (const auto& family : mapped.families) {
    const bool counter = counters.contains(family.name);
    seen += counter;
    EXPECT_EQ(family.type,
              counter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge)
        << family.name;
  }
  EXPECT_EQ(seen, counters.size());
}

// Fluentd has no num_errors field: as fluent-plugin-prometheus does, it is retry_count.
TEST(PluginMetricsTest, NumErrorsIsRetryCount) {
  Values values = Map(Parsed("plugins_retrying.json"), Outputs()).values();
  EXPECT_EQ(values["fluentd_output_status_num_errors"]["out_es"], 4);
  EXPECT_EQ(values["fluentd_output_status_retry_count"]["out_es"], 4);
}

// As the plugin computes it: next_time - start (16 s in the documented example), 0 while not
// retrying, and absent when the response has no retry object (include_retry off).
TEST(PluginMetricsTest, RetryWaitIsNextTimeMinusStart) {
  Values retrying = Map(Parsed("plugins_retrying.json"), Outputs()).values();
  EXPECT_EQ(retrying["fluentd_output_status_retry_wait"]["out_es"], 16);
  EXPECT_EQ(retrying["fluentd_output_status_retry_steps"]["out_es"], 3);
  EXPECT_EQ(retrying["fluentd_output_status_retry_next_time_seconds"]["out_es"], 1748502352);
  Values idle = Map(Parsed("plugins_idle.json"), Outputs()).values();
  EXPECT_EQ(idle["fluentd_output_status_retry_wait"]["out_es"], 0);
  EXPECT_FALSE(idle.contains("fluentd_output_status_retry_steps"));
  EXPECT_FALSE(idle.contains("fluentd_output_status_retry_next_time_seconds"));
  const Mapped no_retry = Map(Parsed("plugins_no_retry.json"), Outputs());
  EXPECT_EQ(no_retry.family("fluentd_output_status_retry_wait"), nullptr);
  EXPECT_NE(no_retry.family("fluentd_output_status_retry_count"), nullptr);
}

// A null or missing field has no series; an unbuffered output has no buffer series.
TEST(PluginMetricsTest, MissingFieldsHaveNoSeries) {
  Values values = Map(Parsed("plugins_object_ids.json")).values();
  EXPECT_FALSE(values["fluentd_output_status_buffer_queue_length"].contains("stdout#0"));
  EXPECT_EQ(values["fluentd_output_status_emit_count"]["stdout#0"], 88);
  EXPECT_FALSE(values["fluentd_output_status_retry_count"].contains("forward#0"));  // null
  EXPECT_EQ(values["fluentd_output_status_emit_records"]["forward#0"], 1520);
  EXPECT_EQ(values["fluentd_output_status_buffer_newest_timekey"]["out_file"], 1748505600);
  EXPECT_EQ(values["fluentd_output_status_drop_oldest_chunk_count"]["forward#2"], 3);
}

TEST(PluginMetricsTest, EveryPluginCarriesItsLabels) {
  const Mapped mapped = Map(Parsed("plugins_object_ids.json"), Outputs());
  for (const auto& family : mapped.families) {
    for (const auto& metric : family.metric) {
      std::set<std::string> names;
      for (const auto& label : metric.label) names.insert(label.name);
      EXPECT_EQ(names, (std::set<std::string>{"check", "target", "plugin_id", "type"}))
          << family.name;
    }
  }
}

// Two series with the same labels would make Prometheus reject the whole scrape.
TEST(PluginMetricsTest, ASecondPluginWithTheSameIdIsSkipped) {
  auto plugins = Parsed("plugins_idle.json");
  plugins.push_back(plugins.back());
  plugins.back().fields[static_cast<size_t>(Field::kWriteCount)] = 99;
  const Mapped mapped = Map(plugins, Outputs());
  EXPECT_EQ(mapped.summary.selected, 1u);
  EXPECT_EQ(mapped.summary.duplicates, 1u);
  Values values = mapped.values();
  EXPECT_EQ(values["fluentd_output_status_write_count"]["out_es"], 0);  // the first one's
}

}  // namespace
}  // namespace sre::exporters::fluentd
