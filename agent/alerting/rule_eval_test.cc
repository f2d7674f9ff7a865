#include "agent/alerting/rule_eval.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "agent/alerting/template.h"
#include "agent/core/metric_set.h"

namespace sre::alerting {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

/// Two TCP checks and a postfix check, as the exporters publish them (labels unsorted).
std::vector<prometheus::MetricFamily> Families() {
  MetricSet set;
  set.Gauge("probe_success", "", {{"check", "web"}, {"target", "a:80"}, {"address", "10.0.0.1"}},
            1);
  set.Gauge("probe_success", "", {{"check", "web"}, {"target", "a:80"}, {"address", "10.0.0.2"}},
            0);
  set.Gauge("probe_success", "", {{"check", "db"}, {"target", "b:5432"}, {"address", "10.0.0.3"}},
            1);
  set.Gauge("postfix_showq_queue_depth", "", {{"queue", "deferred"}}, 600);
  set.Gauge("postfix_showq_queue_depth", "", {{"queue", "active"}}, 3);
  set.Counter("probe_attempts_total", "", {{"check", "web"}}, 12);
  Histogram histogram({0.1, 1});
  histogram.Observe(0.05);
  histogram.Observe(2);
  set.Histogram("probe_duration_seconds", "", {{"check", "web"}}, histogram.ToMetric());
  auto families = set.Take();
  prometheus::MetricFamily summary{"rpc_seconds", "", prometheus::MetricType::Summary, {}};
  summary.metric.emplace_back().label = {{"check", "web"}};
  summary.metric.back().summary.sample_count = 4;
  summary.metric.back().summary.sample_sum = 0.75;
  summary.metric.back().summary.quantile = {{0.5, 0.1}};
  families.push_back(std::move(summary));
  prometheus::MetricFamily untyped{"legacy", "", prometheus::MetricType::Untyped, {}};
  untyped.metric.emplace_back().untyped.value = 7;
  families.push_back(std::move(untyped));
  return families;
}

std::vector<Match> Eval(std::string_view text, const SampleIndex& index) {
  auto expr = ParseRuleExpr(text);
  EXPECT_TRUE(expr.ok()) << text << ": " << (expr.ok() ? "" : expr.error().message);
  return expr.ok() ? Evaluate(expr.value(), index) : std::vector<Match>{};
}

/// Matches as "{a=1,b=2} value" lines (values as alerts print them), to compare whole results at
/// once.
std::string Show(const std::vector<Match>& matches) {
  std::string out;
  for (const Match& match : matches) {
    out += "{";
    for (size_t i = 0; i < match.labels.size(); ++i) {
      out += (i ? "," : "") + match.labels[i].name + "=" + match.labels[i].value;
    }
    out += "} " + FormatGoFloat(match.value) + "\n";
  }
  return out;
}

class EvaluateTest : public ::testing::Test {
 protected:
  void SetUp() override { index_.Add(families_); }
  std::string Run(std::string_view text) { return Show(Eval(text, index_)); }

  std::vector<prometheus::MetricFamily> families_ = Families();
  SampleIndex index_;
};

TEST_F(EvaluateTest, PlainSelectorYieldsEachMatchingSeriesWithSortedLabels) {
  EXPECT_EQ(Run("probe_success < 1"), "{address=10.0.0.2,check=web,target=a:80} 0\n");
  EXPECT_EQ(Run("probe_success{check=\"web\"} < 1"),
            "{address=10.0.0.2,check=web,target=a:80} 0\n");
  EXPECT_EQ(Run("probe_success{check=\"db\"} < 1"), "");
  EXPECT_EQ(Run("postfix_showq_queue_depth{queue=\"deferred\"} > 500"), "{queue=deferred} 600\n");
}

TEST_F(EvaluateTest, EveryComparison) {
  EXPECT_EQ(Run("probe_success{check=\"db\"} < 1"), "");
  EXPECT_EQ(Run("probe_success{check=\"db\"} <= 1"),
            "{address=10.0.0.3,check=db,target=b:5432} 1\n");
  EXPECT_EQ(Run("probe_success{check=\"db\"} > 1"), "");
  EXPECT_EQ(Run("probe_success{check=\"db\"} >= 1"),
            "{address=10.0.0.3,check=db,target=b:5432} 1\n");
  EXPECT_EQ(Run("probe_success{check=\"db\"} == 1"),
            "{address=10.0.0.3,check=db,target=b:5432} 1\n");
  EXPECT_EQ(Run("probe_success{check=\"db\"} != 1"), "");
  EXPECT_EQ(Run("postfix_showq_queue_depth > -Inf"), "{queue=active} 3\n{queue=deferred} 600\n");
  EXPECT_EQ(Run("postfix_showq_queue_depth < +Inf"), "{queue=active} 3\n{queue=deferred} 600\n");
}

TEST_F(EvaluateTest, EveryMatcher) {
  EXPECT_EQ(Run("probe_success{check!=\"web\"} > 0"),
            "{address=10.0.0.3,check=db,target=b:5432} 1\n");
  EXPECT_EQ(Run("probe_success{address=~\"10\\\\.0\\\\.0\\\\.[12]\"} >= 0"),
            "{address=10.0.0.1,check=web,target=a:80} 1\n"
            "{address=10.0.0.2,check=web,target=a:80} 0\n");
  EXPECT_EQ(Run("probe_success{address=~\"10\"} >= 0"), "");  // anchored: no partial match
  EXPECT_EQ(Run("probe_success{address!~\"10\\\\.0\\\\.0\\\\.[12]\"} >= 0"),
            "{address=10.0.0.3,check=db,target=b:5432} 1\n");
  EXPECT_EQ(Run("probe_success{check=\"web\", address=\"10.0.0.1\"} >= 0"),
            "{address=10.0.0.1,check=web,target=a:80} 1\n");
  // A label no series has: "" matches it, a non-empty value does not.
  EXPECT_EQ(Run("postfix_showq_queue_depth{pool=\"\"} > 500"), "{queue=deferred} 600\n");
  EXPECT_EQ(Run("postfix_showq_queue_depth{pool=\"x\"} > 0"), "");
  EXPECT_EQ(Run("postfix_showq_queue_depth{queue!=\"\"} > 500"), "{queue=deferred} 600\n");
}

TEST_F(EvaluateTest, AbsentMetricNeverMatches) {
  EXPECT_EQ(Run("phpfpm_listen_queue > 10"), "");
  EXPECT_EQ(Run("phpfpm_listen_queue < 10"), "");
  EXPECT_EQ(Run("count(phpfpm_listen_queue) < 1"), "");  // as PromQL: no input, no group
  EXPECT_EQ(Run("sum(probe_success{check=\"nope\"}) < 1"), "");
}

TEST_F(EvaluateTest, CountersUntypedAndTheCountAndSumOfHistogramsAndSummaries) {
  EXPECT_EQ(Run("probe_attempts_total > 10"), "{check=web} 12\n");
  EXPECT_EQ(Run("probe_duration_seconds_count > 1"), "{check=web} 2\n");
  EXPECT_EQ(Run("probe_duration_seconds_sum > 2"), "{check=web} 2.05\n");
  EXPECT_EQ(Run("probe_duration_seconds_bucket >= 0"), "");  // buckets are not indexed
  EXPECT_EQ(Run("probe_duration_seconds >= 0"), "");
  EXPECT_EQ(Run("rpc_seconds_count == 4"), "{check=web} 4\n");
  EXPECT_EQ(Run("rpc_seconds_sum < 1"), "{check=web} 0.75\n");
  EXPECT_EQ(Run("rpc_seconds >= 0"), "");  // quantiles are not indexed
  EXPECT_EQ(Run("legacy > 5"), "{} 7\n");
  // 6 gauges and counters, _count and _sum of a histogram and a summary, 1 untyped.
  EXPECT_EQ(index_.size(), 11u);
}

TEST_F(EvaluateTest, AggregationsWithoutBy) {
  EXPECT_EQ(Run("min(probe_success) < 1"), "{} 0\n");
  EXPECT_EQ(Run("max(probe_success) < 1"), "");
  EXPECT_EQ(Run("max(probe_success) == 1"), "{} 1\n");
  EXPECT_EQ(Run("sum(probe_success) == 2"), "{} 2\n");
  EXPECT_EQ(Run("count(probe_success) == 3"), "{} 3\n");
  EXPECT_EQ(Run("avg(postfix_showq_queue_depth) > 300"), "{} 301.5\n");
  EXPECT_EQ(Run("sum by () (probe_success) > 0"), "{} 2\n");
}

TEST_F(EvaluateTest, AggregationsByKeepOnlyTheByLabels) {
  EXPECT_EQ(Run("min by (target) (probe_success) < 1"), "{target=a:80} 0\n");
  EXPECT_EQ(Run("min by (check, target) (probe_success) <= 1"),
            "{check=db,target=b:5432} 1\n{check=web,target=a:80} 0\n");
  EXPECT_EQ(Run("count by (check) (probe_success) > 0"), "{check=db} 1\n{check=web} 2\n");
  // Same first `by` value, different second one: separate groups.
  EXPECT_EQ(Run("count by (check, address) (probe_success{check=\"web\"}) > 0"),
            "{address=10.0.0.1,check=web} 1\n{address=10.0.0.2,check=web} 1\n");
  EXPECT_EQ(Run("avg(probe_success) by (check) < 1"), "{check=web} 0.5\n");
  EXPECT_EQ(Run("sum by (check) (probe_success{address!=\"10.0.0.1\"}) == 0"), "{check=web} 0\n");
  // A `by` label the series lack: grouped under "", and absent from the result.
  EXPECT_EQ(Run("sum by (pool) (probe_success) > 0"), "{} 2\n");
  EXPECT_EQ(Run("max by (pool, check) (probe_success) > 0"), "{check=db} 1\n{check=web} 1\n");
}

TEST(EvaluateNaNTest, NaNComparesFalseExceptNotEqual) {
  MetricSet set;
  set.Gauge("g", "", {{"k", "nan"}}, kNaN);
  set.Gauge("g", "", {{"k", "one"}}, 1);
  const auto families = set.Take();
  SampleIndex index;
  index.Add(families);
  EXPECT_EQ(Show(Eval("g < 2", index)), "{k=one} 1\n");
  EXPECT_EQ(Show(Eval("g > 0", index)), "{k=one} 1\n");
  EXPECT_EQ(Show(Eval("g == 1", index)), "{k=one} 1\n");
  EXPECT_EQ(Show(Eval("g >= -Inf", index)), "{k=one} 1\n");
  // PromQL's filter keeps a sample when `value != threshold` is true, and NaN != x is.
  EXPECT_EQ(Show(Eval("g != 1", index)), "{k=nan} NaN\n");
}

TEST(EvaluateNaNTest, AggregationsAsPromQL) {
  MetricSet set;
  set.Gauge("g", "", {{"k", "a"}}, kNaN);
  set.Gauge("g", "", {{"k", "b"}}, 3);
  set.Gauge("g", "", {{"k", "c"}}, 1);
  set.Gauge("h", "", {{"k", "a"}}, kNaN);
  set.Gauge("h", "", {{"k", "b"}}, kNaN);
  const auto families = set.Take();
  SampleIndex index;
  index.Add(families);
  // min and max skip NaN (it is replaced by the next value); all NaN stays NaN.
  EXPECT_EQ(Show(Eval("min(g) != 0", index)), "{} 1\n");
  EXPECT_EQ(Show(Eval("max(g) != 0", index)), "{} 3\n");
  EXPECT_EQ(Show(Eval("min(h) != 0", index)), "{} NaN\n");
  // sum and avg propagate NaN; count counts it.
  EXPECT_EQ(Show(Eval("sum(g) != 0", index)), "{} NaN\n");
  EXPECT_EQ(Show(Eval("avg(g) != 0", index)), "{} NaN\n");
  EXPECT_EQ(Show(Eval("count(g) == 3", index)), "{} 3\n");
}

TEST(EvaluateInfTest, SumAndAvgAsPromQL) {
  MetricSet set;
  set.Gauge("inf", "", {{"k", "a"}}, kInf);
  set.Gauge("inf", "", {{"k", "b"}}, 1);
  set.Gauge("mixed", "", {{"k", "a"}}, kInf);
  set.Gauge("mixed", "", {{"k", "b"}}, -kInf);
  set.Gauge("big", "", {{"k", "a"}}, 1.5e308);
  set.Gauge("big", "", {{"k", "b"}}, 1.5e308);
  set.Gauge("big", "", {{"k", "c"}}, 1.5e308);
  const auto families = set.Take();
  SampleIndex index;
  index.Add(families);
  EXPECT_EQ(Show(Eval("sum(inf) > 0", index)), "{} +Inf\n");
  EXPECT_EQ(Show(Eval("avg(inf) > 0", index)), "{} +Inf\n");
  EXPECT_EQ(Show(Eval("sum(mixed) != 0", index)), "{} NaN\n");
  EXPECT_EQ(Show(Eval("avg(mixed) != 0", index)), "{} NaN\n");
  // The sum overflows, so avg switches to the incremental mean and stays exact.
  EXPECT_EQ(Show(Eval("sum(big) > 0", index)), "{} +Inf\n");
  EXPECT_EQ(Show(Eval("avg(big) > 0", index)), "{} 1.5e+308\n");
}

TEST(EvaluateKahanTest, SumIsCompensated) {
  MetricSet set;
  // Plain summation gives 0 here (1e100 swallows the 1s); PromQL's Kahan-Neumaier sum gives 2.
  set.Gauge("g", "", {{"k", "a"}}, 1);
  set.Gauge("g", "", {{"k", "b"}}, 1e100);
  set.Gauge("g", "", {{"k", "c"}}, 1);
  set.Gauge("g", "", {{"k", "d"}}, -1e100);
  const auto families = set.Take();
  SampleIndex index;
  index.Add(families);
  EXPECT_EQ(Show(Eval("sum(g) > 0", index)), "{} 2\n");
  EXPECT_EQ(Show(Eval("avg(g) > 0", index)), "{} 0.5\n");
}

TEST(SampleIndexTest, SeveralSourcesClearAndDuplicates) {
  MetricSet first_set;
  first_set.Gauge("up", "", {{"check", "a"}}, 0);
  const auto first = first_set.Take();
  MetricSet second_set;
  second_set.Gauge("up", "", {{"check", "b"}}, 0);
  second_set.Gauge("up", "", {{"check", "a"}}, 5);  // the same series again, from another source
  const auto second = second_set.Take();
  SampleIndex index;
  index.Add(first);
  index.Add(second);
  EXPECT_EQ(index.size(), 3u);
  EXPECT_EQ(index.Find("up").size(), 3u);
  EXPECT_TRUE(index.Find("down").empty());
  // An aggregation spans sources; a plain selector keeps the first of two identical series.
  EXPECT_EQ(Show(Eval("sum(up) == 5", index)), "{} 5\n");
  EXPECT_EQ(Show(Eval("up >= 0", index)), "{check=a} 0\n{check=b} 0\n");
  index.Clear();
  EXPECT_EQ(index.size(), 0u);
  EXPECT_TRUE(index.Find("up").empty());
  EXPECT_EQ(Show(Eval("up >= 0", index)), "");
  index.Add(second);
  EXPECT_EQ(Show(Eval("up >= 0", index)), "{check=a} 5\n{check=b} 0\n");
}

TEST(SampleIndexTest, EmptyLabelValuesAreDroppedFromAlerts) {
  MetricSet set;
  set.Gauge("g", "", {{"b", "2"}, {"a", ""}, {"c", "3"}}, 1);
  const auto families = set.Take();
  SampleIndex index;
  index.Add(families);
  EXPECT_EQ(Show(Eval("g > 0", index)), "{b=2,c=3} 1\n");
  EXPECT_EQ(Show(Eval("max by (a, b) (g) > 0", index)), "{b=2} 1\n");
}

TEST(SampleIndexTest, ManyGroupsStayDistinct) {
  MetricSet set;
  for (int i = 0; i < 500; ++i) {
    set.Gauge("g", "", {{"t", std::to_string(i % 100)}, {"i", std::to_string(i)}}, i);
  }
  const auto families = set.Take();
  SampleIndex index;
  index.Add(families);
  const auto matches = Eval("count by (t) (g) == 5", index);
  ASSERT_EQ(matches.size(), 100u);
  EXPECT_EQ(matches[0].labels, (Labels{{"t", "0"}}));
  EXPECT_EQ(Show(Eval("sum by (t) (g{t=\"7\"}) > 0", index)), "{t=7} 1035\n");  // 7+107+...+407
  EXPECT_TRUE(std::is_sorted(matches.begin(), matches.end(),
                             [](const auto& a, const auto& b) { return a.labels < b.labels; }));
}

}  // namespace
}  // namespace sre::alerting
