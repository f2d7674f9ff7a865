#include "agent/core/log.h"

#include <fmt/format.h>

#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>

namespace sre {
namespace {

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string Timestamp(double unix_seconds) {
  const auto whole = static_cast<time_t>(unix_seconds);
  const int millis = static_cast<int>(std::fmod(unix_seconds, 1.0) * 1000);
  std::tm tm{};
  gmtime_r(&whole, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buffer, millis);
}

// logfmt quotes values with spaces, quotes or equals signs.
void AppendLogfmt(std::string& out, std::string_view key, std::string_view value) {
  out += ' ';
  out += key;
  out += '=';
  const bool quote = value.empty() || value.find_first_of(" \"=\t\n") != std::string_view::npos;
  if (!quote) {
    out += value;
    return;
  }
  out += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
}

}  // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view text) {
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (LevelName(level) == text) return level;
  }
  return std::nullopt;
}

std::optional<LogFormat> ParseLogFormat(std::string_view text) {
  if (text == "logfmt") return LogFormat::kLogfmt;
  if (text == "json") return LogFormat::kJson;
  return std::nullopt;
}

Logger::Logger(LogLevel level, LogFormat format, std::FILE* out, const Clock& clock,
               Duration repeat_window)
    : level_(level), format_(format), out_(out), clock_(clock), repeat_window_(repeat_window) {}

std::string Logger::Format(LogLevel level, std::string_view message,
                           std::initializer_list<LogField> fields, uint64_t repeated) const {
  const std::string ts = Timestamp(clock_.WallSeconds());
  if (format_ == LogFormat::kJson) {
    nlohmann::ordered_json line;
    line["ts"] = ts;
    line["level"] = LevelName(level);
    line["msg"] = message;
    for (const auto& [key, value] : fields) line[std::string(key)] = value;
    if (repeated > 0) line["repeated"] = repeated;
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  std::string out;
  AppendLogfmt(out, "ts", ts);
  AppendLogfmt(out, "level", LevelName(level));
  AppendLogfmt(out, "msg", message);
  for (const auto& [key, value] : fields) AppendLogfmt(out, key, value);
  if (repeated > 0) AppendLogfmt(out, "repeated", std::to_string(repeated));
  out.erase(0, 1);  // the leading space
  out += '\n';
  return out;
}

void Logger::Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  if (level < level_.load()) return;
  const std::string line = Format(level, message, fields, 0);
  std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

void Logger::WarnLimited(std::string_view message, std::initializer_list<LogField> fields) {
  if (LogLevel::kWarn < level_.load()) return;
  std::string key(message);
  for (const auto& [k, v] : fields) {
    // `error` is free text, often holding what a peer sent: a garbage peer would make every
    // line new. The same message and other fields is the same problem.
    if (k != "error") key += fmt::format("\x1f{}={}", k, v);
  }
  const TimePoint now = clock_.Now();
  std::lock_guard lock(mutex_);
  auto [it, inserted] = repeats_.try_emplace(key);
  Repeat& repeat = it->second;
  if (!inserted && now - repeat.last_written < repeat_window_) {
    ++repeat.held_back;
    ++suppressed_total_;
    return;
  }
  const std::string line = Format(LogLevel::kWarn, message, fields, repeat.held_back);
  repeat = Repeat{now, 0};
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
  // Forget keys idle for long so the map stays as small as the set of current problems.
  if (repeats_.size() > 4096) {
    std::erase_if(repeats_, [&](const auto& entry) {
      return now - entry.second.last_written > 10 * repeat_window_;
    });
  }
}

}  // namespace sre
