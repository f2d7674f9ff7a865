// sre-agent: the node agent. Flags in the Prometheus style; SIGHUP reloads, SIGTERM drains.
#include <curl/curl.h>
#include <fmt/format.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <iostream>

#include "agent/alerting/alerting_config.h"
#include "agent/config/schema.h"
#include "agent/core/exporter_registry.h"
#include "agent/core/log.h"
#include "agent/discovery/discovery_config.h"
#include "agent/main/flags.h"
#include "agent/main/version.h"
#include "agent/runtime/agent.h"
#include "agent/runtime/probe_modules.h"
#include "agent/server/agent_endpoints.h"
#include "agent/server/http_server.h"
#include "agent/server/web_config.h"
#include "exporters/builtin.h"

namespace sre {
namespace {

// Outside 9100-9999 (Prometheus' exporter port list, fully allocated) and used by no well-known
// exporter; see docs/operations.md.
constexpr char kDefaultListen[] = ":8944";

const std::vector<cli::FlagSpec>& AgentFlags() {
  static const std::vector<cli::FlagSpec> flags = {
      {"config.file", "FILE", "agent configuration file", "/etc/sre-agent/sre-agent.yaml"},
      {"config.check", "", "validate the configuration file and exit (0 valid, 1 invalid)"},
      {"web.listen-address", "ADDR",
       "address to serve on: :PORT (every IPv4 interface), IP:PORT or [IPv6]:PORT", kDefaultListen,
       true},
      {"web.config.file", "FILE",
       "TLS, basic auth and headers, in the Prometheus exporter toolkit's web config format "
       "(docs/security.md); re-read on SIGHUP and /-/reload"},
      {"web.max-connections", "N",
       "concurrent connections per listen address; more wait until one closes", "1024"},
      {"web.telemetry-path", "PATH", "path of the metrics endpoint", "/metrics"},
      {"web.enable-openmetrics", "",
       "serve OpenMetrics 1.0.0 to clients that ask for it (counters then end in _total)"},
      {"log.level", "LEVEL", "debug, info, warn or error", "info"},
      {"log.format", "FORMAT", "logfmt or json", "logfmt"},
      {"describe", "EXPORTER",
       "print an exporter's configuration keys and exit ('agent', 'probe', 'alerting' for those "
       "sections, 'discovery' for kubernetes/discovery/sharding, 'web' for --web.config.file)"},
      {"version", "", "print version and revision and exit"},
      {"help", "", "show this help"},
  };
  return flags;
}

int Usage(const std::string& error) {
  std::fprintf(stderr, "sre-agent: %s\n", error.c_str());
  return 1;
}

int Describe(const ExporterRegistry& registry, const std::string& name) {
  if (name == "agent") {
    std::fputs(config::RenderDescription("agent", AgentSettingsSchema().Describe()).c_str(),
               stdout);
    return 0;
  }
  if (name == "probe") {
    std::fputs(DescribeProbeSection(registry).c_str(), stdout);
    return 0;
  }
  if (name == "discovery") {
    std::fputs(
        (config::RenderDescription("kubernetes", discovery::KubernetesApiSchema().Describe()) +
         "\n" + config::RenderDescription("discovery", discovery::PodDiscoverySchema().Describe()) +
         "\n" + config::RenderDescription("sharding", discovery::ShardingSchema().Describe()))
            .c_str(),
        stdout);
    return 0;
  }
  if (name == "web") {
    std::fputs(server::DescribeWebConfig().c_str(), stdout);
    return 0;
  }
  if (name == "alerting") {
    std::fputs(config::RenderDescription("alerting", alerting::AlertingSchema().Describe()).c_str(),
               stdout);
    return 0;
  }
  const ExporterFactory* factory = registry.Find(name);
  if (factory == nullptr) {
    std::string names = "agent, probe, alerting, discovery, web";
    for (const auto& n : registry.Names()) names += ", " + n;
    return Usage(
        fmt::format("--describe: unknown exporter \"{}\"; expected one of: {}", name, names));
  }
  std::fputs(
      fmt::format("{}: {}\n\nEach item of the `{}:` list takes:\n", name, factory->summary(), name)
          .c_str(),
      stdout);
  std::fputs(config::RenderDescription("", factory->schema().Describe()).c_str(), stdout);
  return 0;
}

std::string BrowsableUrl(const std::string& bound, bool tls) {
  const std::string scheme = tls ? "https://" : "http://";
  // "0.0.0.0:8944" cannot be browsed to; localhost can.
  if (bound.starts_with("0.0.0.0:")) return scheme + "localhost:" + bound.substr(8);
  if (bound.starts_with("[::]:")) return scheme + "localhost:" + bound.substr(5);
  return scheme + bound;
}

bool ParseCount(const std::string& text, unsigned& out) {
  unsigned value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 1 || value > 1000000) {
    return false;
  }
  out = value;
  return true;
}

int Run(int argc, char** argv) {
  auto flags = cli::ParseFlags(AgentFlags(), {argv + 1, argv + argc});
  if (!flags.ok()) return Usage(flags.status().message());
  if (flags->Get("help") == "true") {
    std::fputs(("Usage: sre-agent [FLAGS]\n\nFlags:\n" + cli::RenderFlagHelp(AgentFlags())).c_str(),
               stdout);
    return 0;
  }
  if (flags->Get("version") == "true") {
    std::printf("sre-agent %s (revision %s)\n", kVersion, kRevision);
    return 0;
  }
  if (!flags->positional.empty()) {
    return Usage("unexpected argument \"" + flags->positional[0] + "\"; flags start with --");
  }
  ExporterRegistry registry;
  exporters::RegisterBuiltinExporters(registry);
  if (flags->Has("describe")) return Describe(registry, flags->Get("describe"));

  const std::string config_file = flags->Get("config.file", "/etc/sre-agent/sre-agent.yaml");
  const std::string web_config_file = flags->Get("web.config.file");
  if (flags->Get("config.check") == "true") {
    auto config = LoadAgentConfig(config_file, registry);
    if (!config.ok()) {
      std::fprintf(stderr, "%s\n", config.status().message().c_str());
      return 1;
    }
    std::printf("%s: valid, %zu check%s\n", config_file.c_str(), config->instances.size(),
                config->instances.size() == 1 ? "" : "s");
    if (web_config_file.empty()) return 0;
    auto web = server::LoadWebConfig(web_config_file);
    if (!web.ok()) {
      std::fprintf(stderr, "%s\n", web.status().message().c_str());
      return 1;
    }
    std::printf("%s: valid\n", web_config_file.c_str());
    return 0;
  }
  const auto level = ParseLogLevel(flags->Get("log.level", "info"));
  if (!level) return Usage("--log.level: expected debug, info, warn or error");
  const auto format = ParseLogFormat(flags->Get("log.format", "logfmt"));
  if (!format) return Usage("--log.format: expected logfmt or json");
  server::HttpServerOptions server_options;
  if (!ParseCount(flags->Get("web.max-connections", "1024"), server_options.connection_limit)) {
    return Usage("--web.max-connections: expected a number from 1 to 1000000");
  }
  const std::string telemetry_path = flags->Get("web.telemetry-path", "/metrics");
  if (!telemetry_path.starts_with("/") || telemetry_path == "/" ||
      telemetry_path.starts_with("/-/")) {
    return Usage("--web.telemetry-path: expected a path like /metrics, other than / and /-/...");
  }

  // One malloc arena: the loop thread does nearly all allocation, and a second arena for the HTTP
  // thread cost about 1 MiB of resident memory with 1,000 checks (docs/benchmarks.md).
  mallopt(M_ARENA_MAX, 1);

  // One descriptor per connection in flight: allow as many as the hard limit permits.
  if (rlimit limit{}; getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }

  // Signals are taken synchronously by this thread only; every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  SystemClock clock;
  Logger log(*level, *format, stderr, clock);
  if (!web_config_file.empty()) {
    auto web = server::LoadWebConfig(web_config_file);
    if (!web.ok()) {
      log.Error("cannot start: invalid web config", {{"error", web.status().message()}});
      return 1;
    }
    server_options.security = std::move(web).value();
  }
  Agent agent(registry, log, clock, {config_file, kVersion, kRevision});
  if (Status s = agent.Start(); !s.ok()) {
    log.Error("cannot start: invalid configuration", {{"error", s.message()}});
    return 1;
  }
  server_options.listen_addresses = flags->GetAll("web.listen-address");
  if (server_options.listen_addresses.empty()) server_options.listen_addresses = {kDefaultListen};
  server_options.error_log = [&log](std::string_view message) {
    // Not under "error": each distinct diagnostic is its own line (once a minute at most).
    log.WarnLimited("http server", {{"what", std::string(message)}});
  };
  // Set once the server runs; read by /-/reload on a server thread, hence atomic.
  std::atomic<server::HttpServer*> running_server = nullptr;
  // SIGHUP and POST /-/reload re-read both files; a bad one keeps its old settings running.
  auto reload = [&]() -> Status {
    Status agent_status = agent.Reload();
    server::HttpServer* http = running_server.load();
    if (web_config_file.empty() || http == nullptr) return agent_status;
    Result<server::ServerSecurity> web = server::LoadWebConfig(web_config_file);
    Status web_status = web.ok() ? http->Reload(std::move(web).value()) : web.status();
    if (!web_status.ok()) {
      log.Error("web config rejected, the previous one keeps running",
                {{"error", web_status.message()}});
    }
    return agent_status.ok() ? web_status : agent_status;
  };
  server::EndpointOptions endpoint_options{
      telemetry_path, flags->Get("web.enable-openmetrics") == "true", kVersion, kRevision};
  endpoint_options.reload = reload;
  server::Routes routes = server::AgentRoutes(agent, clock, std::move(endpoint_options));
  auto started =
      server::HttpServer::Start(server_options, std::move(routes.sync), std::move(routes.async));
  if (!started.ok()) {
    log.Error("cannot start the HTTP server", {{"error", started.status().message()}});
    return 1;
  }
  std::unique_ptr<server::HttpServer> server = std::move(started).value();
  running_server = server.get();
  const bool tls = server_options.security.tls != nullptr;
  for (const std::string& bound : server->bound_addresses()) {
    log.Info("listening", {{"address", bound},
                           {"tls", tls ? "true" : "false"},
                           {"page", BrowsableUrl(bound, tls) + "/"},
                           {"metrics", BrowsableUrl(bound, tls) + telemetry_path}});
  }
  log.Info("sre-agent started", {{"version", kVersion}, {"config", config_file}});

  for (;;) {
    int signal_number = 0;
    sigwait(&signals, &signal_number);
    if (signal_number == SIGHUP) {
      reload();
      continue;
    }
    log.Info("shutting down", {{"signal", strsignal(signal_number)}});
    break;
  }
  running_server = nullptr;
  server.reset();  // stop taking requests before the checks go away
  agent.Stop();
  log.Info("stopped");
  return 0;
}

}  // namespace
}  // namespace sre

int main(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);  // once, before any thread starts
  const int code = sre::Run(argc, argv);
  curl_global_cleanup();
  return code;
}
