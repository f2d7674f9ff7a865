#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sre::server {

// Members carry `{}` so that designated initializers compile under -Wextra
// (-Wmissing-field-initializers) when some members are left out.

/// One check's latest result, as the landing page shows it.
struct CheckRow {
  std::string exporter{};  ///< "tcp", "php_fpm", ...
  std::string check{};     ///< The configured instance name.
  std::string target{};    ///< "db:5432", a URL, a socket path.
  bool ran = false;        ///< false: no result yet (shown as pending).
  bool success = false;
  std::string reason{};   ///< Failure reason from the closed list, e.g. "connection_refused".
  std::string message{};  ///< Free text from the check (may quote the target's own words).
  double duration_seconds = 0;
  double last_run_unix = 0;  ///< Wall time of the last result.
  /// Recent incidents (SLA violations), newest first, one line each.
  std::vector<std::string> incidents{};
};

/// One alert of the agent's rules.
struct AlertRow {
  std::string state{};    ///< "pending", "firing", "resolved"
  std::string name{};     ///< alertname
  std::string labels{};   ///< the other labels, `name="value"` comma-separated
  std::string summary{};  ///< the summary annotation, if any
  double value = 0;
  double since_unix = 0;  ///< when it became active (resolved: when it resolved)
};

/// One receiver's delivery state.
struct ReceiverRow {
  std::string name{}, type{};
  size_t queued = 0;
  std::string last_error{};  ///< empty after a success
  double last_success_unix = 0;
};

/// Everything the landing page shows; a snapshot the caller assembles.
struct LandingPage {
  std::string version{};
  std::string revision{};
  double start_time_unix = 0;
  double now_unix = 0;
  std::string metrics_path = "/metrics";
  bool ready = false;
  /// In the caller's order; the page lists failing checks first, then pending ones, then the
  /// rest, keeping this order within each group.
  std::vector<CheckRow> checks{};
  /// Firing first, then pending, then resolved; shown with the receivers when either is there.
  std::vector<AlertRow> alerts{};
  std::vector<ReceiverRow> receivers{};
  std::string config_file{};
  bool last_reload_ok = true;
  std::string last_reload_error{};
};

/// Renders `page` as a self-contained HTML5 document: inline CSS, no script, no external assets,
/// readable on a phone (the table scrolls sideways). Every string from the model is
/// HTML-escaped: check names come from config files and messages from targets. Pure function,
/// thread-safe.
std::string RenderLandingPage(const LandingPage& page);

/// "&", "<", ">", '"' and "'" replaced by character references; safe in text and quoted attributes.
std::string HtmlEscape(std::string_view text);

/// A span of time for people: "0s", "42s", "3m 5s", "2h 10m", "4d 3h".
std::string FormatAge(double seconds);

}  // namespace sre::server
