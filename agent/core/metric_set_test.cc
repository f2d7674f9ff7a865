#include "agent/core/metric_set.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sre {
namespace {

TEST(HistogramTest, BucketsAreCumulativeWithInf) {
  Histogram histogram({0.1, 1});
  histogram.Observe(0.05);
  histogram.Observe(0.1);  // upper bounds are inclusive
  histogram.Observe(0.5);
  histogram.Observe(7);
  const auto metric = histogram.ToMetric();
  ASSERT_EQ(metric.bucket.size(), 3u);
  EXPECT_EQ(metric.bucket[0].cumulative_count, 2u);
  EXPECT_EQ(metric.bucket[1].cumulative_count, 3u);
  EXPECT_EQ(metric.bucket[2].cumulative_count, 4u);
  EXPECT_TRUE(std::isinf(metric.bucket[2].upper_bound));
  EXPECT_EQ(metric.sample_count, 4u);
  EXPECT_DOUBLE_EQ(metric.sample_sum, 7.65);
}

TEST(MetricSetTest, GroupsSamplesByFamilyInFirstUseOrder) {
  MetricSet set;
  set.Gauge("b_gauge", "B.", {{"x", "1"}}, 1);
  set.Counter("a_total", "A.", {}, 2);
  set.Gauge("b_gauge", "B.", {{"x", "2"}}, 3);
  auto families = set.Take();
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].name, "b_gauge");
  EXPECT_EQ(families[0].type, prometheus::MetricType::Gauge);
  ASSERT_EQ(families[0].metric.size(), 2u);
  EXPECT_EQ(families[0].metric[1].gauge.value, 3);
  EXPECT_EQ(families[1].metric[0].counter.value, 2);
}

TEST(MetricSetTest, WithLabelsAppends) {
  const Labels labels = WithLabels({{"check", "a"}}, {{"reason", "timeout"}});
  ASSERT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels[1].name, "reason");
}

}  // namespace
}  // namespace sre
