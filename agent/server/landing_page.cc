#include "agent/server/landing_page.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <iterator>

namespace sre::server {

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string FormatAge(double seconds) {
  if (!(seconds > 0)) return "0s";  // Also NaN, and a clock that went backwards.
  auto s = static_cast<long long>(std::min(seconds, 1e15));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m {}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h {}m", s / 3600, s % 3600 / 60);
  return fmt::format("{}d {}h", s / 86400, s % 86400 / 3600);
}

namespace {

constexpr std::string_view kStyle = R"css(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:1rem;
  color:#1f2328;background:#fff;line-height:1.4}
h1{font-size:1.4rem;margin:0}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
ul.incidents{padding-left:1.2rem;font-size:.9rem}
header p{margin:.25rem 0}
nav a{margin-right:1rem;white-space:nowrap}
code{font-size:.9em}
.banner{border:1px solid #cf222e;background:#ffebe9;color:#82071e;padding:.75rem;
  border-radius:6px;margin:1rem 0}
.banner pre{white-space:pre-wrap;word-break:break-word;margin:.5rem 0 0}
.summary{font-weight:600;margin:1rem 0 .5rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;min-width:100%;font-size:.9rem}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #d0d7de;vertical-align:top}
th{background:#f6f8fa;white-space:nowrap}
td.message{min-width:12rem;max-width:36rem;word-break:break-word}
td.nowrap{white-space:nowrap}
td.number{text-align:right;white-space:nowrap}
.status{font-weight:700;white-space:nowrap;padding:.1rem .45rem;border-radius:4px}
.ok{color:#116329;background:#dafbe1}
.fail{color:#a40e26;background:#ffebe9}
.pending{color:#57606a;background:#eaeef2}
.absent{color:#57606a;background:#f6f8fa;border:1px solid #d0d7de}
tr.failing td:first-child{box-shadow:inset 4px 0 #cf222e}
footer{margin-top:1.5rem;color:#57606a;font-size:.85rem}
)css";

// In the order rows are listed: what needs a look first.
enum class RowState { kFailing, kPending, kAbsent, kOk };

RowState StateOf(const CheckRow& row) {
  if (!row.ran) return RowState::kPending;
  if (row.success) return RowState::kOk;
  // The service is not on this node (docs/reasons.md): shown as such, not as a failure.
  return row.reason == "not_present" ? RowState::kAbsent : RowState::kFailing;
}

/// An href only for a path on this server; anything else ("javascript:", "//host") is not linked.
bool IsLocalPath(std::string_view path) {
  return !path.empty() && path.front() == '/' && (path.size() == 1 || path[1] != '/');
}

std::string UtcTime(double unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return "";
  return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", tm);
}

void RenderRow(const CheckRow& row, double now_unix, std::string& out) {
  auto to = std::back_inserter(out);
  RowState state = StateOf(row);
  std::string_view row_class = state == RowState::kFailing ? " class=\"failing\"" : "";
  std::string_view status = "<span class=\"status pending\">pending</span>";
  if (state == RowState::kOk) status = "<span class=\"status ok\">OK</span>";
  if (state == RowState::kFailing) status = "<span class=\"status fail\">FAIL</span>";
  if (state == RowState::kAbsent) status = "<span class=\"status absent\">absent</span>";
  fmt::format_to(to, "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td>", row_class, status,
                 HtmlEscape(row.exporter), HtmlEscape(row.check), HtmlEscape(row.target));
  if (state == RowState::kPending) {
    out +=
        "<td></td><td class=\"message\">no result yet</td><td></td><td class=\"nowrap\">never</td>";
  } else {
    fmt::format_to(to,
                   "<td class=\"nowrap\">{}</td><td class=\"message\">{}</td>"
                   "<td class=\"number\">{:.1f} ms</td>"
                   "<td class=\"nowrap\" title=\"{}\">last run {} ago</td>",
                   HtmlEscape(state == RowState::kFailing ? row.reason : ""),
                   HtmlEscape(row.message), row.duration_seconds * 1000, UtcTime(row.last_run_unix),
                   FormatAge(now_unix - row.last_run_unix));
  }
  out += "</tr>\n";
}

/// Every check's recent incidents, so on-call sees when and where an SLA was broken.
void RenderIncidents(const std::vector<CheckRow>& checks, std::string& out) {
  auto to = std::back_inserter(out);
  bool any = false;
  for (const CheckRow& row : checks) {
    if (row.incidents.empty()) continue;
    if (!any) out += "<h2>Recent incidents</h2>\n<ul class=\"incidents\">\n";
    any = true;
    for (const std::string& incident : row.incidents) {
      fmt::format_to(to, "<li><strong>{}</strong>: {}</li>\n", HtmlEscape(row.check),
                     HtmlEscape(incident));
    }
  }
  if (any) out += "</ul>\n";
}

/// The alerts of the agent's rules and where their notifications stand.
void RenderAlerting(const LandingPage& page, std::string& out) {
  if (page.alerts.empty() && page.receivers.empty()) return;
  auto to = std::back_inserter(out);
  out += "<h2 id=\"alerts\">Alerts</h2>\n";
  if (page.alerts.empty()) {
    out += "<p>No alert is pending or firing.</p>\n";
  } else {
    out +=
        "<div class=\"scroll\"><table>\n<thead><tr><th>State</th><th>Alert</th><th>Labels</th>"
        "<th>Summary</th><th>Value</th><th>Since</th></tr></thead>\n<tbody>\n";
    for (const AlertRow& row : page.alerts) {
      const std::string_view css = row.state == "firing"    ? "fail"
                                   : row.state == "pending" ? "pending"
                                                            : "ok";
      fmt::format_to(
          to,
          "<tr><td><span class=\"status {}\">{}</span></td><td>{}</td>"
          "<td class=\"message\">{}</td><td class=\"message\">{}</td>"
          "<td class=\"number\">{}</td><td class=\"nowrap\" title=\"{}\">{} ago</td></tr>\n",
          css, HtmlEscape(row.state), HtmlEscape(row.name), HtmlEscape(row.labels),
          HtmlEscape(row.summary), row.value, UtcTime(row.since_unix),
          FormatAge(page.now_unix - row.since_unix));
    }
    out += "</tbody>\n</table></div>\n";
  }
  if (page.receivers.empty()) return;
  out +=
      "<div class=\"scroll\"><table>\n<thead><tr><th>Receiver</th><th>Type</th><th>Queued</th>"
      "<th>Last delivery</th><th>Last error</th></tr></thead>\n<tbody>\n";
  for (const ReceiverRow& row : page.receivers) {
    fmt::format_to(to,
                   "<tr><td>{}</td><td>{}</td><td class=\"number\">{}</td><td class=\"nowrap\">{}"
                   "</td><td class=\"message\">{}</td></tr>\n",
                   HtmlEscape(row.name), HtmlEscape(row.type), row.queued,
                   row.last_success_unix > 0
                       ? FormatAge(page.now_unix - row.last_success_unix) + " ago"
                       : "never",
                   HtmlEscape(row.last_error));
  }
  out += "</tbody>\n</table></div>\n";
}

}  // namespace

std::string RenderLandingPage(const LandingPage& page) {
  std::string out;
  out.reserve(4096 + page.checks.size() * 400);
  auto to = std::back_inserter(out);

  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<title>sre-agent</title>\n<style>";
  out += kStyle;
  out += "</style>\n</head>\n<body>\n<header>\n<h1>sre-agent</h1>\n<p>";
  fmt::format_to(to, "version {}", HtmlEscape(page.version.empty() ? "unknown" : page.version));
  if (!page.revision.empty()) fmt::format_to(to, " (revision {})", HtmlEscape(page.revision));
  if (page.start_time_unix > 0) {
    fmt::format_to(to, " · up {}", FormatAge(page.now_unix - page.start_time_unix));
  }
  out += page.ready ? " · <span class=\"status ok\">ready</span>"
                    : " · <span class=\"status pending\">not ready</span>";
  out += "</p>\n<nav>";
  if (IsLocalPath(page.metrics_path)) {
    std::string path = HtmlEscape(page.metrics_path);
    fmt::format_to(to, "<a href=\"{0}\">Metrics ({0})</a>", path);
  }
  out += "<a href=\"/-/healthy\">/-/healthy</a><a href=\"/-/ready\">/-/ready</a></nav>\n";
  out += "</header>\n<main>\n";

  if (!page.last_reload_ok) {
    out += "<div class=\"banner\" role=\"alert\"><strong>Configuration reload failed.</strong> ";
    out += "The agent keeps running the previous configuration";
    if (!page.config_file.empty()) {
      fmt::format_to(to, " from <code>{}</code>", HtmlEscape(page.config_file));
    }
    fmt::format_to(to, ".<pre>{}</pre></div>\n", HtmlEscape(page.last_reload_error));
  }

  size_t ok = 0, failing = 0, pending = 0, absent = 0;
  for (const CheckRow& row : page.checks) {
    switch (StateOf(row)) {
      case RowState::kOk:
        ++ok;
        break;
      case RowState::kFailing:
        ++failing;
        break;
      case RowState::kPending:
        ++pending;
        break;
      case RowState::kAbsent:
        ++absent;
        break;
    }
  }
  if (page.checks.empty()) {
    out += "<p class=\"summary\">No checks configured.</p>\n";
  } else {
    fmt::format_to(to, "<p class=\"summary\">{} check{}: {} ok, {} failing", page.checks.size(),
                   page.checks.size() == 1 ? "" : "s", ok, failing);
    if (pending > 0) fmt::format_to(to, ", {} pending", pending);
    if (absent > 0) fmt::format_to(to, ", {} absent", absent);
    out += "</p>\n";

    std::vector<const CheckRow*> rows;
    rows.reserve(page.checks.size());
    for (const CheckRow& row : page.checks) rows.push_back(&row);
    std::stable_sort(rows.begin(), rows.end(), [](const CheckRow* a, const CheckRow* b) {
      return static_cast<int>(StateOf(*a)) < static_cast<int>(StateOf(*b));
    });
    out +=
        "<div class=\"scroll\"><table>\n<thead><tr><th>Status</th><th>Exporter</th><th>Check</th>"
        "<th>Target</th><th>Reason</th><th>Message</th><th>Duration</th><th>Last run</th>"
        "</tr></thead>\n<tbody>\n";
    for (const CheckRow* row : rows) RenderRow(*row, page.now_unix, out);
    out += "</tbody>\n</table></div>\n";
    RenderIncidents(page.checks, out);
  }
  RenderAlerting(page, out);
  out += "</main>\n<footer>";
  if (!page.config_file.empty()) {
    fmt::format_to(to, "Configuration: <code>{}</code>", HtmlEscape(page.config_file));
  }
  out += "</footer>\n</body>\n</html>\n";
  return out;
}

}  // namespace sre::server
