#include "agent/main/probe_output.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "agent/runtime/snapshot_store.h"

namespace sre::cli {
namespace {

std::string Millis(Duration d) { return fmt::format("{:.1f} ms", ToSeconds(d) * 1000); }

// The check and its target; sre-probe names a check after its target: then said once.
std::string What(const ProbeReport& report) {
  return report.check == report.target ? report.check
                                       : fmt::format("{} {}", report.check, report.target);
}

// One run's line: status, what, how long, what happened. `width` aligns the names of several.
std::string Headline(const ProbeReport& report, ExitCode code, bool color, size_t width = 0) {
  const char* paint = "";
  const char* reset = color ? "\033[0m" : "";
  if (color) {
    paint = code == ExitCode::kOk        ? "\033[32m"
            : code == ExitCode::kWarning ? "\033[33m"
                                         : "\033[31m";
  }
  const CollectResult& r = report.result;
  // A service not on this node, in a config-wide check, is a fact, not a failure (ADR 0016).
  const bool absent = code == ExitCode::kOk && r.reason == Reason::kNotPresent;
  if (color && absent) paint = "\033[2m";
  const std::string status = absent ? "ABSENT" : ExitCodeName(code);
  const std::string what = What(report);
  const std::string said =
      r.success ? r.message : fmt::format("{}: {}", ReasonName(r.reason), r.message);
  if (width == 0) {
    return fmt::format("{}{:<8}{} {} {}  {}  ({})\n", paint, status, reset, report.exporter, what,
                       Millis(report.duration), said);
  }
  return fmt::format("{}{:<8}{} {:<{}}  {:>9}  ({})\n", paint, status, reset,
                     report.exporter + " " + what, width, Millis(report.duration), said);
}

std::string RenderText(const ProbeReport& report, ExitCode code, bool color) {
  const CollectResult& r = report.result;
  std::string out = Headline(report, code, color);
  size_t width = 0;
  for (const auto& o : r.observations) width = std::max(width, o.subject.size());
  for (const auto& o : r.observations) {
    std::string figures;
    for (const auto& [name, value] : o.figures) {
      if (name.ends_with("_seconds")) {
        figures += fmt::format("  {} {:.1f} ms", name.substr(0, name.size() - 8), value * 1000);
      } else {
        figures += fmt::format("  {} {}", name, value);
      }
    }
    out += fmt::format(
        "  {:<{}}  {:<4}  {:>9}  {}{}\n", o.subject, width, o.success ? "ok" : "FAIL",
        Millis(o.duration),
        o.success ? o.message : fmt::format("{}: {}", ReasonName(o.reason), o.message), figures);
    for (const auto& [name, value] : o.details) {
      out += fmt::format("  {:<{}}  {}: {}\n", "", width, name, value);
    }
  }
  return out;
}

nlohmann::ordered_json ReportJson(const ProbeReport& report, ExitCode code) {
  const CollectResult& r = report.result;
  nlohmann::ordered_json json;
  json["exporter"] = report.exporter;
  json["check"] = report.check;
  json["target"] = report.target;
  json["status"] = ExitCodeName(code);
  json["exit_code"] = static_cast<int>(code);
  json["success"] = r.success;
  json["reason"] = ReasonName(r.reason);
  json["message"] = r.message;
  json["duration_seconds"] = ToSeconds(report.duration);
  json["observations"] = nlohmann::json::array();
  for (const auto& o : r.observations) {
    nlohmann::ordered_json item;
    item["subject"] = o.subject;
    item["success"] = o.success;
    item["reason"] = ReasonName(o.reason);
    item["message"] = o.message;
    item["duration_seconds"] = ToSeconds(o.duration);
    item["figures"] = o.figures;
    item["details"] = o.details;
    json["observations"].push_back(std::move(item));
  }
  return json;
}

std::string RenderNagios(const ProbeReport& report, ExitCode code) {
  const CollectResult& r = report.result;
  std::string exporter = report.exporter;
  std::transform(exporter.begin(), exporter.end(), exporter.begin(), ::toupper);
  std::string out =
      fmt::format("{} {} - {} {}", exporter, ExitCodeName(code), report.check,
                  r.success ? r.message : fmt::format("{}: {}", ReasonName(r.reason), r.message));
  out += fmt::format(" | time={:.6f}s;;;0", ToSeconds(report.duration));
  for (const auto& o : r.observations) {
    out += fmt::format(" '{}'={:.6f}s;;;0", o.subject, ToSeconds(o.duration));
  }
  return out + "\n";
}

}  // namespace

Result<OutputFormat> ParseOutputFormat(const std::string& text) {
  if (text == "text") return OutputFormat::kText;
  if (text == "json") return OutputFormat::kJson;
  if (text == "prom") return OutputFormat::kProm;
  if (text == "nagios") return OutputFormat::kNagios;
  return Status::Error("invalid --output \"" + text + "\": expected text, json, prom or nagios");
}

std::string ExitCodeName(ExitCode code) {
  switch (code) {
    case ExitCode::kOk:
      return "OK";
    case ExitCode::kWarning:
      return "WARNING";
    case ExitCode::kCritical:
      return "CRITICAL";
    case ExitCode::kUnknown:
      return "UNKNOWN";
  }
  return "UNKNOWN";
}

ExitCode Evaluate(const ProbeReport& report, const Thresholds& thresholds) {
  if (!report.result.success) return ExitCode::kCritical;
  if (thresholds.critical && report.duration >= *thresholds.critical) return ExitCode::kCritical;
  if (thresholds.warning && report.duration >= *thresholds.warning) return ExitCode::kWarning;
  return ExitCode::kOk;
}

std::string RenderLine(const ProbeReport& report, ExitCode code, bool color) {
  return Headline(report, code, color);
}

bool UseColor() { return isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr; }

int UsageError(const std::string& message) {
  std::fprintf(stderr, "sre-probe: %s\n", message.c_str());
  return static_cast<int>(ExitCode::kUnknown);
}

ExitCode Worst(const std::vector<ExitCode>& codes) {
  ExitCode worst = ExitCode::kOk;
  for (ExitCode code : codes) worst = std::max(worst, code);  // 0 < 1 < 2 < 3, as Nagios ranks
  return worst;
}

namespace {

struct Summary {
  size_t runs = 0, ok = 0, absent = 0, warning = 0, critical = 0, failures = 0;
  double min = 0, median = 0, max = 0;  // seconds
};

Summary Summarise(const ProbeRuns& runs) {
  Summary summary;
  summary.runs = runs.reports.size();
  std::vector<double> seconds;
  for (size_t i = 0; i < runs.reports.size(); ++i) {
    const ExitCode code = runs.codes[i];
    const bool absent = runs.reports[i].result.reason == Reason::kNotPresent;
    summary.ok += code == ExitCode::kOk && !absent;
    summary.absent += code == ExitCode::kOk && absent;
    summary.warning += code == ExitCode::kWarning;
    summary.critical += code == ExitCode::kCritical || code == ExitCode::kUnknown;
    summary.failures += !runs.reports[i].result.success;
    seconds.push_back(ToSeconds(runs.reports[i].duration));
  }
  if (!seconds.empty()) {
    std::sort(seconds.begin(), seconds.end());
    const size_t n = seconds.size();
    summary.min = seconds.front();
    summary.max = seconds.back();
    summary.median = n % 2 == 1 ? seconds[n / 2] : (seconds[n / 2 - 1] + seconds[n / 2]) / 2;
  }
  return summary;
}

std::string TextSummary(const ProbeRuns& runs, const Summary& s) {
  if (runs.repeated) {
    const ProbeReport& first = runs.reports.front();
    return fmt::format(
        "--- {} {}: {} runs, {} failed ({:.0f}%), min/median/max {:.1f}/{:.1f}/{:.1f} ms\n",
        first.exporter, first.target, s.runs, s.failures, 100.0 * s.failures / s.runs, s.min * 1000,
        s.median * 1000, s.max * 1000);
  }
  std::string out = fmt::format("{} check{}: {} OK", s.runs, s.runs == 1 ? "" : "s", s.ok);
  if (s.absent > 0) out += fmt::format(", {} absent", s.absent);
  if (s.warning > 0) out += fmt::format(", {} WARNING", s.warning);
  if (s.critical > 0) out += fmt::format(", {} CRITICAL", s.critical);
  return out + "\n";
}

std::string RenderText(const ProbeRuns& runs, const Summary& summary, bool color) {
  if (runs.reports.size() == 1) return RenderText(runs.reports[0], runs.codes[0], color);
  std::vector<size_t> order(runs.reports.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (!runs.repeated) {  // what needs a look first; a repetition keeps its time order
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return runs.codes[a] > runs.codes[b]; });
  }
  size_t width = 0;
  for (const ProbeReport& r : runs.reports) {
    width = std::max(width, r.exporter.size() + 1 + What(r).size());
  }
  std::string out;
  for (size_t i : order) out += Headline(runs.reports[i], runs.codes[i], color, width);
  return out + TextSummary(runs, summary);
}

std::string RenderJson(const ProbeRuns& runs, const Summary& s) {
  nlohmann::ordered_json json;
  json["command"] = runs.command;
  const ExitCode worst = Worst(runs.codes);
  json["status"] = ExitCodeName(worst);
  json["exit_code"] = static_cast<int>(worst);
  json["results"] = nlohmann::json::array();
  for (size_t i = 0; i < runs.reports.size(); ++i) {
    json["results"].push_back(ReportJson(runs.reports[i], runs.codes[i]));
  }
  json["summary"] = {{"runs", s.runs},         {"ok", s.ok},
                     {"absent", s.absent},     {"warning", s.warning},
                     {"critical", s.critical}, {"failures", s.failures},
                     {"min_seconds", s.min},   {"median_seconds", s.median},
                     {"max_seconds", s.max}};
  return json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string RenderNagios(const ProbeRuns& runs, const Summary& s) {
  if (runs.reports.size() == 1) return RenderNagios(runs.reports[0], runs.codes[0]);
  const ExitCode worst = Worst(runs.codes);
  std::string name = runs.repeated ? runs.reports.front().exporter : "SRE-PROBE";
  std::transform(name.begin(), name.end(), name.begin(), ::toupper);
  if (runs.repeated) {
    return fmt::format(
        "{} {} - {}: {} runs, {} failed | failures={};;;0 min={:.6f}s;;;0 median={:.6f}s;;;0 "
        "max={:.6f}s;;;0\n",
        name, ExitCodeName(worst), What(runs.reports.front()), s.runs, s.failures, s.failures,
        s.min, s.median, s.max);
  }
  std::string failing;
  for (size_t i = 0; i < runs.reports.size(); ++i) {
    if (runs.codes[i] == ExitCode::kOk) continue;
    failing += fmt::format("{}{} ({})", failing.empty() ? "" : ", ", runs.reports[i].check,
                           ExitCodeName(runs.codes[i]));
  }
  std::string out =
      fmt::format("{} {} - {} of {} checks OK", name, ExitCodeName(worst), s.ok + s.absent, s.runs);
  if (s.absent > 0) out += fmt::format(" ({} absent)", s.absent);
  if (!failing.empty()) out += ": " + failing;
  out += " |";
  for (const ProbeReport& r : runs.reports) {
    out += fmt::format(" '{}'={:.6f}s;;;0", r.check, ToSeconds(r.duration));
  }
  return out + "\n";
}

}  // namespace

std::string RenderRepeatSummary(const ProbeRuns& runs) {
  return TextSummary(runs, Summarise(runs));
}

std::string Render(const ProbeRuns& runs, OutputFormat format, bool color) {
  const Summary summary = Summarise(runs);
  switch (format) {
    case OutputFormat::kText:
      return RenderText(runs, summary, color);
    case OutputFormat::kJson:
      return RenderJson(runs, summary);
    case OutputFormat::kProm: {
      // A repetition's runs export the same series: its last run stands for it.
      std::vector<std::shared_ptr<const Snapshot>> snapshots;
      for (size_t i = runs.repeated ? runs.reports.size() - 1 : 0; i < runs.reports.size(); ++i) {
        snapshots.push_back(MakeSnapshot({}, runs.reports[i].result.families));
      }
      return MergeExposition(snapshots, ExpositionFormat::kText004);
    }
    case OutputFormat::kNagios:
      return RenderNagios(runs, summary);
  }
  return "";
}

}  // namespace sre::cli
