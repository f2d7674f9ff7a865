#include "exporters/php_fpm/pool_metrics.h"

#include <map>
#include <string>

namespace sre::exporters::php_fpm {
namespace {

// hipages php-fpm_exporter's help texts, so `# HELP` lines match the exporter users replace.
constexpr std::string_view kStartSince = "The number of seconds since FPM has started.";
constexpr std::string_view kAcceptedConnections = "The number of requests accepted by the pool.";
constexpr std::string_view kListenQueue =
    "The number of requests in the queue of pending connections.";
constexpr std::string_view kMaxListenQueue =
    "The maximum number of requests in the queue of pending connections since FPM has started.";
constexpr std::string_view kListenQueueLength =
    "The size of the socket queue of pending connections.";
constexpr std::string_view kIdleProcesses = "The number of idle processes.";
constexpr std::string_view kActiveProcesses = "The number of active processes.";
constexpr std::string_view kTotalProcesses = "The number of idle + active processes.";
constexpr std::string_view kMaxActiveProcesses =
    "The maximum number of active processes since FPM has started.";
constexpr std::string_view kMaxChildrenReached =
    "The number of times, the process limit has been reached, when pm tries to start more "
    "children (works only for pm 'dynamic' and 'ondemand').";
constexpr std::string_view kSlowRequests =
    "The number of requests that exceeded your 'request_slowlog_timeout' value.";
constexpr std::string_view kProcessRequests = "The number of requests the process has served.";
constexpr std::string_view kProcessLastRequestMemory =
    "The max amount of memory the last request consumed.";
constexpr std::string_view kProcessLastRequestCpu = "The %cpu the last request consumed.";
constexpr std::string_view kProcessRequestDuration =
    "The duration in microseconds of the requests.";
constexpr std::string_view kProcessState = "The state of the process (Idle, Running, ...).";

void AddProcessMetrics(MetricSet& set, const Labels& labels,
                       const std::vector<ProcessStatus>& processes) {
  for (size_t i = 0; i < processes.size(); ++i) {
    const ProcessStatus& p = processes[i];
    const Labels child = WithLabels(labels, {{"child", std::to_string(i)}});
    bool known_state = false;
    for (std::string_view state : kProcessStates) {
      known_state |= state == p.state;
      set.Gauge("phpfpm_process_state", kProcessState,
                WithLabels(child, {{"state", std::string(state)}}), state == p.state ? 1 : 0);
    }
    if (!known_state) {
      set.Gauge("phpfpm_process_state", kProcessState, WithLabels(child, {{"state", p.state}}), 1);
    }
    set.Counter("phpfpm_process_requests", kProcessRequests, child,
                static_cast<double>(p.requests));
    set.Gauge("phpfpm_process_last_request_memory", kProcessLastRequestMemory, child,
              static_cast<double>(p.last_request_memory));
    set.Gauge("phpfpm_process_last_request_cpu", kProcessLastRequestCpu, child, p.last_request_cpu);
    set.Gauge("phpfpm_process_request_duration", kProcessRequestDuration, child,
              static_cast<double>(p.request_duration));
  }
}

}  // namespace

ProcessCount CountProcesses(const std::vector<ProcessStatus>& processes) {
  ProcessCount count;
  for (const ProcessStatus& p : processes) ++(p.state == "Idle" ? count.idle : count.active);
  count.total = count.idle + count.active;
  return count;
}

void AddPoolMetrics(MetricSet& set, const Labels& labels, const PoolStatus& s,
                    const PoolMetricOptions& options) {
  ProcessCount count{s.idle_processes, s.active_processes, s.total_processes};
  if (options.fix_process_count) count = CountProcesses(s.processes);
  // Types as hipages declares them (start_since and max_* are counters there too).
  set.Counter("phpfpm_start_since", kStartSince, labels, static_cast<double>(s.start_since));
  set.Counter("phpfpm_accepted_connections", kAcceptedConnections, labels,
              static_cast<double>(s.accepted_conn));
  set.Gauge("phpfpm_listen_queue", kListenQueue, labels, static_cast<double>(s.listen_queue));
  set.Counter("phpfpm_max_listen_queue", kMaxListenQueue, labels,
              static_cast<double>(s.max_listen_queue));
  set.Gauge("phpfpm_listen_queue_length", kListenQueueLength, labels,
            static_cast<double>(s.listen_queue_len));
  set.Gauge("phpfpm_idle_processes", kIdleProcesses, labels, static_cast<double>(count.idle));
  set.Gauge("phpfpm_active_processes", kActiveProcesses, labels, static_cast<double>(count.active));
  set.Gauge("phpfpm_total_processes", kTotalProcesses, labels, static_cast<double>(count.total));
  set.Counter("phpfpm_max_active_processes", kMaxActiveProcesses, labels,
              static_cast<double>(s.max_active_processes));
  set.Counter("phpfpm_max_children_reached", kMaxChildrenReached, labels,
              static_cast<double>(s.max_children_reached));
  set.Counter("phpfpm_slow_requests", kSlowRequests, labels, static_cast<double>(s.slow_requests));
  if (s.memory_peak) {
    set.Gauge("phpfpm_memory_peak_bytes",
              "The peak memory use of the pool's processes, as php-fpm 8.3 and later report it.",
              labels, static_cast<double>(*s.memory_peak));
  }
  if (!s.processes.empty()) {
    std::map<std::string, int64_t> by_state = CountByState(s.processes);
    for (std::string_view state : kProcessStates) by_state.try_emplace(std::string(state), 0);
    for (const auto& [state, n] : by_state) {
      set.Gauge("phpfpm_processes_by_state", "Workers of the pool in each state.",
                WithLabels(labels, {{"state", state}}), static_cast<double>(n));
    }
  }
  if (options.processes) AddProcessMetrics(set, labels, s.processes);
}

}  // namespace sre::exporters::php_fpm
