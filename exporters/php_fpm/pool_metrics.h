#pragma once

#include <array>
#include <string_view>

#include "agent/core/metric_set.h"
#include "exporters/php_fpm/status.h"

namespace sre::exporters::php_fpm {

/// Worker states of php-fpm 8.2 (fpm_request.c), zero-filled in the per-state series so a
/// state that empties shows 0 instead of vanishing.
inline constexpr std::array<std::string_view, 6> kProcessStates = {
    "Idle", "Running", "Reading headers", "Getting request information", "Finishing", "Ending"};

struct PoolMetricOptions {
  bool processes = false;          ///< the per-process families
  bool fix_process_count = false;  ///< idle/active/total from the process list
};

/// Appends a pool's series from its status page under `labels` (check, pool, scrape_uri):
/// hipages php-fpm_exporter's families with its help texts and types (phpfpm_up excluded: the
/// caller adds it with phpfpm_scrape_failures), phpfpm_processes_by_state, and
/// phpfpm_memory_peak_bytes when php-fpm reports it. With `processes`, the per-process families
/// labelled `child`: the worker's index in php-fpm's list, as hipages numbers them, so series
/// survive worker restarts. Pure.
void AddPoolMetrics(MetricSet& set, const Labels& labels, const PoolStatus& status,
                    const PoolMetricOptions& options);

/// idle, active and total from the process list: a worker is idle in state "Idle" and active
/// in any other, as php-fpm itself counts.
struct ProcessCount {
  int64_t idle = 0;
  int64_t active = 0;
  int64_t total = 0;
};
ProcessCount CountProcesses(const std::vector<ProcessStatus>& processes);

}  // namespace sre::exporters::php_fpm
