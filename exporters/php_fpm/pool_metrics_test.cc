#include "exporters/php_fpm/pool_metrics.h"

#include <gtest/gtest.h>

#include "exporters/php_fpm/fake_php_fpm.h"

namespace sre::exporters::php_fpm {
namespace {

PoolStatus Captured(const std::string& name) {
  auto status = ParsePoolStatus(fake::Testdata(name));
  EXPECT_TRUE(status.ok()) << name << ": " << status.status().message();
  return status.ok() ? *status : PoolStatus{};
}

// The value of family `name`'s sample whose labels include `label`="`value`" (or its only one).
std::optional<double> Sample(const std::vector<prometheus::MetricFamily>& families,
                             const std::string& name, const std::string& label = "",
                             const std::string& value = "") {
  for (const auto& family : families) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      bool match = label.empty();
      for (const auto& l : metric.label) match |= l.name == label && l.value == value;
      if (!match) continue;
      return family.type == prometheus::MetricType::Counter ? metric.counter.value
                                                            : metric.gauge.value;
    }
  }
  return std::nullopt;
}

std::vector<prometheus::MetricFamily> Build(const PoolStatus& status, PoolMetricOptions options) {
  MetricSet set;
  AddPoolMetrics(set, {{"pool", status.pool}}, status, options);
  return set.Take();
}

TEST(PoolMetricsTest, MemoryPeakOnlyWhenPhpFpmReportsIt) {
  EXPECT_FALSE(Sample(Build(Captured("tcp_status_json.body"), {}), "phpfpm_memory_peak_bytes"));
  const PoolStatus newer = Captured("tcp_status_json_memory_peak.body");
  ASSERT_TRUE(newer.memory_peak);
  EXPECT_EQ(Sample(Build(newer, {}), "phpfpm_memory_peak_bytes"),
            static_cast<double>(*newer.memory_peak));
}

// php bug #76003: the counters can disagree with the process list; the option trusts the list.
TEST(PoolMetricsTest, FixProcessCountCountsTheProcessList) {
  PoolStatus status = Captured("tcp_status_json_full.body");  // 2 Running, 1 Idle
  status.active_processes = 7;
  status.idle_processes = 0;
  status.total_processes = 7;
  const auto reported = Build(status, {});
  EXPECT_EQ(Sample(reported, "phpfpm_active_processes"), 7);
  const auto fixed = Build(status, {.fix_process_count = true});
  EXPECT_EQ(Sample(fixed, "phpfpm_active_processes"), 2);
  EXPECT_EQ(Sample(fixed, "phpfpm_idle_processes"), 1);
  EXPECT_EQ(Sample(fixed, "phpfpm_total_processes"), 3);
}

TEST(PoolMetricsTest, ProcessStatesAreZeroFilledAndUnknownOnesKept) {
  PoolStatus status = Captured("tcp_status_json_full.body");
  status.processes[2].state = "Accepting";  // a state this list does not know
  const auto families = Build(status, {.processes = true});
  EXPECT_EQ(Sample(families, "phpfpm_processes_by_state", "state", "Finishing"), 0);
  EXPECT_EQ(Sample(families, "phpfpm_processes_by_state", "state", "Running"), 2);
  EXPECT_EQ(Sample(families, "phpfpm_processes_by_state", "state", "Accepting"), 1);
  // Per child: one series per known state plus its own unknown one.
  for (const auto& family : families) {
    if (family.name == "phpfpm_process_state") {
      EXPECT_EQ(family.metric.size(), 3 * kProcessStates.size() + 1);
    }
    if (family.name == "phpfpm_process_requests") {
      ASSERT_EQ(family.metric.size(), 3u);
      EXPECT_EQ(family.metric[1].label.back().name, "child");
      EXPECT_EQ(family.metric[1].label.back().value, "1");
      EXPECT_EQ(family.metric[1].counter.value, 8);
    }
  }
}

}  // namespace
}  // namespace sre::exporters::php_fpm
