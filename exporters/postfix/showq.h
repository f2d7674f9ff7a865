#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "agent/core/metric_set.h"
#include "agent/core/reason.h"

// Postfix's queue listing as the showq service streams it, parsed incrementally and reduced to
// figures per queue as it arrives: no message is kept, so 100,000 queued messages cost the same
// memory as ten. Pure (bytes in, figures out), fuzzed by tests/fuzz/showq_fuzz.cc.
namespace sre::exporters::postfix {

/// Postfix 3's queues, reported even when empty (postfix_exporter's list).
inline constexpr std::array<std::string_view, 5> kQueues = {"active", "deferred", "hold",
                                                            "incoming", "maildrop"};

/// postfix_exporter's buckets, so its dashboards' histogram_quantile() reads the same.
inline constexpr std::array<double, 7> kSizeBuckets = {1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
inline constexpr std::array<double, 8> kAgeBuckets = {1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};

/// What one queue holds.
struct QueueStats {
  QueueStats();
  uint64_t messages = 0;
  Histogram size;                        ///< bytes
  Histogram age;                         ///< seconds, from the arrival time to the parser's `now`
  std::optional<double> oldest_arrival;  ///< Unix time of the oldest message
};

/// Bounds on the input.
struct ShowqLimits {
  /// The longest name, value (attr0) or line (text) kept; longer is an error. Recipients and
  /// delay reasons are the longest fields Postfix sends (a few hundred bytes).
  size_t max_field_bytes = 64 << 10;
};

/// Reads the showq stream from the first byte. Two formats, told apart like postfix_exporter by
/// a NUL byte in the first 128 bytes:
/// - Postfix 3's attr0 stream: `name\0value\0` pairs; an empty name ends a record; an empty name
///   where a record would start ends the stream. The first record announces the protocol.
///   `queue_name`, `time` and `size` of each record count; the rest (queue_id, sender,
///   recipients, reasons) is skipped without being kept.
/// - Postfix 2's text listing (mailq's format): a message line is `ID[*!] SIZE Www Mmm dd
///   hh:mm:ss sender`; `*` is the active queue, `!` hold, else "other". The date has no year:
///   the latest one not after `now`, in local time. IDs may be long (enable_long_queue_ids).
/// Not thread-safe.
class ShowqParser {
 public:
  enum class State { kNeedMore, kComplete, kError };
  /// The attr0 names whose values count; every other value is skipped without being kept.
  enum class Name { kOther, kQueueName, kTime, kSize };
  enum class Format { kUnknown, kAttr0, kText };

  /// `now`: Unix time the ages are measured from.
  explicit ShowqParser(double now, ShowqLimits limits = {});

  /// Consumes the next bytes of the stream.
  State Feed(std::string_view bytes);
  /// The stream ended. Attr0 must have ended with its terminator by now (else a protocol error,
  /// "truncated"); text ends here.
  State FeedEof();

  State state() const { return state_; }
  Format format() const { return format_; }
  /// kProtocolError when state() is kError.
  Reason reason() const { return state_ == State::kError ? Reason::kProtocolError : Reason::kNone; }
  const std::string& error() const { return error_; }
  /// Per queue: the queues of kQueues (or active, hold and other for text) always, others as
  /// seen.
  const std::map<std::string, QueueStats, std::less<>>& queues() const { return queues_; }
  uint64_t messages() const { return messages_; }

 private:
  void Detect(bool at_eof);
  void FeedAttr0(std::string_view bytes);
  void FeedText(std::string_view bytes, bool at_eof);
  void EndField();
  void EndRecord();
  void TextLine(std::string_view line);
  void Count(std::string_view queue, double size, double arrival);
  void Fail(std::string message);

  const double now_;
  const ShowqLimits limits_;
  State state_ = State::kNeedMore;
  Format format_ = Format::kUnknown;
  std::string error_;
  std::string pending_;  // bytes seen before the format is known
  std::string field_;    // the attr0 name or counted value, or the text line, being read
  size_t skipped_ = 0;   // bytes of the attr0 value being skipped
  bool reading_value_ = false;
  Name name_ = Name::kOther;  // the attr0 name whose value is being read
  bool record_open_ = false;
  // The attr0 record being read.
  std::string record_queue_;
  std::optional<double> record_time_;
  std::optional<double> record_size_;
  std::map<std::string, QueueStats, std::less<>> queues_;
  std::string last_queue_;  // the queue Count() found last, and its stats (map nodes stay put)
  QueueStats* last_stats_ = nullptr;
  uint64_t messages_ = 0;
  uint64_t records_ = 0;
};

}  // namespace sre::exporters::postfix
