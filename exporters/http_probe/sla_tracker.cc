#include "exporters/http_probe/sla_tracker.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <cmath>
#include <ctime>

namespace sre::exporters::http_probe {
namespace {

std::tm Utc(double unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

std::string Failing(const std::map<std::string, Reason>& failing) {
  std::string out;
  for (const auto& [address, reason] : failing) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{}: {}", address.empty() ? "(no address)" : address, ReasonName(reason));
  }
  return out;
}

}  // namespace

void SlaTracker::Record(double run_unix, const std::map<std::string, Reason>& failing) {
  if (failing.empty()) {
    failing_runs_ = 0;
    streak_failing_.clear();
    if (open()) {
      recent_.front().closed_unix = run_unix;
      closed_seconds_ += std::max(0.0, run_unix - recent_.front().opened_unix);
    }
    return;
  }
  if (failing_runs_++ == 0) streak_started_unix_ = run_unix;
  streak_failing_.insert(failing.begin(), failing.end());  // keeps each address's first reason
  if (open()) {
    recent_.front().failing.insert(failing.begin(), failing.end());
    return;
  }
  if (failing_runs_ < min_failures_) return;
  recent_.push_front({streak_started_unix_, std::nullopt, streak_failing_});
  ++opened_total_;
  if (recent_.size() > keep_) recent_.pop_back();
}

double SlaTracker::ViolationSeconds(double now_unix) const {
  if (!open()) return closed_seconds_;
  return closed_seconds_ + std::max(0.0, now_unix - recent_.front().opened_unix);
}

std::vector<std::string> SlaTracker::Describe(double now_unix) const {
  std::vector<std::string> lines;
  for (const Violation& v : recent_) {
    const std::tm opened = Utc(v.opened_unix);
    if (v.closed_unix) {
      lines.push_back(fmt::format("failed {:%Y-%m-%d %H:%M:%S} to {:%H:%M:%S} UTC, {:.0f} s, {}",
                                  opened, Utc(*v.closed_unix),
                                  std::round(*v.closed_unix - v.opened_unix), Failing(v.failing)));
    } else {
      lines.push_back(fmt::format("failing since {:%Y-%m-%d %H:%M:%S} UTC, {:.0f} s so far, {}",
                                  opened, std::round(std::max(0.0, now_unix - v.opened_unix)),
                                  Failing(v.failing)));
    }
  }
  return lines;
}

}  // namespace sre::exporters::http_probe
