#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/alerting/syntax_error.h"
#include "agent/core/metric_set.h"

namespace re2 {
class RE2;
}

namespace sre::alerting {

/// How a label matcher compares: `=`, `!=`, `=~`, `!~`.
enum class MatchOp { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

/// One label matcher of a selector. As in PromQL, a label the series lacks has the value "", so
/// `{queue=""}` selects series without `queue` and `{queue!=""}` those with one. Immutable after
/// parsing, so it may be shared across threads.
struct LabelMatcher {
  std::string name;
  MatchOp op = MatchOp::kEqual;
  std::string value;  ///< unescaped; the pattern itself for =~ and !~
  /// For =~ and !~: compiled once, matched against the whole value (anchored at both ends, as
  /// PromQL does), `.` matching a newline too (PromQL's `(?s)`).
  std::shared_ptr<const re2::RE2> regex;

  /// Whether a series whose label `name` has `label_value` ("" when absent) is selected.
  bool Matches(std::string_view label_value) const;
};

/// The optional aggregation around the selector.
enum class Aggregation { kNone, kMin, kMax, kSum, kAvg, kCount };

/// The comparison with the threshold.
enum class Comparison { kLess, kLessEqual, kGreater, kGreaterEqual, kEqual, kNotEqual };

/// A parsed rule expression: `[AGG [by (labels)] (] metric{matchers} [)] OP threshold`.
/// Immutable after parsing; copies share the compiled regexes.
struct RuleExpr {
  std::string text;  ///< the expression as written
  std::string metric;
  std::vector<LabelMatcher> matchers;  ///< in the order written
  Aggregation aggregation = Aggregation::kNone;
  std::vector<std::string> by;  ///< sorted, without duplicates; empty: one group
  Comparison comparison = Comparison::kLess;
  double threshold = 0;
};

/// Parses a rule expression. The grammar, with whitespace allowed between tokens:
///
///   expr      := [agg [by] "("] selector [")" [by]] op number
///   agg       := "min" | "max" | "sum" | "avg" | "count"
///   by        := "by" "(" [label {"," label} [","]] ")"     (before or after the parentheses)
///   selector  := metric ["{" [matcher {"," matcher} [","]] "}"]
///   matcher   := label ("=" | "!=" | "=~" | "!~") string
///   op        := "<" | "<=" | ">" | ">=" | "==" | "!="
///   number    := ["+"|"-"] (decimal float | "Inf")            (case-insensitive Inf; no NaN)
///
/// `metric` is a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), `label` a label name
/// ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__"), `string` a PromQL string: double- or
/// single-quoted with Go escapes (the quote itself, \\ \n \t \xNN \uNNNN ...) or back-quoted and
/// raw (see promql_string.h).
/// Regexes are RE2 (Go syntax), compiled here: an invalid one is an error at its string.
/// An error names what was expected and what was found, at the offending byte.
Parsed<RuleExpr> ParseRuleExpr(std::string_view text);

/// Parses a label matcher set on its own, braces included: `{severity="critical", check=~"db-.*"}`
/// (the routes of the alerting config). Same rules and errors as a selector's matchers.
Parsed<std::vector<LabelMatcher>> ParseLabelMatchers(std::string_view text);

/// Whether every matcher selects `labels` (a label absent from them has the value "").
bool MatchesAll(const std::vector<LabelMatcher>& matchers, const Labels& labels);

/// "<", "<=", ... as written in expressions.
std::string_view ComparisonText(Comparison comparison);
/// "min", "max", ...; "" for kNone.
std::string_view AggregationText(Aggregation aggregation);

}  // namespace sre::alerting
