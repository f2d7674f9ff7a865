#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/status.h"

namespace sre::exporters::php_fpm {

/// One worker of a pool, from the `full` status.
struct ProcessStatus {
  int64_t pid = 0;
  std::string state;  ///< "Idle", "Running", "Reading headers", "Finishing", ...
  int64_t start_time = 0;
  int64_t start_since = 0;
  int64_t requests = 0;
  int64_t request_duration = 0;  ///< microseconds
  std::string request_method;
  std::string request_uri;
  int64_t content_length = 0;
  std::string user;
  std::string script;
  double last_request_cpu = 0;
  int64_t last_request_memory = 0;  ///< bytes
};

/// A pool's status page (`?json`, or `?json&full` with the processes).
struct PoolStatus {
  std::string pool;
  std::string process_manager;  ///< "static", "dynamic", "ondemand"
  int64_t start_time = 0;
  int64_t start_since = 0;
  int64_t accepted_conn = 0;
  int64_t listen_queue = 0;
  int64_t max_listen_queue = 0;
  int64_t listen_queue_len = 0;
  int64_t idle_processes = 0;
  int64_t active_processes = 0;
  int64_t total_processes = 0;
  int64_t max_active_processes = 0;
  int64_t max_children_reached = 0;
  int64_t slow_requests = 0;
  std::optional<int64_t> memory_peak;    ///< bytes; reported by newer php-fpm versions only
  std::vector<ProcessStatus> processes;  ///< empty without `full`
};

/// Parses php-fpm's JSON status. Pure. Every pool field is required with its type (a missing or
/// mistyped one is an error naming it); `memory peak` and `processes` are optional. Input nested
/// deeper than a status page ever is, or larger than `max_bytes`, is rejected before parsing.
Result<PoolStatus> ParsePoolStatus(std::string_view json, size_t max_bytes = 16 << 20);

/// Workers per state ("Idle": 3, "Running": 2), from the process list.
std::map<std::string, int64_t> CountByState(const std::vector<ProcessStatus>& processes);

}  // namespace sre::exporters::php_fpm
