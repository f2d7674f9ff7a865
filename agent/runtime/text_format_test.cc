#include "agent/runtime/text_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "agent/core/metric_set.h"

namespace sre {
namespace {

std::string Render(const prometheus::MetricFamily& family) {
  std::string text = RenderHeaderText(family);
  AppendSamplesText(family, text);
  return text;
}

TEST(TextFormatTest, GaugesAndCountersWithEscapedLabelsAndHelp) {
  MetricSet set;
  set.Gauge("probe_success", "Line one\nback\\slash \"quoted\"", {{"check", "a\"b\\c\nd"}}, 1);
  set.Counter("probe_attempts_total", "Attempts.", {}, 1234567);
  auto families = set.Take();
  EXPECT_EQ(Render(families[0]),
            "# HELP probe_success Line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE probe_success gauge\n"
            "probe_success{check=\"a\\\"b\\\\c\\nd\"} 1\n");
  EXPECT_EQ(Render(families[1]),
            "# HELP probe_attempts_total Attempts.\n"
            "# TYPE probe_attempts_total counter\n"
            "probe_attempts_total 1234567\n");
}

TEST(TextFormatTest, ValuesRoundTripAndSpecialValuesArePrometheusSpelled) {
  MetricSet set;
  for (double v :
       {0.1, 4.9003e-05, 1700003600.171, 1e21, -2.5, std::numeric_limits<double>::infinity(),
        -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()}) {
    set.Gauge("g", "G.", {}, v);
  }
  EXPECT_EQ(Render(set.Take()[0]),
            "# HELP g G.\n# TYPE g gauge\n"
            "g 0.1\ng 4.9003e-05\ng 1700003600.171\ng 1e+21\ng -2.5\ng +Inf\ng -Inf\ng NaN\n");
}

TEST(TextFormatTest, HistogramsAsClientGolangWritesThem) {
  Histogram histogram({0.005, 0.25});
  histogram.Observe(0.001);
  histogram.Observe(0.1);
  MetricSet set;
  set.Histogram("connect_seconds", "Connect.", {{"check", "a"}}, histogram.ToMetric());
  EXPECT_EQ(Render(set.Take()[0]),
            "# HELP connect_seconds Connect.\n"
            "# TYPE connect_seconds histogram\n"
            "connect_seconds_bucket{check=\"a\",le=\"0.005\"} 1\n"
            "connect_seconds_bucket{check=\"a\",le=\"0.25\"} 2\n"
            "connect_seconds_bucket{check=\"a\",le=\"+Inf\"} 2\n"
            "connect_seconds_sum{check=\"a\"} 0.101\n"
            "connect_seconds_count{check=\"a\"} 2\n");
}

}  // namespace
}  // namespace sre
