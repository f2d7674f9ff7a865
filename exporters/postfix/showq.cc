#include "exporters/postfix/showq.h"

#include <fmt/format.h>

#include <cstring>
#include <ctime>
#include <span>

namespace sre::exporters::postfix {
namespace {

// postfix_exporter looks for a NUL in this many first bytes to tell Postfix 3 from Postfix 2.
constexpr size_t kDetectBytes = 128;

std::vector<double> Bounds(std::span<const double> bounds) {
  return std::vector<double>(bounds.begin(), bounds.end());
}

// A non-negative decimal of up to 18 digits (no overflow): Postfix's times and sizes.
std::optional<int64_t> ParseInteger(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

// With the length known at compile time the comparisons below become single loads, not memcmp
// calls: every field of a listing goes through here.
template <size_t N>
bool Is(std::string_view text, const char (&literal)[N]) {
  return text.size() == N - 1 && std::memcmp(text.data(), literal, N - 1) == 0;
}

ShowqParser::Name Classify(std::string_view name) {
  if (Is(name, "time")) return ShowqParser::Name::kTime;
  if (Is(name, "size")) return ShowqParser::Name::kSize;
  if (Is(name, "queue_name")) return ShowqParser::Name::kQueueName;
  return ShowqParser::Name::kOther;
}

bool IsAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/// Reads "Www Mmm dd hh:mm:ss" at the front of `text`, as local time in the latest year that
/// puts it no later than `now`. nullopt when it is not such a date.
std::optional<double> ParseArrival(std::string_view text, double now) {
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (text.size() < 19 || text[3] != ' ' || text[7] != ' ') return std::nullopt;
  const size_t month = kMonths.find(text.substr(4, 3));
  if (month == std::string_view::npos || month % 3 != 0) return std::nullopt;
  std::string_view rest = text.substr(8);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  int day = 0, hour = 0, minute = 0, second = 0;
  char tail = 0;
  const std::string clock(rest.substr(0, std::min<size_t>(rest.size(), 12)));
  if (std::sscanf(clock.c_str(), "%2d %2d:%2d:%2d%c", &day, &hour, &minute, &second, &tail) < 4) {
    return std::nullopt;
  }
  const time_t now_seconds = static_cast<time_t>(now);
  tm local{};
  localtime_r(&now_seconds, &local);
  for (int year = local.tm_year; year >= local.tm_year - 1; --year) {
    tm arrival{};
    arrival.tm_year = year;
    arrival.tm_mon = static_cast<int>(month / 3);
    arrival.tm_mday = day;
    arrival.tm_hour = hour;
    arrival.tm_min = minute;
    arrival.tm_sec = second;
    arrival.tm_isdst = -1;
    const time_t t = mktime(&arrival);
    if (t != -1 && static_cast<double>(t) <= now) return static_cast<double>(t);
  }
  return std::nullopt;
}

}  // namespace

QueueStats::QueueStats() : size(Bounds(kSizeBuckets)), age(Bounds(kAgeBuckets)) {}

ShowqParser::ShowqParser(double now, ShowqLimits limits) : now_(now), limits_(limits) {}

ShowqParser::State ShowqParser::Feed(std::string_view bytes) {
  if (state_ != State::kNeedMore) return state_;
  if (format_ == Format::kUnknown) {
    pending_.append(bytes.substr(0, kDetectBytes));
    bytes.remove_prefix(std::min(bytes.size(), kDetectBytes));
    Detect(false);
    if (format_ == Format::kUnknown) return state_;
  }
  if (format_ == Format::kAttr0) {
    FeedAttr0(bytes);
  } else {
    FeedText(bytes, false);
  }
  return state_;
}

ShowqParser::State ShowqParser::FeedEof() {
  if (state_ != State::kNeedMore) return state_;
  if (format_ == Format::kUnknown && pending_.empty()) {
    Fail("showq closed the connection without sending anything");
    return state_;
  }
  if (format_ == Format::kUnknown) Detect(true);
  if (format_ == Format::kText) {
    FeedText({}, true);
  } else if (state_ == State::kNeedMore) {
    Fail(fmt::format("truncated: the stream ended after {} records without its terminator",
                     records_));
  }
  return state_;
}

void ShowqParser::Detect(bool at_eof) {
  if (pending_.size() < kDetectBytes && !at_eof) return;
  format_ = pending_.find('\0') != std::string::npos ? Format::kAttr0 : Format::kText;
  std::string seen = std::move(pending_);
  pending_.clear();
  pending_.shrink_to_fit();
  // Zero-filled like postfix_exporter: Postfix 3's five queues, or what Postfix 2's listing
  // can tell apart.
  if (format_ == Format::kAttr0) {
    for (std::string_view queue : kQueues) queues_.try_emplace(std::string(queue));
    FeedAttr0(seen);
  } else {
    for (std::string_view queue : {"active", "hold", "other"}) {
      queues_.try_emplace(std::string(queue));
    }
    FeedText(seen, false);
  }
}

void ShowqParser::FeedAttr0(std::string_view bytes) {
  while (!bytes.empty() && state_ == State::kNeedMore) {
    const size_t nul = bytes.find('\0');
    const std::string_view piece = bytes.substr(0, nul);
    // Names and the values that count are kept; recipients, reasons and the like only counted,
    // so a huge value costs no memory, yet a field past the limit is still a broken stream.
    const bool keep = !reading_value_ || name_ != Name::kOther;
    const size_t length = (keep ? field_.size() : skipped_) + piece.size();
    if (length > limits_.max_field_bytes) {
      Fail(fmt::format("a field is longer than {} bytes (record {})", limits_.max_field_bytes,
                       records_ + 1));
      return;
    }
    if (keep) {
      field_.append(piece);
    } else {
      skipped_ = length;
    }
    if (nul == std::string_view::npos) return;
    bytes.remove_prefix(nul + 1);
    EndField();
  }
}

void ShowqParser::EndField() {
  if (reading_value_) {
    reading_value_ = false;
    skipped_ = 0;
    if (name_ == Name::kQueueName) {
      record_queue_ = field_;
    } else if (name_ != Name::kOther) {
      const auto value = ParseInteger(field_);
      if (!value) {
        Fail(fmt::format("record {}: {} \"{}\" is not a number", records_ + 1,
                         name_ == Name::kTime ? "time" : "size", field_.substr(0, 40)));
        return;
      }
      (name_ == Name::kTime ? record_time_ : record_size_) = static_cast<double>(*value);
    }
  } else if (field_.empty()) {
    if (!record_open_) {
      state_ = State::kComplete;  // an empty name where a record would start
    } else {
      EndRecord();
    }
  } else {
    name_ = Classify(field_);
    reading_value_ = true;
    record_open_ = true;
  }
  field_.clear();
}

void ShowqParser::EndRecord() {
  ++records_;
  record_open_ = false;
  // The first record announces the protocol and has no queue_name.
  if (!record_queue_.empty()) {
    Count(record_queue_, record_size_.value_or(0), record_time_.value_or(now_));
  }
  record_queue_.clear();
  record_time_.reset();
  record_size_.reset();
}

void ShowqParser::FeedText(std::string_view bytes, bool at_eof) {
  while (state_ == State::kNeedMore) {
    const size_t newline = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, newline);
    if (field_.size() + piece.size() > limits_.max_field_bytes) {
      Fail(fmt::format("a line is longer than {} bytes", limits_.max_field_bytes));
      return;
    }
    field_.append(piece);
    if (newline == std::string_view::npos) {
      if (!at_eof) return;
      if (!field_.empty()) TextLine(field_);
      field_.clear();
      if (state_ == State::kNeedMore) state_ = State::kComplete;
      return;
    }
    bytes.remove_prefix(newline + 1);
    TextLine(field_);
    field_.clear();
  }
}

void ShowqParser::TextLine(std::string_view line) {
  // "A07A81514*     5156 Tue Feb 14 13:13:54  sender"; headers, recipients, delay reasons and
  // the summary do not start with a queue ID followed by a size and a date, and are skipped.
  size_t i = 0;
  while (i < line.size() && IsAlnum(line[i])) ++i;
  if (i == 0) return;
  std::string_view queue = "other";
  if (i < line.size() && (line[i] == '*' || line[i] == '!')) {
    queue = line[i] == '*' ? "active" : "hold";
    ++i;
  }
  const size_t size_start = line.find_first_not_of(' ', i);
  if (size_start == i || size_start == std::string_view::npos) return;
  const size_t size_end = line.find(' ', size_start);
  if (size_end == std::string_view::npos) return;
  const auto size = ParseInteger(line.substr(size_start, size_end - size_start));
  if (!size) return;
  const auto arrival = ParseArrival(line.substr(size_end + 1), now_);
  if (!arrival) return;
  ++records_;
  Count(queue, static_cast<double>(*size), *arrival);
}

void ShowqParser::Count(std::string_view queue, double size, double arrival) {
  // showq lists one queue after another: the previous message's queue is nearly always this one.
  if (last_stats_ == nullptr || queue != last_queue_) {
    auto it = queues_.find(queue);
    if (it == queues_.end()) it = queues_.try_emplace(std::string(queue)).first;
    last_queue_ = queue;
    last_stats_ = &it->second;
  }
  QueueStats& stats = *last_stats_;
  ++stats.messages;
  ++messages_;
  stats.size.Observe(size);
  stats.age.Observe(std::max(0.0, now_ - arrival));
  if (!stats.oldest_arrival || arrival < *stats.oldest_arrival) stats.oldest_arrival = arrival;
}

void ShowqParser::Fail(std::string message) {
  state_ = State::kError;
  error_ = std::move(message);
  field_.clear();
}

}  // namespace sre::exporters::postfix
