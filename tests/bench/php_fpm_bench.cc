// The CPU side of one php_fpm collection, without the FastCGI I/O: parsing a 50-worker pool's
// `json&full` status page, building its series, and doing both for 20 pools as
// PhpFpmExporter::Finish does, then rendering them as the scheduler does at publish. The fixture
// is a real php-fpm 8.2 page (exporters/php_fpm/testdata/pool50_status_json_full.body). Figures
// go to docs/benchmarks.md.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "agent/core/metric_set.h"
#include "agent/runtime/snapshot.h"
#include "exporters/php_fpm/pool_metrics.h"
#include "exporters/php_fpm/status.h"

namespace sre::exporters::php_fpm {
namespace {

constexpr int kPools = 20;

// The fixture's bytes, from $SRE_SOURCE_DIR or the source dir this was built from.
const std::string& Fixture() {
  static const std::string text = [] {
    const char* env = std::getenv("SRE_SOURCE_DIR");
    const std::string path = std::string(env != nullptr ? env : SRE_BENCH_SOURCE_DIR) +
                             "/exporters/php_fpm/testdata/pool50_status_json_full.body";
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", path.c_str());
      std::exit(1);
    }
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }();
  return text;
}

PoolStatus ParsedFixture() {
  auto status = ParsePoolStatus(Fixture());
  if (!status.ok() || status->processes.size() != 50) {
    std::fprintf(stderr, "the fixture does not parse into 50 processes\n");
    std::exit(1);
  }
  return std::move(status).value();
}

Labels PoolLabels(int pool) {
  const std::string name = "p" + std::to_string(pool);
  return {{"check", "bench"},
          {"pool", name},
          {"scrape_uri", "unix:///tmp/php-fpm-bench/" + name + ".sock;/status"}};
}

// One pool's series as PhpFpmExporter::Finish builds them for a pool that answered.
void AddPool(MetricSet& set, int pool, const PoolStatus& status, const PoolMetricOptions& options) {
  const Labels labels = PoolLabels(pool);
  set.Counter("phpfpm_scrape_failures", "help", labels, 0);
  set.Gauge("phpfpm_up", "help", labels, 1);
  set.Gauge("phpfpm_scrape_duration_seconds", "help", labels, 0.012);
  AddPoolMetrics(set, labels, status, options);
}

size_t Series(const std::vector<prometheus::MetricFamily>& families) {
  size_t n = 0;
  for (const auto& family : families) n += family.metric.size();
  return n;
}

void BM_ParsePoolStatus50(benchmark::State& state) {
  const std::string& text = Fixture();
  for (auto _ : state) benchmark::DoNotOptimize(ParsePoolStatus(text));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_ParsePoolStatus50);

// Arg: processes (0 or 1).
void BM_AddPoolMetrics50(benchmark::State& state) {
  const PoolStatus status = ParsedFixture();
  const PoolMetricOptions options{state.range(0) != 0, false};
  const Labels labels = PoolLabels(0);
  size_t series = 0;
  for (auto _ : state) {
    MetricSet set;
    AddPoolMetrics(set, labels, status, options);
    auto families = set.Take();
    series = Series(families);
    benchmark::DoNotOptimize(families);
  }
  state.counters["series"] = static_cast<double>(series);
}
BENCHMARK(BM_AddPoolMetrics50)->ArgName("processes")->Arg(0)->Arg(1);

// One collection's CPU minus I/O: 20 pages parsed, 20 pools' series built, the families taken.
// Arg: processes (0 or 1).
void BM_ParseAndBuild20Pools(benchmark::State& state) {
  const std::string& text = Fixture();
  const PoolMetricOptions options{state.range(0) != 0, false};
  size_t series = 0;
  for (auto _ : state) {
    MetricSet set;
    for (int pool = 0; pool < kPools; ++pool) {
      auto status = ParsePoolStatus(text);
      AddPool(set, pool, *status, options);
    }
    auto families = set.Take();
    series = Series(families);
    benchmark::DoNotOptimize(families);
  }
  state.counters["series"] = static_cast<double>(series);
}
BENCHMARK(BM_ParseAndBuild20Pools)->ArgName("processes")->Arg(0)->Arg(1);

// What the scheduler adds at publish: rendering the 20 pools' families into a snapshot's text.
// Arg: processes (0 or 1).
void BM_Render20Pools(benchmark::State& state) {
  const PoolStatus status = ParsedFixture();
  const PoolMetricOptions options{state.range(0) != 0, false};
  MetricSet set;
  for (int pool = 0; pool < kPools; ++pool) AddPool(set, pool, status, options);
  const auto families = set.Take();
  HeaderPool headers;
  std::string scratch;
  size_t bytes = 0;
  for (auto _ : state) {
    auto snapshot = MakeSnapshot({}, families, &headers, &scratch);
    bytes = snapshot->text.size();
    benchmark::DoNotOptimize(snapshot);
  }
  state.counters["series"] = static_cast<double>(Series(families));
  state.counters["text_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Render20Pools)->ArgName("processes")->Arg(0)->Arg(1);

}  // namespace
}  // namespace sre::exporters::php_fpm

BENCHMARK_MAIN();
