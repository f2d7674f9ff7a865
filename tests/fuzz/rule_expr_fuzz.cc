// Fuzzes alert rule expressions and annotation templates, which come from config files: the bytes
// are parsed as an expression and, when they parse, evaluated against a small fixed set of
// families (plain selectors, regex matchers, every aggregation, NaN and Inf values); the same
// bytes are parsed and expanded as a template. Nothing may crash, hang or throw.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

#include "agent/alerting/rule_eval.h"
#include "agent/alerting/rule_expr.h"
#include "agent/alerting/template.h"
#include "agent/core/metric_set.h"

namespace {

std::vector<prometheus::MetricFamily> Families() {
  sre::MetricSet set;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const double values[] = {1, 0, nan, inf, -inf, 1e308, -2.5};
  for (int i = 0; i < 14; ++i) {
    set.Gauge("probe_success", "",
              {{"check", i % 2 ? "web" : "db"},
               {"target", "host-" + std::to_string(i % 3) + ":80"},
               {"address", "10.0.0." + std::to_string(i)}},
              values[i % 7]);
  }
  set.Gauge("postfix_showq_queue_depth", "", {{"queue", "deferred"}}, 600);
  set.Gauge("postfix_showq_queue_depth", "", {{"queue", ""}}, 3);
  set.Counter("sum", "", {}, 4);
  sre::Histogram histogram({0.1, 1});
  histogram.Observe(0.5);
  set.Histogram("probe_duration_seconds", "", {{"check", "web"}}, histogram.ToMetric());
  return set.Take();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto* families = new std::vector<prometheus::MetricFamily>(Families());
  static const auto* index = [] {
    auto* built = new sre::alerting::SampleIndex();
    built->Add(*families);
    return built;
  }();
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  auto expr = sre::alerting::ParseRuleExpr(input);
  sre::Labels labels = {{"check", "web"}};
  double value = 1;
  if (expr.ok()) {
    const auto matches = sre::alerting::Evaluate(expr.value(), *index);
    if (!matches.empty()) {
      labels = matches.front().labels;
      value = matches.front().value;
    }
  } else if (expr.error().offset > input.size()) {
    __builtin_trap();  // an error must point inside the text, or just past its end
  }

  auto tmpl = sre::alerting::ParseTemplate(input);
  if (tmpl.ok()) {
    (void)sre::alerting::Expand(tmpl.value(), labels, value);
  } else if (tmpl.error().offset >= input.size()) {
    __builtin_trap();  // a template error points at its "{{"
  }
  return 0;
}
