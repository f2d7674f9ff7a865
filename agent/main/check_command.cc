#include "agent/main/check_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>

#include "agent/config/duration.h"
#include "agent/main/probe_output.h"
#include "agent/runtime/agent_config.h"
#include "agent/runtime/run_once.h"

namespace sre::cli {
namespace {

const std::vector<FlagSpec>& CheckFlags() {
  static const std::vector<FlagSpec> flags = {
      {"config", "FILE", "the agent's configuration file", "/etc/sre-agent/sre-agent.yaml"},
      {"timeout", "DURATION", "cut every check at this long (sooner when its own timeout is)",
       "5s"},
      {"output", "FORMAT", "text, json, prom (Prometheus text) or nagios", "text"},
      {"help", "", "show this help"},
  };
  return flags;
}

const std::vector<FlagSpec>& ValidateFlags() {
  static const std::vector<FlagSpec> flags = {{"help", "", "show this help"}};
  return flags;
}

// A config file named on the command line that is not there is bad input (exit 3), not an
// invalid config (exit 1).
std::optional<std::string> Missing(const std::string& path) {
  if (access(path.c_str(), R_OK) == 0) return std::nullopt;
  return fmt::format("cannot read {}: {}; expected the agent's configuration file", path,
                     std::strerror(errno));
}

std::string Describe(const AgentConfig& config) {
  std::map<std::string, size_t> by_exporter;
  for (const InstanceSpec& spec : config.instances) ++by_exporter[spec.exporter];
  std::string checks;
  for (const auto& [exporter, count] : by_exporter) {
    checks += fmt::format("{}{} {}", checks.empty() ? "" : ", ", count, exporter);
  }
  const auto& alerting = *config.alerting;
  return fmt::format("{} check{}{}{}; {} alerting rule{}, {} receiver{}", config.instances.size(),
                     config.instances.size() == 1 ? "" : "s", checks.empty() ? "" : ": ", checks,
                     alerting.rules.size(), alerting.rules.size() == 1 ? "" : "s",
                     alerting.receivers.size(), alerting.receivers.size() == 1 ? "" : "s");
}

}  // namespace

CommandDoc CheckCommandDoc() {
  return {"check", "[NAME...]", "run the checks of the agent's config once (or the named ones)",
          CheckFlags()};
}

CommandDoc ConfigValidateDoc() {
  return {"config validate", "FILE", "validate an agent configuration file as the agent would",
          ValidateFlags()};
}

int RunCheckCommand(const ExporterRegistry& registry, const std::vector<std::string>& args) {
  auto flags = ParseFlags(CheckFlags(), args);
  if (!flags.ok()) return UsageError(flags.status().message() + "; see sre-probe check --help");
  if (flags->Get("help") == "true") {
    std::fputs(CommandUsage(CheckCommandDoc()).c_str(), stdout);
    return 0;
  }
  auto format = ParseOutputFormat(flags->Get("output", "text"));
  if (!format.ok()) return UsageError(format.status().message());
  auto timeout = config::ParseDuration(flags->Get("timeout", "5s"));
  if (!timeout.ok()) return UsageError("--timeout: " + timeout.status().message());
  const std::string file = flags->Get("config", "/etc/sre-agent/sre-agent.yaml");
  if (auto missing = Missing(file)) return UsageError(*missing);
  auto config = LoadAgentConfig(file, registry);
  if (!config.ok()) return UsageError(config.status().message());

  // The named checks, by check name or exporter/check, in the order asked for.
  std::vector<InstanceSpec> specs;
  for (const std::string& name : flags->positional) {
    auto it = std::find_if(
        config->instances.begin(), config->instances.end(), [&](const InstanceSpec& s) {
          return s.settings.check == name || s.exporter + "/" + s.settings.check == name;
        });
    if (it == config->instances.end()) {
      std::string names;
      for (const auto& s : config->instances) {
        names += (names.empty() ? "" : ", ") + s.settings.check;
      }
      return UsageError(fmt::format("no check named \"{}\" in {}; it has: {}", name, file,
                                    names.empty() ? "none" : names));
    }
    specs.push_back(*it);
  }
  if (flags->positional.empty()) specs = config->instances;
  if (specs.empty()) return UsageError(file + " configures no checks");
  for (InstanceSpec& spec : specs)
    spec.settings.timeout = std::min(spec.settings.timeout, *timeout);

  SystemClock clock;
  Logger log(LogLevel::kError, LogFormat::kLogfmt, stderr, clock);
  auto results = RunAllOnce(registry, specs, log);
  if (!results.ok()) return UsageError(results.status().message());
  ProbeRuns runs{"check", {}, {}};
  for (size_t i = 0; i < specs.size(); ++i) {
    runs.reports.push_back({specs[i].exporter, specs[i].settings.check, specs[i].target,
                            std::move((*results)[i].result), (*results)[i].took});
    // A service this node does not run is not a failure of the node (ADR 0016).
    const bool absent = runs.reports.back().result.reason == Reason::kNotPresent;
    runs.codes.push_back(absent ? ExitCode::kOk : Evaluate(runs.reports.back(), {}));
  }
  std::fputs(Render(runs, *format, UseColor()).c_str(), stdout);
  return static_cast<int>(Worst(runs.codes));
}

int RunConfigValidate(const ExporterRegistry& registry, const std::vector<std::string>& args) {
  auto flags = ParseFlags(ValidateFlags(), args);
  if (!flags.ok()) return UsageError(flags.status().message());
  if (flags->Get("help") == "true") {
    std::fputs(CommandUsage(ConfigValidateDoc()).c_str(), stdout);
    return 0;
  }
  if (flags->positional.size() != 1) {
    return UsageError("expected `config validate FILE`: one configuration file");
  }
  const std::string& file = flags->positional[0];
  if (auto missing = Missing(file)) return UsageError(*missing);
  auto config = LoadAgentConfig(file, registry);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().message().c_str());
    return 1;
  }
  std::printf("%s: valid (%s)\n", file.c_str(), Describe(*config).c_str());
  return 0;
}

}  // namespace sre::cli
