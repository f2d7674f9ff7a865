#include "agent/alerting/rule_engine.h"

#include <gtest/gtest.h>

#include "agent/config/source.h"
#include "agent/core/metric_set.h"

namespace sre::alerting {
namespace {

using std::chrono::seconds;

std::shared_ptr<const AlertingConfig> Config(const std::string& yaml) {
  auto document = config::Document::FromString(yaml, "agent.yaml");
  auto config = ParseAlertingConfig(document->root(), config::ParseContext("agent.yaml"));
  EXPECT_TRUE(config.ok()) << config.status().message();
  return std::make_shared<const AlertingConfig>(std::move(config).value());
}

std::vector<prometheus::MetricFamily> Up(const std::string& target, double value) {
  MetricSet set;
  set.Gauge("probe_success", "", {{"check", "db"}, {"target", target}}, value);
  return set.Take();
}

constexpr char kRule[] =
    "rules:\n"
    "  - alert: TargetDown\n"
    "    expr: probe_success < 1\n"
    "    for: 2s\n"
    "    labels: {severity: critical}\n"
    "    annotations: {summary: \"{{ $labels.target }} down\"}\n"
    "external_labels: {node: n1, severity: ignored}\n";

class RuleEngineTest : public ::testing::Test {
 protected:
  std::vector<Notification> At(int second) {
    return engine_.Evaluate(start_ + seconds(second), 1.7e9 + second);
  }
  RuleEngine engine_;
  const TimePoint start_{seconds(1000)};
};

TEST_F(RuleEngineTest, FiresAfterForWithExternalLabelsThenResolves) {
  engine_.Configure(Config(kRule));
  engine_.SetSource("tcp/a", Up("a:1", 0));
  engine_.SetSource("tcp/b", Up("b:1", 1));
  EXPECT_TRUE(At(0).empty());
  // Pending: the next moment anything can change is when `for` runs out.
  EXPECT_EQ(engine_.NextDeadline(start_), start_ + seconds(2));
  const auto fired = At(2);
  ASSERT_EQ(fired.size(), 1u);
  const Notification& n = fired[0];
  EXPECT_TRUE(n.firing);
  EXPECT_EQ(n.Label("alertname"), "TargetDown");
  EXPECT_EQ(n.Label("node"), "n1");
  EXPECT_EQ(n.Label("severity"), "critical");  // the rule's label wins over an external one
  EXPECT_EQ(n.annotations.at("summary"), "a:1 down");
  EXPECT_EQ(n.starts_at_unix, 1.7e9);
  EXPECT_EQ(engine_.Active().size(), 1u);

  engine_.SetSource("tcp/a", Up("a:1", 1));
  const auto resolved = At(3);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_FALSE(resolved[0].firing);
  EXPECT_EQ(resolved[0].resolved_at_unix, 1.7e9 + 3);
}

// A removed source's series are gone: its alert resolves (the check was deleted from config).
TEST_F(RuleEngineTest, ARemovedSourceResolvesItsAlerts) {
  engine_.Configure(Config(kRule));
  engine_.SetSource("tcp/a", Up("a:1", 0));
  At(0);
  ASSERT_EQ(At(2).size(), 1u);
  engine_.RemoveSource("tcp/a");
  const auto resolved = At(3);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_FALSE(resolved[0].firing);
}

// A reload that keeps the rule keeps its alerts: no second firing, `for` not restarted; a
// changed rule starts over.
TEST_F(RuleEngineTest, AReloadKeepsTheStateOfUnchangedRules) {
  engine_.Configure(Config(kRule));
  engine_.SetSource("tcp/a", Up("a:1", 0));
  At(0);
  ASSERT_EQ(At(2).size(), 1u);
  engine_.Configure(Config(kRule));
  EXPECT_TRUE(At(3).empty());
  EXPECT_EQ(engine_.Active().size(), 1u);

  std::string changed = kRule;
  changed.replace(changed.find("for: 2s"), 7, "for: 5s");
  engine_.Configure(Config(changed));
  EXPECT_TRUE(At(4).empty());
  EXPECT_TRUE(engine_.Active().empty());  // pending again
  EXPECT_EQ(At(9).size(), 1u);
}

// A reload that removes every rule drops the copies of the families, and alerts with them.
TEST_F(RuleEngineTest, NoRulesNoCopies) {
  engine_.Configure(Config(kRule));
  engine_.SetSource("tcp/a", Up("a:1", 0));
  At(0);
  engine_.Configure(Config("rules: []\n"));
  engine_.Configure(Config(kRule));
  EXPECT_TRUE(At(1).empty());
  EXPECT_TRUE(engine_.Views().empty());  // the source went with the rules: nothing matches
}

TEST_F(RuleEngineTest, ExportsPendingAndFiringAlertsLikePrometheusAlerts) {
  engine_.Configure(Config(kRule));
  engine_.SetSource("tcp/a", Up("a:1", 0));
  At(0);
  auto text_of = [&] {
    std::string out;
    for (const auto& family : engine_.Families()) {
      if (family.name != "sre_agent_alerts") continue;
      for (const auto& metric : family.metric) {
        for (const auto& label : metric.label) out += label.name + "=" + label.value + " ";
        out += "\n";
      }
    }
    return out;
  };
  EXPECT_EQ(text_of(),
            "alertname=TargetDown check=db severity=critical target=a:1 alertstate=pending \n");
  At(2);
  EXPECT_NE(text_of().find("alertstate=firing"), std::string::npos);
  engine_.SetSource("tcp/a", Up("a:1", 1));
  At(3);
  EXPECT_EQ(text_of(), "");  // resolved alerts are not exported, as in Prometheus
}

}  // namespace
}  // namespace sre::alerting
