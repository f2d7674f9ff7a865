// The CPU side of one fluentd collection, without the HTTP I/O: parsing a 200-plugin
// `/api/plugins.json` response, mapping it to fluent-plugin-prometheus's series, both as
// FluentdExporter does for one endpoint, and rendering the series as the scheduler does at
// publish. The response is generated from the testdata fixtures (exporters/fluentd/testdata/):
// 40 inputs, 140 outputs (buffered, retrying, unbuffered, with timekeys; a third without @id)
// and 20 filters. Heap allocations are counted with a replaced global operator new and reported
// per iteration ("allocs", "alloc_bytes"). Figures go to docs/benchmarks.md.
// g++ 12 inlines the replaced operators below and then takes free() on memory from operator new
// for a mismatch; they are a matching pair here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "agent/core/metric_set.h"
#include "agent/runtime/snapshot.h"
#include "exporters/fluentd/plugin_metrics.h"
#include "exporters/fluentd/plugins.h"

namespace {

std::atomic<uint64_t> g_allocs{0};
std::atomic<uint64_t> g_alloc_bytes{0};

}  // namespace

// Counts every allocation of the process; the benchmarks read the difference per iteration.
void* operator new(std::size_t size) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  g_alloc_bytes.fetch_add(size, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace sre::exporters::fluentd {
namespace {

constexpr int kInputs = 40;
constexpr int kOutputs = 140;
constexpr int kFilters = 20;

nlohmann::ordered_json Fixture(const std::string& name) {
  const char* env = std::getenv("SRE_SOURCE_DIR");
  const std::string path = std::string(env != nullptr ? env : SRE_BENCH_SOURCE_DIR) +
                           "/exporters/fluentd/testdata/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(1);
  }
  return nlohmann::ordered_json::parse(in);
}

// The 200-plugin response, in Fluentd's order: inputs, outputs, filters.
const std::string& Response() {
  static const std::string text = [] {
    const auto retrying = Fixture("plugins_retrying.json")["plugins"];
    const auto mixed = Fixture("plugins_object_ids.json")["plugins"];
    // Templates: in_forward, in_tail; out_es (retrying), forward (buffered), stdout
    // (unbuffered), file (timekeys); record_transformer.
    const std::vector<nlohmann::ordered_json> inputs = {retrying[1], mixed[2]};
    const std::vector<nlohmann::ordered_json> outputs = {retrying[2], mixed[4], mixed[3], mixed[6]};
    const nlohmann::ordered_json filter = mixed[7];
    nlohmann::ordered_json plugins = nlohmann::ordered_json::array();
    auto add = [&plugins](nlohmann::ordered_json plugin, const std::string& prefix, int i) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "%x", 0x8c0 + i * 0x14);
      plugin["plugin_id"] = i % 3 == 0 ? "object:" + std::string(hex) : prefix + std::to_string(i);
      plugins.push_back(std::move(plugin));
    };
    int n = 0;
    for (int i = 0; i < kInputs; ++i) add(inputs[i % inputs.size()], "in_", n++);
    for (int i = 0; i < kOutputs; ++i) add(outputs[i % outputs.size()], "out_", n++);
    for (int i = 0; i < kFilters; ++i) add(filter, "filter_", n++);
    return nlohmann::ordered_json{{"plugins", plugins}}.dump();
  }();
  return text;
}

const Labels kEndpoint = {{"check", "fluentd"}, {"target", "http://127.0.0.1:24220"}};

PluginSelection Outputs() {
  PluginSelection selection;
  selection.categories = {"output"};
  return selection;
}

size_t Series(const std::vector<prometheus::MetricFamily>& families) {
  size_t n = 0;
  for (const auto& family : families) n += family.metric.size();
  return n;
}

// Allocations per iteration, from the counters' difference over the timed loop.
class AllocationCounter {
 public:
  AllocationCounter() : allocs_(g_allocs.load()), bytes_(g_alloc_bytes.load()) {}
  void Report(benchmark::State& state) const {
    const double iterations = static_cast<double>(state.iterations());
    state.counters["allocs"] = static_cast<double>(g_allocs.load() - allocs_) / iterations;
    state.counters["alloc_bytes"] = static_cast<double>(g_alloc_bytes.load() - bytes_) / iterations;
  }

 private:
  uint64_t allocs_;
  uint64_t bytes_;
};

std::vector<PluginStatus> Parsed() {
  auto plugins = ParsePlugins(Response());
  if (!plugins.ok() || plugins->size() != kInputs + kOutputs + kFilters) {
    std::fprintf(stderr, "the generated response does not parse: %s\n",
                 plugins.status().message().c_str());
    std::exit(1);
  }
  return std::move(plugins).value();
}

void BM_ParsePlugins200(benchmark::State& state) {
  const std::string& text = Response();
  const AllocationCounter counter;
  for (auto _ : state) benchmark::DoNotOptimize(ParsePlugins(text));
  counter.Report(state);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["body_bytes"] = static_cast<double>(text.size());
}
BENCHMARK(BM_ParsePlugins200);

void BM_MapPlugins200(benchmark::State& state) {
  const std::vector<PluginStatus> plugins = Parsed();
  const PluginSelection selection = Outputs();
  size_t series = 0;
  const AllocationCounter counter;
  for (auto _ : state) {
    MetricSet set;
    AddPluginMetrics(set, kEndpoint, plugins, LabelIds(plugins, true), selection);
    auto families = set.Take();
    series = Series(families);
    benchmark::DoNotOptimize(families);
  }
  counter.Report(state);
  state.counters["series"] = static_cast<double>(series);
}
BENCHMARK(BM_MapPlugins200);

// One endpoint's collection minus I/O: the body parsed, the outputs' series built and taken.
void BM_ParseAndMap200(benchmark::State& state) {
  const std::string& text = Response();
  const PluginSelection selection = Outputs();
  size_t series = 0;
  const AllocationCounter counter;
  for (auto _ : state) {
    auto plugins = ParsePlugins(text);
    MetricSet set;
    AddPluginMetrics(set, kEndpoint, *plugins, LabelIds(*plugins, true), selection);
    auto families = set.Take();
    series = Series(families);
    benchmark::DoNotOptimize(families);
  }
  counter.Report(state);
  state.counters["series"] = static_cast<double>(series);
}
BENCHMARK(BM_ParseAndMap200);

// For comparison: the same body through nlohmann's document parser alone, as a tree-building
// parser (php_fpm's status.cc) would start.
void BM_DomParseOnly200(benchmark::State& state) {
  const std::string& text = Response();
  const AllocationCounter counter;
  for (auto _ : state) {
    benchmark::DoNotOptimize(nlohmann::json::parse(text.begin(), text.end(), nullptr, false));
  }
  counter.Report(state);
}
BENCHMARK(BM_DomParseOnly200);

// What the scheduler adds at publish: rendering the series into a snapshot's text.
void BM_Render200(benchmark::State& state) {
  const std::vector<PluginStatus> plugins = Parsed();
  MetricSet set;
  AddPluginMetrics(set, kEndpoint, plugins, LabelIds(plugins, true), Outputs());
  const auto families = set.Take();
  HeaderPool headers;
  std::string scratch;
  size_t bytes = 0;
  const AllocationCounter counter;
  for (auto _ : state) {
    auto snapshot = MakeSnapshot({}, families, &headers, &scratch);
    bytes = snapshot->text.size();
    benchmark::DoNotOptimize(snapshot);
  }
  counter.Report(state);
  state.counters["series"] = static_cast<double>(Series(families));
  state.counters["text_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Render200);

}  // namespace
}  // namespace sre::exporters::fluentd

BENCHMARK_MAIN();
