#include "agent/main/probe_output.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "agent/runtime/snapshot_store.h"

namespace sre::cli {
namespace {

std::string Millis(Duration d) { return fmt::format("{:.1f} ms", ToSeconds(d) * 1000); }

std::string RenderText(const ProbeReport& report, ExitCode code, bool color) {
  const char* paint = "";
  const char* reset = color ? "\033[0m" : "";
  if (color) {
    paint = code == ExitCode::kOk        ? "\033[32m"
            : code == ExitCode::kWarning ? "\033[33m"
                                         : "\033[31m";
  }
  const CollectResult& r = report.result;
  // sre-probe names a check after its target: say it once.
  const std::string what = report.check == report.target
                               ? report.check
                               : fmt::format("{} {}", report.check, report.target);
  std::string out =
      fmt::format("{}{:<8}{} {} {}  {}  ({})\n", paint, ExitCodeName(code), reset, report.exporter,
                  what, Millis(report.duration),
                  r.success ? r.message : fmt::format("{}: {}", ReasonName(r.reason), r.message));
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

std::string RenderJson(const ProbeReport& report, ExitCode code) {
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
  return json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
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

std::string RenderProm(const ProbeReport& report) {
  return MergeExposition({MakeSnapshot({}, report.result.families)}, ExpositionFormat::kText004);
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

std::string Render(const ProbeReport& report, ExitCode code, OutputFormat format, bool color) {
  switch (format) {
    case OutputFormat::kText:
      return RenderText(report, code, color);
    case OutputFormat::kJson:
      return RenderJson(report, code);
    case OutputFormat::kProm:
      return RenderProm(report);
    case OutputFormat::kNagios:
      return RenderNagios(report, code);
  }
  return "";
}

}  // namespace sre::cli
