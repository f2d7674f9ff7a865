#include "agent/alerting/alert_state.h"

#include <gtest/gtest.h>

#include "agent/alerting/alerting_config.h"
#include "agent/config/source.h"

namespace sre::alerting {
namespace {

using std::chrono::seconds;

RuleConfig Rule(const std::string& keys) {
  auto document = config::Document::FromString(
      "rules:\n  - alert: TargetDown\n    expr: probe_success < 1\n" + keys, "rules.yaml");
  auto config = ParseAlertingConfig(document->root(), config::ParseContext("rules.yaml"));
  EXPECT_TRUE(config.ok()) << config.status().message();
  return config->rules.at(0);
}

Match Down(const std::string& target) { return {{{"target", target}}, 0}; }

class RuleStateTest : public ::testing::Test {
 protected:
  // One evaluation `at` seconds after the start; the names of the alerts that changed.
  std::vector<std::string> At(RuleState& state, int at, const std::vector<Match>& matches) {
    std::vector<std::string> changed;
    for (const Alert* alert : state.Update(start_ + seconds(at), 1.7e9 + at, matches)) {
      changed.push_back(alert->labels.back().value + " " +
                        std::string(AlertStateName(alert->state)));
    }
    return changed;
  }
  static AlertState StateOf(const RuleState& state, const std::string& target) {
    for (const auto& [labels, alert] : state.alerts()) {
      if (labels.back().value == target) return alert.state;
    }
    ADD_FAILURE() << "no alert for " << target;
    return AlertState::kPending;
  }

  const TimePoint start_{seconds(100)};
};

TEST_F(RuleStateTest, PendingForItsForThenFiringThenResolved) {
  const RuleConfig rule = Rule("    for: 2s\n");
  RuleState state(rule);
  EXPECT_EQ(At(state, 0, {Down("db")}), std::vector<std::string>{});
  EXPECT_EQ(StateOf(state, "db"), AlertState::kPending);
  EXPECT_EQ(At(state, 1, {Down("db")}), std::vector<std::string>{});
  EXPECT_EQ(At(state, 2, {Down("db")}), std::vector<std::string>{"db firing"});
  EXPECT_EQ(At(state, 3, {}), std::vector<std::string>{"db resolved"});
  const Alert& alert = state.alerts().begin()->second;
  EXPECT_EQ(alert.active_since_unix, 1.7e9);
  EXPECT_EQ(alert.resolved_at_unix, 1.7e9 + 3);
}

// A check that flaps faster than `for` never fires: no storm.
TEST_F(RuleStateTest, AFlappingCheckStaysQuiet) {
  const RuleConfig rule = Rule("    for: 2s\n");
  RuleState state(rule);
  for (int t = 0; t < 20; t += 2) {
    EXPECT_TRUE(At(state, t, {Down("db")}).empty());
    EXPECT_TRUE(At(state, t + 1, {}).empty());
    EXPECT_TRUE(state.alerts().empty());  // pending that stopped holding is dropped
  }
}

// keep_firing_for holds a firing alert through short recoveries.
TEST_F(RuleStateTest, KeepFiringForHoldsThroughShortRecoveries) {
  const RuleConfig rule = Rule("    keep_firing_for: 5s\n");
  RuleState state(rule);
  EXPECT_EQ(At(state, 0, {Down("db")}), std::vector<std::string>{"db firing"});  // for: 0s
  EXPECT_TRUE(At(state, 3, {}).empty());
  EXPECT_TRUE(At(state, 4, {Down("db")}).empty());  // held again: still the same episode
  EXPECT_TRUE(At(state, 8, {}).empty());
  EXPECT_EQ(At(state, 9, {}), std::vector<std::string>{"db resolved"});
}

TEST_F(RuleStateTest, OneAlertPerLabelSetWithTheRulesLabels) {
  const RuleConfig rule = Rule(
      "    labels: {severity: critical, target: overridden-by-rule}\n"
      "    annotations: {summary: \"{{ $labels.address }} down, value {{ $value }}\"}\n");
  RuleState state(rule);
  At(state, 0, {{{{"address", "10.0.0.1"}}, 0}, {{{"address", "10.0.0.2"}}, 0.5}});
  ASSERT_EQ(state.alerts().size(), 2u);
  const Alert& second = std::next(state.alerts().begin())->second;
  EXPECT_EQ(second.labels, (Labels{{"address", "10.0.0.2"},
                                   {"alertname", "TargetDown"},
                                   {"severity", "critical"},
                                   {"target", "overridden-by-rule"}}));
  EXPECT_EQ(second.annotations.at("summary"), "10.0.0.2 down, value 0.5");
}

TEST_F(RuleStateTest, ResolvedAlertsAreForgottenAfterTheRetention) {
  const RuleConfig rule = Rule("");
  RuleState state(rule, seconds(10));
  At(state, 0, {Down("db")});
  At(state, 1, {});
  EXPECT_EQ(StateOf(state, "db"), AlertState::kResolved);
  At(state, 10, {});
  EXPECT_EQ(state.alerts().size(), 1u);
  At(state, 11, {});
  EXPECT_TRUE(state.alerts().empty());
  // Holding again later is a new episode: pending (here for 0s: firing) from that moment.
  EXPECT_EQ(At(state, 12, {Down("db")}), std::vector<std::string>{"db firing"});
}

}  // namespace
}  // namespace sre::alerting
