#include "agent/alerting/alert_state.h"

#include <algorithm>
#include <set>

namespace sre::alerting {

std::string_view AlertStateName(AlertState state) {
  switch (state) {
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
    case AlertState::kResolved:
      return "resolved";
  }
  return "";
}

RuleState::RuleState(const RuleConfig& rule, Duration resolved_retention)
    : rule_(rule), resolved_retention_(resolved_retention) {}

Labels RuleState::AlertLabels(const Labels& match) const {
  Labels labels;
  labels.reserve(match.size() + rule_.labels.size() + 1);
  labels.push_back({"alertname", rule_.alert});
  for (const auto& [name, value] : rule_.labels) labels.push_back({name, value});
  for (const auto& label : match) {
    const bool taken = std::any_of(labels.begin(), labels.end(),
                                   [&](const auto& l) { return l.name == label.name; });
    if (!taken) labels.push_back(label);
  }
  std::sort(labels.begin(), labels.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return labels;
}

std::vector<const Alert*> RuleState::Update(TimePoint now, double now_unix,
                                            const std::vector<Match>& matches) {
  std::vector<const Alert*> changed;
  std::set<const Alert*> held;
  for (const Match& match : matches) {
    Labels labels = AlertLabels(match.labels);
    auto [it, fresh] = alerts_.try_emplace(std::move(labels));
    Alert& alert = it->second;
    if (fresh || alert.state == AlertState::kResolved) {
      // A new episode: a resolved alert that holds again starts over as pending.
      alert.labels = it->first;
      alert.state = AlertState::kPending;
      alert.active_since = now;
      alert.active_since_unix = now_unix;
    }
    alert.value = match.value;
    alert.last_held = now;
    for (const auto& [name, annotation] : rule_.annotation_templates) {
      alert.annotations[name] = Expand(annotation, match.labels, match.value);
    }
    if (alert.state == AlertState::kPending && now - alert.active_since >= rule_.for_duration) {
      alert.state = AlertState::kFiring;
      changed.push_back(&alert);
    }
    held.insert(&alert);
  }
  for (auto it = alerts_.begin(); it != alerts_.end();) {
    Alert& alert = it->second;
    if (held.contains(&alert)) {
      ++it;
      continue;
    }
    if (alert.state == AlertState::kPending) {
      it = alerts_.erase(it);  // never fired: nobody was told, nobody needs to hear it ended
      continue;
    }
    if (alert.state == AlertState::kFiring && now - alert.last_held >= rule_.keep_firing_for) {
      alert.state = AlertState::kResolved;
      alert.resolved_at = now;
      alert.resolved_at_unix = now_unix;
      changed.push_back(&alert);
    }
    // Kept at least until the update after it resolved: the caller holds what Update returned.
    if (alert.state == AlertState::kResolved && alert.resolved_at < now &&
        now - alert.resolved_at >= resolved_retention_) {
      it = alerts_.erase(it);
      continue;
    }
    ++it;
  }
  return changed;
}

std::optional<TimePoint> RuleState::NextDeadline(TimePoint now) const {
  std::optional<TimePoint> next;
  for (const auto& [labels, alert] : alerts_) {
    TimePoint when;
    switch (alert.state) {
      case AlertState::kPending:
        when = alert.active_since + rule_.for_duration;
        break;
      case AlertState::kFiring:
        when = alert.last_held + rule_.keep_firing_for;
        break;
      case AlertState::kResolved:
        when = alert.resolved_at + resolved_retention_;
        break;
    }
    if (when > now && (!next || when < *next)) next = when;
  }
  return next;
}

}  // namespace sre::alerting
