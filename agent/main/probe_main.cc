// sre-probe: runs one check once, from flags, with the agent's own exporter code.
#include <curl/curl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "agent/config/duration.h"
#include "agent/core/exporter_registry.h"
#include "agent/main/alert_command.h"
#include "agent/main/probe_command.h"
#include "agent/main/probe_output.h"
#include "agent/main/version.h"
#include "agent/runtime/run_once.h"
#include "exporters/builtin.h"

namespace sre::cli {

const std::vector<FlagSpec>& SharedProbeFlags() {
  static const std::vector<FlagSpec> flags = {
      {"timeout", "DURATION", "give up after this long", "5s"},
      {"output", "FORMAT", "text, json, prom (Prometheus text) or nagios", "text"},
      {"warning", "DURATION", "exit 1 (warning) when the check takes at least this long"},
      {"critical", "DURATION", "exit 2 (critical) when the check takes at least this long"},
      {"help", "", "show this help"},
  };
  return flags;
}

namespace {

constexpr int kUsageError = static_cast<int>(ExitCode::kUnknown);

std::string MainUsage(const std::vector<ProbeCommand>& commands) {
  std::string out =
      "sre-probe: run one check once and say how it went.\n\n"
      "Usage: sre-probe COMMAND ARGUMENTS [FLAGS]\n\nCommands:\n";
  for (const auto& c : commands) {
    out += fmt::format("  {:<10} {:<14} {}\n", c.name, c.arguments, c.summary);
  }
  out += kAlertCommandUsage;
  out +=
      "\nExit codes: 0 OK, 1 warning, 2 critical, 3 unknown (bad input).\n"
      "Run 'sre-probe COMMAND --help' for a command's flags.\n";
  return out;
}

std::string CommandUsage(const ProbeCommand& command) {
  return fmt::format("Usage: sre-probe {} {} [FLAGS]\n\n{}\n\nFlags:\n{}{}", command.name,
                     command.arguments, command.summary, RenderFlagHelp(command.flags),
                     RenderFlagHelp(SharedProbeFlags()));
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "sre-probe: %s\n", message.c_str());
  return kUsageError;
}

Result<std::optional<Duration>> OptionalDuration(const ParsedFlags& flags,
                                                 const std::string& name) {
  if (!flags.Has(name)) return std::optional<Duration>();
  auto d = config::ParseDuration(flags.Get(name));
  if (!d.ok()) return Status::Error("--" + name + ": " + d.status().message());
  return std::optional<Duration>(*d);
}

int RunCommand(const ProbeCommand& command, const ExporterRegistry& registry,
               const std::vector<std::string>& args) {
  std::vector<FlagSpec> specs = command.flags;
  for (const auto& flag : SharedProbeFlags()) specs.push_back(flag);
  auto flags = ParseFlags(specs, args);
  if (!flags.ok()) return UsageError(flags.status().message());
  if (flags->Get("help") == "true") {
    std::fputs(CommandUsage(command).c_str(), stdout);
    return 0;
  }
  auto format = ParseOutputFormat(flags->Get("output", "text"));
  if (!format.ok()) return UsageError(format.status().message());
  auto timeout = config::ParseDuration(flags->Get("timeout", "5s"));
  if (!timeout.ok()) return UsageError("--timeout: " + timeout.status().message());
  auto warning = OptionalDuration(*flags, "warning");
  if (!warning.ok()) return UsageError(warning.status().message());
  auto critical = OptionalDuration(*flags, "critical");
  if (!critical.ok()) return UsageError(critical.status().message());

  auto node = command.build_config(*flags);
  if (!node.ok()) return UsageError(node.status().message());
  YAML::Node config = *node;
  if (!config["check"]) config["check"] = command.name;
  config["timeout"] = config::FormatDuration(*timeout);
  config["interval"] = config::FormatDuration(*timeout + std::chrono::seconds(1));

  const ExporterFactory* factory = registry.Find(command.exporter);
  const config::ParseContext ctx("command line");
  auto spec = factory->Parse(config, ctx);
  if (!spec.ok()) return UsageError(spec.status().message());

  SystemClock clock;
  Logger log(LogLevel::kError, LogFormat::kLogfmt, stderr, clock);
  const TimePoint start = clock.Now();
  auto result = RunOnce(*factory, *spec, log);
  if (!result.ok()) return UsageError(result.status().message());
  ProbeReport report{command.exporter, spec->settings.check, spec->target, std::move(*result),
                     clock.Now() - start};
  const ExitCode code = Evaluate(report, {*warning, *critical});
  const bool color = isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr;
  std::fputs(Render(report, code, *format, color).c_str(), stdout);
  return static_cast<int>(code);
}

}  // namespace
}  // namespace sre::cli

int main(int argc, char** argv) {
  using namespace sre;
  signal(SIGPIPE, SIG_IGN);  // a peer that resets during a TLS write must not kill the probe
  curl_global_init(CURL_GLOBAL_DEFAULT);
  ExporterRegistry registry;
  exporters::RegisterBuiltinExporters(registry);
  const std::vector<cli::ProbeCommand> commands = exporters::BuiltinProbeCommands();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(cli::MainUsage(commands).c_str(), args.empty() ? stderr : stdout);
    return args.empty() ? cli::kUsageError : 0;
  }
  if (args[0] == "--version") {
    std::printf("sre-probe %s (revision %s)\n", kVersion, kRevision);
    return 0;
  }
  if (args[0] == "alert") return cli::RunAlertCommand(registry, {args.begin() + 1, args.end()});
  for (const auto& command : commands) {
    if (command.name == args[0]) {
      return cli::RunCommand(command, registry, {args.begin() + 1, args.end()});
    }
  }
  std::string names;
  for (const auto& c : commands) names += (names.empty() ? "" : ", ") + c.name;
  names += ", alert";
  return cli::UsageError(
      fmt::format("unknown command \"{}\"; expected one of: {}", args[0], names));
}
