#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/alerting/rule_config.h"
#include "agent/alerting/rule_eval.h"
#include "agent/base/clock.h"
#include "agent/core/metric_set.h"

namespace sre::alerting {

/// Where one alert is: pending while the expression holds but `for` has not passed, firing
/// after, resolved once it stopped holding (for longer than `keep_firing_for`). An alert whose
/// expression stops holding while pending goes back to inactive: it is dropped, never sent.
enum class AlertState { kPending, kFiring, kResolved };

std::string_view AlertStateName(AlertState state);  ///< "pending", "firing", "resolved"

/// One alert of a rule: one label set the expression yields.
struct Alert {
  /// alertname, the rule's labels and the expression's labels (the rule's win), sorted.
  Labels labels;
  std::map<std::string, std::string> annotations;  ///< expanded at the last evaluation held
  AlertState state = AlertState::kPending;
  double value = 0;              ///< at the last evaluation that held
  TimePoint active_since{};      ///< when the expression started to hold (pending began)
  TimePoint last_held{};         ///< the last evaluation at which it held
  TimePoint resolved_at{};       ///< when it resolved (state kResolved)
  double active_since_unix = 0;  ///< wall time of active_since: Alertmanager's startsAt
  double resolved_at_unix = 0;   ///< wall time of resolved_at: endsAt once resolved
};

/// The alerts of one rule across evaluations: Prometheus' alerting-rule state machine, with
/// `for` and `keep_firing_for` as separate keys. Time comes in from the caller (a fake clock in
/// tests). Resolved alerts are kept for `resolved_retention` so receivers can be told again,
/// then forgotten. Not thread-safe; lives on the loop thread.
class RuleState {
 public:
  explicit RuleState(const RuleConfig& rule, Duration resolved_retention = std::chrono::minutes(5));

  /// One evaluation at `now` (`now_unix` its wall time) that yielded `matches`. Returns the
  /// alerts that became firing or resolved at this evaluation: what receivers must hear now.
  std::vector<const Alert*> Update(TimePoint now, double now_unix,
                                   const std::vector<Match>& matches);

  /// The first moment after `now` when an alert would change state with no new data: a pending
  /// alert's `for` ending, a firing one's `keep_firing_for` running out, a resolved one being
  /// forgotten. Nullopt: none. (Moments not after `now` were handled by the last Update.)
  std::optional<TimePoint> NextDeadline(TimePoint now) const;

  /// Takes over the alerts of `old`, the same rule before a reload, so a reload neither resets
  /// `for` nor fires or resolves anything by itself.
  void Adopt(RuleState&& old) { alerts_ = std::move(old.alerts_); }

  /// Every alert the rule has now, by label set.
  const std::map<Labels, Alert>& alerts() const { return alerts_; }
  const RuleConfig& rule() const { return rule_; }

 private:
  Labels AlertLabels(const Labels& match) const;

  const RuleConfig& rule_;
  const Duration resolved_retention_;
  std::map<Labels, Alert> alerts_;
};

}  // namespace sre::alerting
