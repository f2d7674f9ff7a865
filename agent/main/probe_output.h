#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/base/clock.h"
#include "agent/base/status.h"
#include "agent/core/exporter.h"

namespace sre::cli {

/// Nagios plugin exit codes, used by every sre-probe subcommand.
enum class ExitCode { kOk = 0, kWarning = 1, kCritical = 2, kUnknown = 3 };

enum class OutputFormat { kText, kJson, kProm, kNagios };
Result<OutputFormat> ParseOutputFormat(const std::string& text);

/// Duration thresholds: a successful check slower than these is a warning / critical.
struct Thresholds {
  std::optional<Duration> warning;
  std::optional<Duration> critical;
};

/// One check's run, as sre-probe prints it.
struct ProbeReport {
  std::string exporter;
  std::string check;
  std::string target;
  CollectResult result;
  Duration duration{0};
};

/// OK when the check succeeded within the thresholds; warning/critical by duration; critical on
/// failure.
ExitCode Evaluate(const ProbeReport& report, const Thresholds& thresholds);

/// Everything one sre-probe invocation ran: one check once, one check `--count` times, or the
/// checks of a config (`sre-probe check`).
struct ProbeRuns {
  std::string command;  ///< "tcp", "check", "alert test"
  std::vector<ProbeReport> reports;
  std::vector<ExitCode> codes;  ///< one per report
  bool repeated = false;        ///< the same check run `--count` times: a summary like ping's
};

/// One run's line of text output (no observations): what `--count` prints as each run ends.
std::string RenderLine(const ProbeReport& report, ExitCode code, bool color);

/// The summary line that ends `--count`'s text output (ping's `--- ...` line).
std::string RenderRepeatSummary(const ProbeRuns& runs);

/// The worst of `codes` (critical over warning over OK; unknown worst of all); OK when empty.
ExitCode Worst(const std::vector<ExitCode>& codes);

/// Renders `runs` in `format`; every format ends with a newline. `color` adds ANSI colours to
/// text (a terminal, and NO_COLOR unset).
/// - text: one line per run (with its observations when there is one run), failures first for
///   `check`, then a summary line when there are several;
/// - json: one schema for every command: {"command", "status", "exit_code", "results": [one
///   object per run: exporter, check, target, status, exit_code, success, reason, message,
///   duration_seconds, observations[]], "summary": {"runs", "ok", "warning", "critical",
///   "failures", "min_seconds", "median_seconds", "max_seconds"}} (docs/sre-probe.md);
/// - nagios: one line, `NAME STATUS - what | perfdata`;
/// - prom: the families of every run, as the agent would expose them.
std::string Render(const ProbeRuns& runs, OutputFormat format, bool color);

std::string ExitCodeName(ExitCode code);

/// Colour for text output: stdout is a terminal and NO_COLOR (no-color.org) is unset.
bool UseColor();

/// Prints `sre-probe: MESSAGE` on stderr; returns the usage-error exit code (3).
int UsageError(const std::string& message);

}  // namespace sre::cli
