// The scrape path: rendering families at publish time, merging snapshots into one body when
// something changed, and serving an unchanged body. Figures go to docs/benchmarks.md.
#include <benchmark/benchmark.h>

#include "agent/core/metric_set.h"
#include "agent/runtime/snapshot_store.h"

namespace sre {
namespace {

// One TCP check's families: about 15 series, as the exporter publishes them.
std::vector<prometheus::MetricFamily> CheckFamilies(int check) {
  MetricSet set;
  const Labels labels = {{"check", "db-" + std::to_string(check)},
                         {"target", "10.0.0.1:3306"},
                         {"address", "10.0.0.1"}};
  for (const char* name :
       {"probe_success", "probe_duration_seconds", "probe_ip_protocol", "probe_ip_addr_hash",
        "probe_failed_due_to_regex", "probe_dns_lookup_time_seconds"}) {
    set.Gauge(name, "help text", labels, 1);
  }
  set.Counter("probe_attempts_total", "help text", labels, 1234);
  Histogram histogram({0.0005, 0.001, 0.0025, 0.005});
  histogram.Observe(0.0003);
  set.Histogram("probe_tcp_connect_duration_seconds", "help text", labels, histogram.ToMetric());
  return set.Take();
}

std::vector<std::shared_ptr<const Snapshot>> Snapshots(int checks) {
  std::vector<std::shared_ptr<const Snapshot>> snapshots;
  for (int i = 0; i < checks; ++i) {
    snapshots.push_back(MakeSnapshot({}, CheckFamilies(i)));
  }
  return snapshots;
}

// 100 checks x 15 series = 1,500 series.
void BM_MakeSnapshotPerPublish(benchmark::State& state) {
  const auto families = CheckFamilies(1);
  HeaderPool pool;
  std::string scratch;
  for (auto _ : state) benchmark::DoNotOptimize(MakeSnapshot({}, families, &pool, &scratch));
}
BENCHMARK(BM_MakeSnapshotPerPublish);

void BM_MergeExposition(benchmark::State& state) {
  const auto snapshots = Snapshots(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    std::string body = MergeExposition(snapshots, ExpositionFormat::kText004);
    bytes = body.size();
    benchmark::DoNotOptimize(body);
  }
  state.counters["series"] = static_cast<double>(state.range(0) * 15);
  state.counters["body_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_MergeExposition)->Arg(100)->Arg(1000);

void BM_ScrapeUnchanged(benchmark::State& state) {
  SnapshotStore store;
  auto snapshots = Snapshots(100);
  for (size_t i = 0; i < snapshots.size(); ++i) store.Publish(std::to_string(i), snapshots[i]);
  for (auto _ : state) benchmark::DoNotOptimize(store.Render(ExpositionFormat::kText004));
}
BENCHMARK(BM_ScrapeUnchanged);

void BM_ScrapeAfterOnePublish(benchmark::State& state) {
  SnapshotStore store;
  auto snapshots = Snapshots(100);
  for (size_t i = 0; i < snapshots.size(); ++i) store.Publish(std::to_string(i), snapshots[i]);
  for (auto _ : state) {
    store.Publish("0", snapshots[0]);
    benchmark::DoNotOptimize(store.Render(ExpositionFormat::kText004));
  }
}
BENCHMARK(BM_ScrapeAfterOnePublish);

void BM_GzipOncePerChange(benchmark::State& state) {
  SnapshotStore store;
  auto snapshots = Snapshots(100);
  for (size_t i = 0; i < snapshots.size(); ++i) store.Publish(std::to_string(i), snapshots[i]);
  size_t compressed = 0;
  for (auto _ : state) {
    store.Publish("0", snapshots[0]);
    compressed = store.Render(ExpositionFormat::kText004, ContentEncoding::kGzip)->size();
  }
  state.counters["body_bytes"] =
      static_cast<double>(store.Render(ExpositionFormat::kText004)->size());
  state.counters["gzip_bytes"] = static_cast<double>(compressed);
}
BENCHMARK(BM_GzipOncePerChange);

}  // namespace
}  // namespace sre

BENCHMARK_MAIN();
