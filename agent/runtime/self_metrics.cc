#include "agent/runtime/self_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "agent/core/metric_set.h"

namespace sre {
namespace {

struct ProcessStats {
  double cpu_seconds = 0;
  double start_time_unix = 0;
  double virtual_bytes = 0;
  double resident_bytes = 0;
  double open_fds = 0;
  double max_fds = 0;
};

double BootTimeUnix() {
  std::ifstream stat("/proc/stat");
  std::string key;
  double value = 0;
  while (stat >> key) {
    if (key == "btime") {
      stat >> value;
      return value;
    }
    stat.ignore(1 << 20, '\n');
  }
  return 0;
}

ProcessStats ReadProcessStats() {
  ProcessStats stats;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream stat_file("/proc/self/stat");
  std::string line;
  std::getline(stat_file, line);
  // Fields after the command name (which may hold spaces) start at the last ')'.
  const size_t close = line.rfind(')');
  if (close != std::string::npos) {
    std::istringstream fields(line.substr(close + 2));
    std::string field;
    // Field 3 (state) is the first here; utime is 14, stime 15, starttime 22, vsize 23, rss 24.
    std::vector<double> values;
    while (fields >> field) values.push_back(std::strtod(field.c_str(), nullptr));
    if (values.size() > 21) {
      stats.cpu_seconds = (values[11] + values[12]) / ticks;
      stats.start_time_unix = BootTimeUnix() + values[19] / ticks;
      stats.virtual_bytes = values[20];
      stats.resident_bytes = values[21] * static_cast<double>(sysconf(_SC_PAGESIZE));
    }
  }
  if (DIR* dir = opendir("/proc/self/fd")) {
    int count = 0;
    while (readdir(dir) != nullptr) ++count;
    closedir(dir);
    stats.open_fds = count - 3;  // ".", ".." and the directory's own descriptor
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) stats.max_fds = static_cast<double>(limit.rlim_cur);
  return stats;
}

}  // namespace

std::vector<prometheus::MetricFamily> AgentFamilies(const AgentFacts& facts) {
  MetricSet set;
  set.Gauge("sre_agent_build_info", "Version and revision of the running agent; always 1.",
            {{"version", facts.version}, {"revision", facts.revision}}, 1);
  set.Gauge("sre_agent_config_last_reload_successful",
            "Whether the last configuration reload succeeded (1) or was rejected (0).", {},
            facts.last_reload_ok ? 1 : 0);
  set.Gauge("sre_agent_config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded successfully.", {},
            facts.last_reload_success_unix);
  set.Counter("sre_agent_log_messages_suppressed_total",
              "Repeated identical warnings held back by the log rate limit.", {},
              static_cast<double>(facts.log_suppressed));
  for (const auto& [exporter, count] : facts.checks_by_exporter) {
    set.Gauge("sre_agent_checks", "Configured checks, by exporter.", {{"exporter", exporter}},
              static_cast<double>(count));
  }
  const ProcessStats process = ReadProcessStats();
  set.Counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", {},
              process.cpu_seconds);
  set.Gauge("process_resident_memory_bytes", "Resident memory size in bytes.", {},
            process.resident_bytes);
  set.Gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", {},
            process.virtual_bytes);
  set.Gauge("process_open_fds", "Number of open file descriptors.", {}, process.open_fds);
  set.Gauge("process_max_fds", "Maximum number of open file descriptors.", {}, process.max_fds);
  set.Gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
            {}, process.start_time_unix);
  return set.Take();
}

}  // namespace sre
