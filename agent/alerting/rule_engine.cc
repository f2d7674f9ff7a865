#include "agent/alerting/rule_engine.h"

#include <chrono>

#include "agent/core/metric_set.h"

namespace sre::alerting {
namespace {

bool SameRule(const RuleConfig& a, const RuleConfig& b) {
  return a.alert == b.alert && a.expr_text == b.expr_text && a.for_duration == b.for_duration &&
         a.keep_firing_for == b.keep_firing_for && a.labels == b.labels &&
         a.annotations == b.annotations;
}

}  // namespace

void RuleEngine::Configure(std::shared_ptr<const AlertingConfig> config) {
  std::vector<RuleState> states;
  states.reserve(config->rules.size());
  for (const RuleConfig& rule : config->rules) {
    states.emplace_back(rule);
    for (RuleState& old : states_) {
      if (SameRule(old.rule(), rule)) {
        states.back().Adopt(std::move(old));
        break;
      }
    }
  }
  // The old states refer to the old config's rules: both go together.
  states_ = std::move(states);
  config_ = std::move(config);
  // Without rules nothing reads the sources: no second copy of every check's families.
  if (states_.empty()) sources_.clear();
}

void RuleEngine::SetSource(const std::string& source,
                           std::vector<prometheus::MetricFamily> families) {
  sources_[source] = std::move(families);
}

void RuleEngine::RemoveSource(const std::string& source) { sources_.erase(source); }

std::vector<Notification> RuleEngine::Evaluate(TimePoint now, double now_unix) {
  const auto started = std::chrono::steady_clock::now();
  index_.Clear();
  for (const auto& [source, families] : sources_) index_.Add(families);
  std::vector<Notification> changed;
  for (RuleState& state : states_) {
    for (const Alert* alert :
         state.Update(now, now_unix, alerting::Evaluate(state.rule().expr, index_))) {
      changed.push_back(ToNotification(*alert));
    }
  }
  ++evaluations_;
  last_samples_ = index_.size();
  last_duration_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return changed;
}

std::optional<TimePoint> RuleEngine::NextDeadline(TimePoint now) const {
  std::optional<TimePoint> next;
  for (const RuleState& state : states_) {
    const auto when = state.NextDeadline(now);
    if (when && (!next || *when < *next)) next = when;
  }
  return next;
}

Notification RuleEngine::ToNotification(const Alert& alert) const {
  Notification n;
  n.labels = alert.labels;
  for (const auto& external : config_->external_labels) {
    const bool taken = std::any_of(n.labels.begin(), n.labels.end(),
                                   [&](const auto& l) { return l.name == external.first; });
    if (!taken) n.labels.push_back({external.first, external.second});
  }
  std::sort(n.labels.begin(), n.labels.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  n.annotations = alert.annotations;
  n.firing = alert.state != AlertState::kResolved;
  n.value = alert.value;
  n.starts_at_unix = alert.active_since_unix;
  n.resolved_at_unix = n.firing ? 0 : alert.resolved_at_unix;
  n.generator_url = config_->external_url;
  return n;
}

std::vector<Notification> RuleEngine::Active() const {
  std::vector<Notification> active;
  for (const RuleState& state : states_) {
    for (const auto& [labels, alert] : state.alerts()) {
      if (alert.state != AlertState::kPending) active.push_back(ToNotification(alert));
    }
  }
  return active;
}

std::vector<AlertView> RuleEngine::Views() const {
  std::vector<AlertView> views;
  for (const RuleState& state : states_) {
    for (const auto& [labels, alert] : state.alerts()) {
      views.push_back({alert.labels, alert.annotations, alert.state, alert.value,
                       alert.active_since_unix, alert.resolved_at_unix});
    }
  }
  return views;
}

std::vector<prometheus::MetricFamily> RuleEngine::Families() const {
  MetricSet set;
  for (const RuleState& state : states_) {
    for (const auto& [labels, alert] : state.alerts()) {
      if (alert.state == AlertState::kResolved) continue;  // as Prometheus' ALERTS
      set.Gauge("sre_agent_alerts",
                "Alerts of the agent's rules that are pending or firing (1 per alert).",
                WithLabels(labels, {{"alertstate", std::string(AlertStateName(alert.state))}}), 1);
    }
  }
  set.Gauge("sre_agent_alert_rules", "Alerting rules loaded.", {},
            static_cast<double>(states_.size()));
  set.Counter("sre_agent_rule_evaluations_total", "Evaluation rounds of every alerting rule.", {},
              static_cast<double>(evaluations_));
  set.Gauge("sre_agent_rule_evaluation_duration_seconds",
            "Wall time of the last evaluation round of every rule.", {}, last_duration_seconds_);
  set.Gauge("sre_agent_rule_evaluation_samples", "Samples the last evaluation round read.", {},
            static_cast<double>(last_samples_));
  return set.Take();
}

}  // namespace sre::alerting
