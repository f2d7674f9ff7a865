#include "agent/runtime/run_once.h"

#include <fmt/format.h>

#include <memory>
#include <optional>

#include "agent/net/curl_multi.h"
#include "agent/net/dns_resolver.h"
#include "agent/net/event_loop.h"

namespace sre {
namespace {

// The exporters keep their own deadlines; this only bounds the wait for one that does not.
constexpr Duration kGrace = std::chrono::seconds(1);

// `factories[i]` makes `specs[i]`.
Result<std::vector<TimedResult>> RunAll(const std::vector<const ExporterFactory*>& factories,
                                        const std::vector<InstanceSpec>& specs, Logger& log) {
  SystemClock clock;
  net::EventLoop loop(clock);
  net::ResolverPool resolvers(loop);
  auto curl = net::CurlMulti::Create(loop);
  if (!curl.ok()) return curl.status();
  ExporterEnv env{loop, resolvers, **curl, log, false, true};
  std::vector<std::unique_ptr<Exporter>> exporters;
  for (size_t i = 0; i < specs.size(); ++i) {
    auto exporter = factories[i]->Create(specs[i], env);
    if (!exporter.ok()) {
      if (specs.size() == 1) return exporter.status();
      return Status::Error(fmt::format("{} {}: {}", specs[i].exporter, specs[i].settings.check,
                                       exporter.status().message()));
    }
    exporters.push_back(std::move(exporter).value());
  }
  std::vector<std::optional<TimedResult>> results(specs.size());
  size_t pending = specs.size();
  const TimePoint start = clock.Now();
  TimePoint last_deadline = start;
  for (size_t i = 0; i < specs.size(); ++i) {
    const TimePoint deadline = start + specs[i].settings.timeout;
    last_deadline = std::max(last_deadline, deadline);
    exporters[i]->Collect(deadline, [&, i](CollectResult r) {
      results[i] = TimedResult{std::move(r), clock.Now() - start};
      --pending;
    });
  }
  while (pending > 0 && clock.Now() < last_deadline + kGrace) {
    loop.RunOnce(std::chrono::milliseconds(100));
  }
  std::vector<TimedResult> out;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (results[i]) {
      out.push_back(std::move(*results[i]));
      continue;
    }
    exporters[i]->Cancel();
    TimedResult timed_out;
    timed_out.result.reason = Reason::kTimeout;
    timed_out.result.message = "the check did not finish by its deadline";
    timed_out.took = clock.Now() - start;
    out.push_back(std::move(timed_out));
  }
  return out;
}

}  // namespace

Result<std::vector<TimedResult>> RunAllOnce(const ExporterRegistry& registry,
                                            const std::vector<InstanceSpec>& specs, Logger& log) {
  std::vector<const ExporterFactory*> factories;
  for (const InstanceSpec& spec : specs) {
    factories.push_back(registry.Find(spec.exporter));
    if (factories.back() == nullptr) {
      return Status::Error("unknown exporter \"" + spec.exporter + "\"");
    }
  }
  return RunAll(factories, specs, log);
}

Result<CollectResult> RunOnce(const ExporterFactory& factory, const InstanceSpec& spec,
                              Logger& log) {
  auto results = RunAll({&factory}, {spec}, log);
  if (!results.ok()) return results.status();
  return std::move(results->front().result);
}

}  // namespace sre
