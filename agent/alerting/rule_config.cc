#include "agent/alerting/rule_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace sre::alerting {
namespace {

// Labels the agent sets on every alert itself.
constexpr std::string_view kReservedLabels[] = {"alertname", "alertstate"};

}  // namespace

const config::Schema<RuleConfig>& RuleSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<RuleConfig>("alerting rule");
    s->Field("alert", &RuleConfig::alert, "the alert's name (label alertname)").Required();
    s->Validate<std::string>(&RuleConfig::alert,
                             [](const std::string& name) -> std::optional<std::string> {
                               if (!name.empty()) return std::nullopt;
                               return "the alert needs a name";
                             });
    s->Field("expr", &RuleConfig::expr_text,
             "metric{matchers} OP threshold, optionally in min/max/sum/avg/count by (labels)")
        .Required();
    s->Field("for", &RuleConfig::for_duration,
             "how long the expression must hold before the alert fires (pending until then)");
    s->Field("keep_firing_for", &RuleConfig::keep_firing_for,
             "how long a firing alert stays firing after the expression stops holding");
    s->Field("labels", &RuleConfig::labels, "labels added to the alert, like severity");
    s->Validate<std::map<std::string, std::string>>(
        &RuleConfig::labels,
        [](const std::map<std::string, std::string>& labels) -> std::optional<std::string> {
          for (std::string_view reserved : kReservedLabels) {
            if (labels.contains(std::string(reserved))) {
              return fmt::format("label {} is set by the agent", reserved);
            }
          }
          return std::nullopt;
        });
    s->Field("annotations", &RuleConfig::annotations,
             "texts for people; {{ $labels.NAME }} and {{ $value }} are filled in");
    return s;
  }();
  return *schema;
}

namespace {

// The labels the expression's alerts can have: an aggregation keeps only its `by` labels; a
// plain selector's series may carry any.
std::optional<std::string> MissingLabel(const RuleExpr& expr, const Template& annotation) {
  if (expr.aggregation == Aggregation::kNone) return std::nullopt;
  for (const std::string& name : annotation.label_names()) {
    if (!std::binary_search(expr.by.begin(), expr.by.end(), name)) return name;
  }
  return std::nullopt;
}

}  // namespace

Status PrepareRule(RuleConfig& rule, const YAML::Node& node, const config::ParseContext& ctx) {
  auto expr = ParseRuleExpr(rule.expr_text);
  if (!expr.ok()) {
    return ctx.ErrorInScalar(node["expr"], expr.error().offset, expr.error().message);
  }
  rule.expr = std::move(expr).value();
  for (const auto& [name, text] : rule.annotations) {
    auto annotation = ParseTemplate(text);
    const YAML::Node value = node["annotations"][name];
    if (!annotation.ok()) {
      return ctx.ErrorInScalar(value, annotation.error().offset, annotation.error().message);
    }
    if (auto missing = MissingLabel(rule.expr, *annotation)) {
      return ctx.ErrorAt(value, fmt::format("{{{{ $labels.{} }}}} is never set: the expression's "
                                            "alerts have only the labels of `by ({})`",
                                            *missing, fmt::join(rule.expr.by, ", ")));
    }
    rule.annotation_templates.emplace(name, std::move(annotation).value());
  }
  return Status::Ok();
}

}  // namespace sre::alerting
