#pragma once

#include <optional>
#include <string>

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

/// Renders `report` in `format`. `color` adds ANSI colours to text output (a terminal, and
/// NO_COLOR unset). Every format ends with a newline.
std::string Render(const ProbeReport& report, ExitCode code, OutputFormat format, bool color);

std::string ExitCodeName(ExitCode code);

}  // namespace sre::cli
