#include <gtest/gtest.h>

#include "agent/alerting/alerting_config.h"
#include "agent/config/source.h"

namespace sre::alerting {
namespace {

Result<AlertingConfig> Parse(const std::string& yaml) {
  auto document = config::Document::FromString(yaml, "rules.yaml");
  EXPECT_TRUE(document.ok()) << document.status().message();
  return ParseAlertingConfig(document->root(), config::ParseContext("rules.yaml"));
}

TEST(RuleConfigTest, ARuleAsInAPrometheusRuleFile) {
  auto config = Parse(
      "rules:\n"
      "  - alert: TargetDown\n"
      "    expr: probe_success{check=\"example\"} < 1\n"
      "    for: 2s\n"
      "    keep_firing_for: 30s\n"
      "    labels: {severity: critical}\n"
      "    annotations: {summary: \"{{ $labels.target }} is down ({{ $value }})\"}\n");
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_EQ(config->rules.size(), 1u);
  const RuleConfig& rule = config->rules[0];
  EXPECT_EQ(rule.alert, "TargetDown");
  EXPECT_EQ(rule.expr.metric, "probe_success");
  EXPECT_EQ(rule.for_duration, std::chrono::seconds(2));
  EXPECT_EQ(rule.keep_firing_for, std::chrono::seconds(30));
  EXPECT_EQ(rule.labels.at("severity"), "critical");
  EXPECT_EQ(Expand(rule.annotation_templates.at("summary"), {{"target", "db:5432"}}, 0),
            "db:5432 is down (0)");
}

// An expression's error points at the offending token: line and column in the file.
TEST(RuleConfigTest, ExpressionErrorsSayWhereInTheFile) {
  const Status plain = Parse(
                           "rules:\n"
                           "  - alert: A\n"
                           "    expr: probe_success{check=\"web\"} 1\n")
                           .status();
  // "    expr: " is 10 columns; the "1" is at byte 27 of the expression.
  EXPECT_EQ(plain.message().substr(0, 17), "rules.yaml:3:38: ") << plain.message();
  EXPECT_NE(plain.message().find("expected a comparison"), std::string::npos) << plain.message();

  const Status quoted = Parse(
                            "rules:\n"
                            "  - alert: A\n"
                            "    expr: 'up{job=~\"(\"} < 1'\n")
                            .status();
  // Quoted with quotes inside: the escapes are unknown here, so the scalar and the byte.
  EXPECT_EQ(quoted.message(),
            "rules.yaml:3:11: at byte 8 of the value: invalid regex for \"job\": missing ): (");
}

TEST(RuleConfigTest, MistakesAreConfigErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"rules:\n  - expr: up < 1\n", "alert"},
      {"rules:\n  - alert: A\n    expr: up < 1\n  - alert: A\n    expr: up > 1\n",
       "rules.yaml:4:12: a second rule named A"},
      {"rules:\n  - alert: A\n    expr: up < 1\n    labels: {alertname: B}\n",
       "label alertname is set by the agent"},
      {"rules:\n  - alert: A\n    expr: min by (check) (up) < 1\n"
       "    annotations: {summary: \"{{ $labels.target }}\"}\n",
       "{{ $labels.target }} is never set"},
      {"rules:\n  - alert: A\n    expr: up < 1\n    annotations: {summary: \"{{ .Labels }}\"}\n",
       "rules.yaml:4:"},
      {"rules:\n  - alert: A\n    expr: up < 1\n    fore: 2s\n", "fore"},
  };
  for (const auto& [yaml, words] : cases) {
    const Status status = Parse(yaml).status();
    ASSERT_FALSE(status.ok()) << yaml;
    EXPECT_NE(status.message().find(words), std::string::npos) << status.message();
  }
}

}  // namespace
}  // namespace sre::alerting
