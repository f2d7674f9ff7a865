#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/status.h"

namespace sre::exporters::fluentd {

/// The numeric fields of a plugin that the exporter reads, by their monitor_agent names
/// (kFieldKeys). Fluentd 1.x writes the buffer fields only for outputs with a <buffer>, the
/// output counters only for outputs, and `retry_count` as null for inputs and filters.
enum class Field : uint8_t {
  kBufferQueueLength,
  kBufferTotalQueuedSize,
  kBufferStageLength,
  kBufferStageByteSize,
  kBufferQueueByteSize,
  kBufferAvailableBufferSpaceRatios,
  kBufferNewestTimekey,
  kBufferOldestTimekey,
  kRetryCount,
  kEmitCount,
  kEmitRecords,
  kEmitSize,
  kWriteCount,
  kWriteSecondaryCount,
  kRollbackCount,
  kFlushTimeCount,
  kSlowFlushCount,
  kDropOldestChunkCount,
};
inline constexpr size_t kFieldCount = 18;

/// The JSON key of each Field, in enum order.
inline constexpr std::array<std::string_view, kFieldCount> kFieldKeys = {
    "buffer_queue_length",
    "buffer_total_queued_size",
    "buffer_stage_length",
    "buffer_stage_byte_size",
    "buffer_queue_byte_size",
    "buffer_available_buffer_space_ratios",
    "buffer_newest_timekey",
    "buffer_oldest_timekey",
    "retry_count",
    "emit_count",
    "emit_records",
    "emit_size",
    "write_count",
    "write_secondary_count",
    "rollback_count",
    "flush_time_count",
    "slow_flush_count",
    "drop_oldest_chunk_count",
};

/// An output's `retry` object (monitor_agent's `include_retry`): empty while the output is not
/// retrying, `start`, `steps` and `next_time` while it is. Times are Ruby's Time#to_s in
/// Fluentd's local time zone ("2025-05-29 16:05:52 +0900"), read as Unix seconds.
struct RetryState {
  std::optional<double> start;      ///< when the retries began
  std::optional<double> next_time;  ///< when the next try is due
  std::optional<int64_t> steps;     ///< failed flushes of this retry sequence
  std::string start_text;           ///< as Fluentd wrote them, for people
  std::string next_time_text;
};

/// One plugin of `/api/plugins.json`.
struct PluginStatus {
  std::string plugin_id;  ///< its @id, or "object:<hex>" (changes on every restart) without one
  std::string category;   ///< plugin_category: "input", "output", "filter", ...
  std::string type;       ///< its @type; "" when Fluentd wrote null
  /// By Field; empty when the field is missing or null.
  std::array<std::optional<double>, kFieldCount> fields;
  /// Present when the response has a `retry` object (include_retry on).
  std::optional<RetryState> retry;

  const std::optional<double>& Get(Field field) const { return fields[static_cast<size_t>(field)]; }
};

struct PluginsLimits {
  size_t max_bytes = 8 << 20;  ///< larger input is refused before parsing
  size_t max_plugins = 10000;  ///< more plugins than this is an error
  int max_depth = 32;          ///< objects and arrays nested deeper than this are an error
};

/// Parses monitor_agent's `/api/plugins.json`. Pure; never throws. Streams the input (no
/// document tree), so memory is the plugin records only. Strict about the types of the keys it
/// reads (a string where a number belongs is an error naming the plugin and key) and tolerant of
/// what real responses hold: null or missing numbers, missing buffer fields, unknown keys
/// (`config`, `instance_variables`, ...) of any shape, which are skipped. `buffer_timekeys`
/// fills the newest/oldest timekey when Fluentd did not report them itself. Size, nesting and
/// plugin count are bounded by `limits`.
Result<std::vector<PluginStatus>> ParsePlugins(std::string_view json,
                                               const PluginsLimits& limits = {});

}  // namespace sre::exporters::fluentd
