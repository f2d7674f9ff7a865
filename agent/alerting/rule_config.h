#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

#include "agent/alerting/rule_expr.h"
#include "agent/alerting/template.h"
#include "agent/base/clock.h"
#include "agent/base/status.h"
#include "agent/config/schema.h"

namespace sre::alerting {

/// One alerting rule, with the keys of a Prometheus rule file so rules carry over:
///   - alert: TargetDown
///     expr: probe_success{check="example"} < 1
///     for: 2s
///     keep_firing_for: 30s
///     labels: {severity: critical}
///     annotations: {summary: "{{ $labels.target }} is down"}
struct RuleConfig {
  std::string alert;      ///< the alertname
  std::string expr_text;  ///< as written
  Duration for_duration{0};
  Duration keep_firing_for{0};
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;

  // Parsed when the config is read (not keys).
  RuleExpr expr;
  std::map<std::string, Template> annotation_templates;
};

/// The schema of one rule, for the `alerting:` section's `rules` list.
const config::Schema<RuleConfig>& RuleSchema();

/// Parses the expression and annotation templates of `rule`, read from `node`: a bad expression
/// or template, or a template naming a label the expression's alerts cannot have, is a
/// `file:line:col:` error at its place.
Status PrepareRule(RuleConfig& rule, const YAML::Node& node, const config::ParseContext& ctx);

}  // namespace sre::alerting
