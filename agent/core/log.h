#pragma once

#include <atomic>
#include <cstdio>
#include <initializer_list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "agent/base/clock.h"

namespace sre {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kLogfmt, kJson };

std::optional<LogLevel> ParseLogLevel(std::string_view text);
std::optional<LogFormat> ParseLogFormat(std::string_view text);

using LogField = std::pair<std::string_view, std::string>;

/// Structured log lines in logfmt or JSON, one per call, written whole. Repeated warnings (same
/// message and fields, the free-text `error` field aside) are written once per window and the
/// rest counted, so a target that fails every second, with whatever error text, cannot flood
/// the log. Thread-safe.
class Logger {
 public:
  Logger(LogLevel level, LogFormat format, std::FILE* out, const Clock& clock,
         Duration repeat_window = std::chrono::minutes(1));

  void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});
  void Debug(std::string_view m, std::initializer_list<LogField> f = {}) {
    Log(LogLevel::kDebug, m, f);
  }
  void Info(std::string_view m, std::initializer_list<LogField> f = {}) {
    Log(LogLevel::kInfo, m, f);
  }
  void Warn(std::string_view m, std::initializer_list<LogField> f = {}) {
    Log(LogLevel::kWarn, m, f);
  }
  void Error(std::string_view m, std::initializer_list<LogField> f = {}) {
    Log(LogLevel::kError, m, f);
  }

  /// Like Warn, but a line with the same message and fields (`error` aside) is written at most
  /// once per repeat window; the line after a window carries `repeated=N` for the ones held back.
  void WarnLimited(std::string_view message, std::initializer_list<LogField> fields = {});

  /// Lines held back by WarnLimited since start (sre_agent_log_messages_suppressed_total).
  uint64_t suppressed_total() const { return suppressed_total_.load(); }

 private:
  std::string Format(LogLevel level, std::string_view message,
                     std::initializer_list<LogField> fields, uint64_t repeated) const;

  std::atomic<LogLevel> level_;
  const LogFormat format_;
  std::FILE* const out_;
  const Clock& clock_;
  const Duration repeat_window_;
  std::atomic<uint64_t> suppressed_total_{0};

  struct Repeat {
    TimePoint last_written;
    uint64_t held_back = 0;
  };
  std::mutex mutex_;
  std::map<std::string, Repeat> repeats_;  // key: the formatted message and fields
};

}  // namespace sre
