// sre-probe: runs checks once, from flags or the agent's config, with the agent's own exporter
// code.
#include <curl/curl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "agent/config/duration.h"
#include "agent/core/exporter_registry.h"
#include "agent/main/alert_command.h"
#include "agent/main/check_command.h"
#include "agent/main/completion.h"
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
      {"count", "N", "run the check N times and summarise, like ping", "1"},
      {"interval", "DURATION", "wait between runs of --count", "1s"},
      {"help", "", "show this help"},
  };
  return flags;
}

namespace {

CommandDoc DocOf(const ProbeCommand& command) {
  CommandDoc doc{command.name, command.arguments, command.summary, command.flags};
  for (const auto& flag : SharedProbeFlags()) doc.flags.push_back(flag);
  return doc;
}

std::vector<CommandDoc> AllCommands(const std::vector<ProbeCommand>& probes) {
  std::vector<CommandDoc> docs;
  for (const auto& probe : probes) docs.push_back(DocOf(probe));
  docs.push_back(CheckCommandDoc());
  docs.push_back(ConfigValidateDoc());
  docs.push_back(AlertCommandDoc());
  docs.push_back(CompletionCommandDoc());
  docs.push_back(ManCommandDoc());
  return docs;
}

Result<std::optional<Duration>> OptionalDuration(const ParsedFlags& flags,
                                                 const std::string& name) {
  if (!flags.Has(name)) return std::optional<Duration>();
  auto d = config::ParseDuration(flags.Get(name));
  if (!d.ok()) return Status::Error("--" + name + ": " + d.status().message());
  return std::optional<Duration>(*d);
}

Result<int> Count(const ParsedFlags& flags) {
  const std::string text = flags.Get("count", "1");
  int count = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), count);
  if (error != std::errc() || end != text.data() + text.size() || count < 1 || count > 100000) {
    return Status::Error("--count: expected a number of runs from 1 to 100000, got \"" + text +
                         "\"");
  }
  return count;
}

int RunCommand(const ProbeCommand& command, const ExporterRegistry& registry,
               const std::vector<std::string>& args) {
  const CommandDoc doc = DocOf(command);
  auto flags = ParseFlags(doc.flags, args);
  if (!flags.ok()) {
    return UsageError(flags.status().message() + "; see sre-probe " + command.name + " --help");
  }
  if (flags->Get("help") == "true") {
    std::fputs(CommandUsage(doc).c_str(), stdout);
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
  auto count = Count(*flags);
  if (!count.ok()) return UsageError(count.status().message());
  auto interval = config::ParseDuration(flags->Get("interval", "1s"));
  if (!interval.ok()) return UsageError("--interval: " + interval.status().message());

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
  ProbeRuns runs{command.name, {}, {}, *count > 1};
  // Text of a repetition: each run printed as it ends, like ping; the summary follows.
  const bool streamed = runs.repeated && *format == OutputFormat::kText;
  for (int i = 0; i < *count; ++i) {
    if (i > 0) std::this_thread::sleep_for(*interval);  // the pace asked for, as ping's -i
    const TimePoint start = clock.Now();
    auto result = RunOnce(*factory, *spec, log);
    if (!result.ok()) return UsageError(result.status().message());
    runs.reports.push_back({command.exporter, spec->settings.check, spec->target,
                            std::move(*result), clock.Now() - start});
    runs.codes.push_back(Evaluate(runs.reports.back(), {*warning, *critical}));
    if (streamed) {
      std::fputs(RenderLine(runs.reports.back(), runs.codes.back(), UseColor()).c_str(), stdout);
      std::fflush(stdout);
    }
  }
  std::fputs((streamed ? RenderRepeatSummary(runs) : Render(runs, *format, UseColor())).c_str(),
             stdout);
  return static_cast<int>(Worst(runs.codes));
}

}  // namespace
}  // namespace sre::cli

int main(int argc, char** argv) {
  using namespace sre;
  signal(SIGPIPE, SIG_IGN);  // a peer that resets during a TLS write must not kill the probe
  curl_global_init(CURL_GLOBAL_DEFAULT);
  ExporterRegistry registry;
  exporters::RegisterBuiltinExporters(registry);
  const std::vector<cli::ProbeCommand> probes = exporters::BuiltinProbeCommands();
  const std::vector<cli::CommandDoc> commands = cli::AllCommands(probes);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(cli::MainUsage(commands).c_str(), args.empty() ? stderr : stdout);
    return args.empty() ? static_cast<int>(cli::ExitCode::kUnknown) : 0;
  }
  if (args[0] == "--version") {
    std::printf("sre-probe %s (revision %s)\n", kVersion, kRevision);
    return 0;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "check") return cli::RunCheckCommand(registry, rest);
  if (args[0] == "alert") return cli::RunAlertCommand(registry, rest);
  if (args[0] == "completion") return cli::RunCompletionCommand(commands, rest);
  if (args[0] == "man") return cli::RunManCommand(commands, rest);
  if (args[0] == "config") {
    if (rest.empty() || rest[0] != "validate") {
      return cli::UsageError("expected `config validate FILE`");
    }
    return cli::RunConfigValidate(registry, {rest.begin() + 1, rest.end()});
  }
  for (const auto& probe : probes) {
    if (probe.name == args[0]) return cli::RunCommand(probe, registry, rest);
  }
  std::string names;
  for (const auto& c : commands) names += (names.empty() ? "" : ", ") + c.name;
  return cli::UsageError(
      fmt::format("unknown command \"{}\"; expected one of: {}", args[0], names));
}
