#include "exporters/php_fpm/php_fpm_exporter.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "agent/base/callback.h"
#include "agent/core/metric_set.h"
#include "exporters/php_fpm/pool_metrics.h"
#include "exporters/php_fpm/socket_discovery.h"

namespace sre::exporters::php_fpm {
namespace {

// hipages php-fpm_exporter's help texts for the two series every pool has.
constexpr std::string_view kUpHelp = "Could PHP-FPM be reached?";
constexpr std::string_view kScrapeFailuresHelp = "The number of failures scraping from PHP-FPM.";

std::string Summary(const PoolStatus& s) {
  return fmt::format("{} active, {} idle, listen queue {} of {}, {} slow, max children reached {}",
                     s.active_processes, s.idle_processes, s.listen_queue, s.listen_queue_len,
                     s.slow_requests, s.max_children_reached);
}

Observation PoolObservation(const std::string& subject, const ScrapeUri& uri,
                            const PoolScrapeResult& r) {
  Observation o{subject, r.reason == Reason::kNone, r.reason, r.message, r.elapsed, {}, {}};
  o.details["scrape_uri"] = uri.text;
  if (!r.status) return o;
  const PoolStatus& s = *r.status;
  o.message = Summary(s);
  if (r.attempts > 1) o.message += fmt::format(" (after {} tries)", r.attempts);
  o.details["process_manager"] = s.process_manager;
  // What the summary leaves out; --output prom has every series.
  o.figures = {{"accepted_conn", static_cast<double>(s.accepted_conn)},
               {"max_active_processes", static_cast<double>(s.max_active_processes)},
               {"max_listen_queue", static_cast<double>(s.max_listen_queue)}};
  return o;
}

// One line per worker, for `sre-probe php-fpm --processes`.
Observation ProcessObservation(const std::string& pool, size_t child, const ProcessStatus& p) {
  std::string message = fmt::format("{:<16} pid {:<7} {:>6} requests", p.state, p.pid, p.requests);
  if (!p.request_uri.empty() && p.request_uri != "-") {
    message += fmt::format("  {} {}", p.request_method, p.request_uri);
  }
  if (!p.script.empty() && p.script != "-") message += "  " + p.script;
  return {fmt::format("{}/{}", pool, child),
          true,
          Reason::kNone,
          std::move(message),
          std::chrono::microseconds(p.request_duration),
          {{"last_request_memory", static_cast<double>(p.last_request_memory)},
           {"last_request_cpu", p.last_request_cpu}},
          {}};
}

}  // namespace

PhpFpmExporter::PhpFpmExporter(const PhpFpmConfig& config, net::EventLoop& loop,
                               net::DnsResolver& resolver, bool for_people)
    : config_(config), loop_(loop), resolver_(resolver), for_people_(for_people) {
  for (const ScrapeUri& uri : config_.uris) pools_.emplace_back(uri, false);
}

PhpFpmExporter::~PhpFpmExporter() { Cancel(); }

void PhpFpmExporter::Cancel() {
  for (Pool& pool : pools_) pool.scrape.reset();
  pending_ = 0;
  done_ = nullptr;
  alive_ = std::make_shared<int>(0);  // drops a posted Finish
}

Status PhpFpmExporter::Discover() {
  if (config_.socket_glob.empty()) return Status::Ok();
  auto found = FindSockets(config_.socket_glob);
  if (!found.ok()) return found.status();  // keep the pools known so far
  // The configured pools first, in order; then one per socket, sorted, keeping the state
  // (pool name, failure count) of those seen before. Pools whose socket went away disappear
  // with their series.
  std::vector<Pool> next;
  std::set<std::string> configured;
  std::map<std::string, Pool> seen;
  for (Pool& pool : pools_) {
    if (pool.discovered) {
      seen.emplace(pool.uri.unix_path, std::move(pool));
    } else {
      configured.insert(pool.uri.unix_path);
      next.push_back(std::move(pool));
    }
  }
  for (const std::string& path : *found) {
    if (configured.contains(path)) continue;
    auto it = seen.find(path);
    next.push_back(it != seen.end() ? std::move(it->second)
                                    : Pool(ScrapeUri::ForSocket(path, config_.status_path), true));
  }
  pools_ = std::move(next);
  return Status::Ok();
}

void PhpFpmExporter::Collect(TimePoint deadline, Done done) {
  done_ = std::move(done);
  discovery_ = Discover();
  pending_ = pools_.size();
  if (pending_ == 0) {
    loop_.Post([this, alive = std::weak_ptr<int>(alive_)] {
      if (alive.lock()) Finish();
    });
    return;
  }
  for (size_t i = 0; i < pools_.size(); ++i) {
    pools_[i].scrape =
        PoolScrape::Start(loop_, resolver_, pools_[i].uri, deadline,
                          [this, i](PoolScrapeResult result) { OnScraped(i, std::move(result)); });
  }
}

void PhpFpmExporter::OnScraped(size_t index, PoolScrapeResult result) {
  pools_[index].result = std::move(result);
  if (--pending_ == 0) Finish();
}

void PhpFpmExporter::Finish() {
  const PoolMetricOptions options{config_.processes, config_.fix_process_count};
  CollectResult result;
  result.success = discovery_.ok();
  if (!discovery_.ok()) {
    result.reason = Reason::kReadError;
    result.message = discovery_.message();
  }
  MetricSet set;
  size_t up = 0;
  for (Pool& pool : pools_) {
    const PoolScrapeResult& r = pool.result;
    const bool ok = r.reason == Reason::kNone;
    if (ok) {
      pool.name = r.status->pool;
      ++up;
    } else {
      ++pool.failures;
      if (result.success) {
        result.success = false;
        result.reason = r.reason;
        result.message =
            fmt::format("{}: {}", pool.name.empty() ? pool.uri.text : pool.name, r.message);
      }
    }
    const Labels labels = {
        {"check", config_.settings.check}, {"pool", pool.name}, {"scrape_uri", pool.uri.text}};
    set.Counter("phpfpm_scrape_failures", kScrapeFailuresHelp, labels,
                static_cast<double>(pool.failures));
    set.Gauge("phpfpm_up", kUpHelp, labels, ok ? 1 : 0);
    set.Gauge("phpfpm_scrape_duration_seconds", "How long reading the status page took.", labels,
              ToSeconds(r.elapsed));
    if (!ok) {
      set.Gauge("phpfpm_failure_info", "Why the last scrape of the pool failed.",
                WithLabels(labels, {{"reason", std::string(ReasonName(r.reason))}}), 1);
    } else {
      AddPoolMetrics(set, labels, *r.status, options);
    }
    result.observations.push_back(
        PoolObservation(pool.name.empty() ? pool.uri.text : pool.name, pool.uri, r));
    if (ok && config_.processes && for_people_) {
      for (size_t i = 0; i < r.status->processes.size(); ++i) {
        result.observations.push_back(ProcessObservation(pool.name, i, r.status->processes[i]));
      }
    }
  }
  if (result.success && pools_.empty()) {
    // php-fpm is not on this node: absent, not failing (docs/reasons.md).
    result.success = false;
    result.reason = Reason::kNotPresent;
    result.message = fmt::format("no pool sockets match {}", config_.socket_glob);
  } else if (result.success) {
    result.message = fmt::format("{} of {} pools up", up, pools_.size());
  }
  result.families = set.Take();
  CallOnce(done_, std::move(result));
}

namespace {

class PhpFpmFactory final : public TypedExporterFactory<PhpFpmConfig> {
 public:
  std::string_view name() const override { return "php_fpm"; }
  std::string_view summary() const override {
    return "PHP-FPM pools over FastCGI: processes, listen queue, requests (hipages names)";
  }

 protected:
  const config::Schema<PhpFpmConfig>& TypedSchema() const override { return PhpFpmSchema(); }

  std::string Target(const PhpFpmConfig& config) const override {
    std::vector<std::string> parts = config.scrape_uri;
    if (!config.socket_glob.empty()) parts.push_back(config.socket_glob);
    return fmt::format("{}", fmt::join(parts, ", "));
  }

  Status Prepare(PhpFpmConfig& config, const YAML::Node& node,
                 const config::ParseContext& ctx) const override {
    for (const std::string& text : config.scrape_uri) {
      auto uri = ScrapeUri::Parse(text);  // validated by the schema
      if (!uri.ok()) return ctx.ErrorAt(node["scrape_uri"], uri.status().message());
      config.uris.push_back(std::move(uri).value());
    }
    return Status::Ok();
  }

  Result<std::unique_ptr<Exporter>> Make(const PhpFpmConfig& config,
                                         ExporterEnv& env) const override {
    auto resolver = env.resolvers.Get({});
    if (!resolver.ok()) return resolver.status();
    return std::unique_ptr<Exporter>(
        std::make_unique<PhpFpmExporter>(config, env.loop, **resolver, env.for_people));
  }
};

}  // namespace

std::unique_ptr<ExporterFactory> MakePhpFpmFactory() { return std::make_unique<PhpFpmFactory>(); }

}  // namespace sre::exporters::php_fpm
