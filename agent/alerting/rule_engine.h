#pragma once

#include <prometheus/metric_family.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/alerting/alert_state.h"
#include "agent/alerting/alerting_config.h"
#include "agent/alerting/notification.h"
#include "agent/alerting/rule_eval.h"
#include "agent/base/clock.h"

namespace sre::alerting {

/// One alert as people see it (landing page, sre-probe): value type.
struct AlertView {
  Labels labels;  ///< alertname, rule labels, expression labels; sorted
  std::map<std::string, std::string> annotations;
  AlertState state = AlertState::kPending;
  double value = 0;
  double active_since_unix = 0;
  double resolved_at_unix = 0;
};

/// Every rule of the config over the latest families of every source (a check's run, the
/// agent's own series): keeps each source's families, evaluates all rules at once, and keeps
/// the state of every alert. Not thread-safe; lives on the loop thread.
class RuleEngine {
 public:
  /// Takes the rules of `config`. The alerts of a rule that is unchanged (same name, expression,
  /// durations, labels and annotations) carry over, so a reload does not restart `for`.
  void Configure(std::shared_ptr<const AlertingConfig> config);

  /// The latest families of `source` (an instance key), replacing the previous ones.
  void SetSource(const std::string& source, std::vector<prometheus::MetricFamily> families);
  void RemoveSource(const std::string& source);

  /// Evaluates every rule at `now` over the sources' latest families. Returns what receivers
  /// must hear: the alerts that started firing or resolved at this evaluation, with the
  /// external labels added.
  std::vector<Notification> Evaluate(TimePoint now, double now_unix);

  /// When to evaluate again even if no source changes (see RuleState::NextDeadline).
  std::optional<TimePoint> NextDeadline(TimePoint now) const;

  /// The firing alerts and those resolved recently, as notifications (Alertmanager re-sends).
  std::vector<Notification> Active() const;
  /// Every alert, pending ones too, rules in config order.
  std::vector<AlertView> Views() const;

  /// `sre_agent_alerts{alertname,alertstate,...}` (1 per pending or firing alert, like
  /// Prometheus' ALERTS) and the evaluation's own series.
  std::vector<prometheus::MetricFamily> Families() const;

  size_t rule_count() const { return states_.size(); }

 private:
  Notification ToNotification(const Alert& alert) const;

  std::shared_ptr<const AlertingConfig> config_;
  std::vector<RuleState> states_;  // one per rule of config_, in order
  std::map<std::string, std::vector<prometheus::MetricFamily>> sources_;
  SampleIndex index_;
  uint64_t evaluations_ = 0;
  double last_duration_seconds_ = 0;
  size_t last_samples_ = 0;
};

}  // namespace sre::alerting
