#include "agent/runtime/run_once.h"

#include <optional>

#include "agent/net/curl_multi.h"
#include "agent/net/dns_resolver.h"
#include "agent/net/event_loop.h"

namespace sre {

Result<CollectResult> RunOnce(const ExporterFactory& factory, const InstanceSpec& spec,
                              Logger& log) {
  SystemClock clock;
  net::EventLoop loop(clock);
  net::ResolverPool resolvers(loop);
  auto curl = net::CurlMulti::Create(loop);
  if (!curl.ok()) return curl.status();
  ExporterEnv env{loop, resolvers, **curl, log, false, true};
  auto exporter = factory.Create(spec, env);
  if (!exporter.ok()) return exporter.status();
  std::optional<CollectResult> result;
  const TimePoint deadline = clock.Now() + spec.settings.timeout;
  (*exporter)->Collect(deadline, [&result](CollectResult r) { result = std::move(r); });
  // The exporter keeps its own deadline; the loop's wait is bounded by its timers.
  while (!result && clock.Now() < deadline + std::chrono::seconds(1)) {
    loop.RunOnce(std::chrono::milliseconds(100));
  }
  if (!result) {
    (*exporter)->Cancel();
    CollectResult timed_out;
    timed_out.reason = Reason::kTimeout;
    timed_out.message = "the check did not finish by its deadline";
    return timed_out;
  }
  return std::move(*result);
}

}  // namespace sre
