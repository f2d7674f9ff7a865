#pragma once

#include <string>
#include <string_view>

#include "agent/base/clock.h"
#include "agent/base/status.h"

namespace sre::config {

/// Parses Prometheus-style durations: "250ms", "15s", "1m30s", "1h", "1.5s", "0"; units
/// ns, us, ms, s, m, h, d. Negative values and missing units (other than "0") are errors.
Result<Duration> ParseDuration(std::string_view text);

/// The shortest exact rendering: 1500ms -> "1.5s", 90s -> "1m30s", 0 -> "0s".
std::string FormatDuration(Duration d);

}  // namespace sre::config
