// Alert rule evaluation: 200 rules over the agent's 10,000 current series, as one evaluation
// round costs after a collection. Heap allocations are counted with a replaced global operator
// new and reported per iteration ("allocs"). Figures go to docs/benchmarks.md ("Alert rules").
// g++ 12 inlines the replaced operators below and then takes free() on memory from operator new
// for a mismatch; they are a matching pair here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "agent/alerting/rule_eval.h"
#include "agent/alerting/rule_expr.h"
#include "agent/alerting/template.h"
#include "agent/core/metric_set.h"

namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace

// Counts every allocation of the process; the benchmarks read the difference per iteration.
void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace sre::alerting {
namespace {

constexpr int kChecks = 200;  // label sets
constexpr int kMetrics = 50;  // metric names per check

std::string MetricName(int m) { return "sre_bench_metric_" + std::to_string(m) + "_value"; }
std::string CheckName(int c) { return "check-" + std::to_string(c); }

/// One check's families, as an exporter's run produces them: 50 gauges, one series each, with
/// check, target and address labels. One series in a hundred is "unhealthy" (0 instead of 1),
/// two per metric name, on different checks.
std::vector<prometheus::MetricFamily> CheckFamilies(int c) {
  MetricSet set;
  const Labels labels = {
      {"check", CheckName(c)},
      {"target", "host-" + std::to_string(c % 40) + ".example.net:443"},
      {"address", "10.0." + std::to_string(c / 250) + "." + std::to_string(c % 250)}};
  for (int m = 0; m < kMetrics; ++m) {
    set.Gauge(MetricName(m), "help text", labels, (c * 7 + m * 13) % 100 == 0 ? 0 : 1);
  }
  return set.Take();
}

std::vector<std::vector<prometheus::MetricFamily>> AllSources() {
  std::vector<std::vector<prometheus::MetricFamily>> sources;
  for (int c = 0; c < kChecks; ++c) sources.push_back(CheckFamilies(c));
  return sources;
}

/// 200 rules: 100 plain selectors with `=`, 40 with `=~`, 20 with `!=`/`!~`, and 40
/// aggregations (min by target, sum, count by check, avg by target, max).
std::vector<RuleExpr> Rules() {
  std::vector<std::string> texts;
  for (int i = 0; i < 100; ++i) {
    texts.push_back(MetricName(i % kMetrics) + "{check=\"" + CheckName(i * 7 % kChecks) +
                    "\"} < 1");
  }
  for (int i = 0; i < 40; ++i) {
    texts.push_back(MetricName(i % kMetrics) +
                    "{target=~\"host-(1|2)[0-9]\\\\.example\\\\.net:.*\"}"
                    " < 1");
  }
  for (int i = 0; i < 20; ++i) {
    texts.push_back(MetricName(i % kMetrics) +
                    "{check!=\"check-0\", address!~\"10\\\\.0\\\\.0\\\\.1.*\"} < 1");
  }
  const char* aggregations[] = {"min by (target)", "sum", "count by (check)", "avg by (target)",
                                "max"};
  const char* comparisons[] = {" < 1", " < 199", " != 1", " < 1", " < 1"};
  for (int i = 0; i < 40; ++i) {
    texts.push_back(std::string(aggregations[i % 5]) + " (" + MetricName(i % kMetrics) + ")" +
                    comparisons[i % 5]);
  }
  std::vector<RuleExpr> rules;
  for (const std::string& text : texts) {
    auto parsed = ParseRuleExpr(text);
    if (!parsed.ok()) {
      std::fprintf(stderr, "%s: %s\n", text.c_str(), parsed.error().message.c_str());
      std::abort();
    }
    rules.push_back(std::move(parsed).value());
  }
  return rules;
}

void BuildIndex(const std::vector<std::vector<prometheus::MetricFamily>>& sources,
                SampleIndex& index) {
  index.Clear();
  for (const auto& families : sources) index.Add(families);
}

// Re-indexing every source's latest families: done once per round before the rules run.
void BM_IndexBuild(benchmark::State& state) {
  const auto sources = AllSources();
  SampleIndex index;
  BuildIndex(sources, index);  // warm: names and capacity stay across rounds
  const uint64_t before = g_allocations.load();
  for (auto _ : state) {
    BuildIndex(sources, index);
    benchmark::DoNotOptimize(index.size());
  }
  state.counters["series"] = static_cast<double>(index.size());
  state.counters["allocs"] = benchmark::Counter(static_cast<double>(g_allocations.load() - before),
                                                benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_IndexBuild);

// One evaluation round: every rule over the index.
void BM_EvaluateRound(benchmark::State& state) {
  const auto sources = AllSources();
  const auto rules = Rules();
  SampleIndex index;
  BuildIndex(sources, index);
  size_t matches = 0;
  const uint64_t before = g_allocations.load();
  for (auto _ : state) {
    matches = 0;
    for (const RuleExpr& rule : rules) matches += Evaluate(rule, index).size();
    benchmark::DoNotOptimize(matches);
  }
  state.counters["rules"] = static_cast<double>(rules.size());
  state.counters["series"] = static_cast<double>(index.size());
  state.counters["alerts"] = static_cast<double>(matches);
  state.counters["allocs"] = benchmark::Counter(static_cast<double>(g_allocations.load() - before),
                                                benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_EvaluateRound)->Unit(benchmark::kMicrosecond);

// The same by kind of rule, per rule: the 100 `=` selectors, the 40 `=~`, the 20 `!=`/`!~`, the
// 40 aggregations.
void BM_EvaluateOneKind(benchmark::State& state) {
  const auto sources = AllSources();
  const auto all = Rules();
  const size_t bounds[] = {0, 100, 140, 160, 200};
  const size_t kind = static_cast<size_t>(state.range(0));
  const std::vector<RuleExpr> rules(all.begin() + static_cast<long>(bounds[kind]),
                                    all.begin() + static_cast<long>(bounds[kind + 1]));
  SampleIndex index;
  BuildIndex(sources, index);
  size_t matches = 0;
  for (auto _ : state) {
    matches = 0;
    for (const RuleExpr& rule : rules) matches += Evaluate(rule, index).size();
    benchmark::DoNotOptimize(matches);
  }
  state.counters["alerts"] = static_cast<double>(matches);
  static const char* const kKinds[] = {"equal", "regex", "not_equal", "aggregation"};
  state.SetLabel(kKinds[kind]);
  state.counters["per_rule"] = benchmark::Counter(
      static_cast<double>(rules.size()),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_EvaluateOneKind)->DenseRange(0, 3)->Unit(benchmark::kMicrosecond);

// What the agent pays per round: re-index, then evaluate every rule.
void BM_IndexAndEvaluateRound(benchmark::State& state) {
  const auto sources = AllSources();
  const auto rules = Rules();
  SampleIndex index;
  BuildIndex(sources, index);
  const uint64_t before = g_allocations.load();
  for (auto _ : state) {
    BuildIndex(sources, index);
    size_t matches = 0;
    for (const RuleExpr& rule : rules) matches += Evaluate(rule, index).size();
    benchmark::DoNotOptimize(matches);
  }
  state.counters["allocs"] = benchmark::Counter(static_cast<double>(g_allocations.load() - before),
                                                benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_IndexAndEvaluateRound)->Unit(benchmark::kMicrosecond);

// Config load: parsing the 200 rules (regexes compiled once here).
// The alerter keeps a copy of every source's latest families while rules exist: what a copy of
// the 10,000 series costs in time and heap bytes (mallinfo2, so allocator overhead included).
void BM_CopyFamilies(benchmark::State& state) {
  const auto sources = AllSources();
  size_t bytes = 0;
  for (auto _ : state) {
    const size_t before = mallinfo2().uordblks;
    auto copy = sources;
    bytes = mallinfo2().uordblks - before;
    benchmark::DoNotOptimize(copy);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["bytes_per_series"] = static_cast<double>(bytes) / (kChecks * kMetrics);
}
BENCHMARK(BM_CopyFamilies)->Unit(benchmark::kMicrosecond);

void BM_ParseRules(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Rules());
}
BENCHMARK(BM_ParseRules)->Unit(benchmark::kMicrosecond);

// One annotation expanded for one alert.
void BM_ExpandAnnotation(benchmark::State& state) {
  auto tmpl =
      ParseTemplate("{{ $labels.check }} ({{ $labels.target }}) failed: value {{ $value }}");
  const Labels labels = {{"address", "10.0.0.1"}, {"check", "web"}, {"target", "a.example:443"}};
  for (auto _ : state) benchmark::DoNotOptimize(Expand(tmpl.value(), labels, 0.25));
}
BENCHMARK(BM_ExpandAnnotation);

}  // namespace
}  // namespace sre::alerting

BENCHMARK_MAIN();
