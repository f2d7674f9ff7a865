#include "exporters/common/probe_counters.h"

namespace sre::exporters {
namespace {

constexpr uint64_t kForgetAfterRuns = 100;

}  // namespace

ProbeCounters::ProbeCounters(std::string histogram_name, std::string histogram_help,
                             std::vector<double> buckets)
    : histogram_name_(std::move(histogram_name)),
      histogram_help_(std::move(histogram_help)),
      buckets_(std::move(buckets)) {}

void ProbeCounters::Record(const std::string& address, Reason reason,
                           std::optional<double> duration) {
  auto it = addresses_.find(address);
  if (it == addresses_.end()) {
    it = addresses_.emplace(address, PerAddress{0, {}, Histogram(buckets_), 0}).first;
  }
  PerAddress& state = it->second;
  state.last_seen_run = runs_;
  ++state.attempts;
  if (reason != Reason::kNone) ++state.failures[reason];
  if (duration) state.duration.Observe(*duration);
}

void ProbeCounters::AddTo(MetricSet& set, const Labels& base) {
  std::erase_if(addresses_, [this](const auto& entry) {
    return runs_ - entry.second.last_seen_run > kForgetAfterRuns;
  });
  for (const auto& [address, state] : addresses_) {
    const Labels labels = address.empty() ? base : WithLabels(base, {{"address", address}});
    set.Counter("probe_attempts_total", "Probe attempts of this check", labels,
                static_cast<double>(state.attempts));
    for (const auto& [reason, count] : state.failures) {
      set.Counter("probe_failures_total", "Failed probe attempts of this check, by reason",
                  WithLabels(labels, {{"reason", std::string(ReasonName(reason))}}),
                  static_cast<double>(count));
    }
    if (!address.empty()) {
      set.Histogram(histogram_name_, histogram_help_, labels, state.duration.ToMetric());
    }
  }
}

}  // namespace sre::exporters
