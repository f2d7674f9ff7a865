#pragma once

#include <prometheus/metric_family.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/alerting/rule_expr.h"
#include "agent/core/metric_set.h"

namespace sre::alerting {

/// One series as a rule sees it: its labels (the metric name is not among them), in the order
/// the exporter gave them, and its current value.
struct Sample {
  const Labels* labels = nullptr;
  double value = 0;
};

/// The current samples of every source, looked up by metric name: built once per evaluation
/// round from the families the checks' latest runs produced, then shared by every rule.
///
/// What is indexed, under which name:
/// - counter, gauge, untyped: the family's name (a counter as named, e.g. `..._total`);
/// - histogram and summary: `<name>_count` and `<name>_sum`, with the series' labels. Buckets
///   (`_bucket{le=...}`) and quantiles are not indexed: without rate() or histogram_quantile()
///   they make poor thresholds, and expanding them would cost a label set per bucket.
///
/// It holds pointers into the families it was given, which must stay alive and unchanged until
/// Clear(). Not thread-safe; one owner (the loop thread).
class SampleIndex {
 public:
  /// Adds every sample of `families` (one source's families, or several).
  void Add(const std::vector<prometheus::MetricFamily>& families);
  /// Forgets every sample, keeping the memory for the next round.
  void Clear();
  /// The samples of `metric`, in the order they were added; empty when none.
  const std::vector<Sample>& Find(std::string_view metric) const;
  /// How many samples were added since the last Clear().
  size_t size() const { return size_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::vector<Sample>& Slot(std::string_view metric);

  // Names stay after Clear() with empty vectors: the set of names a config produces is fixed.
  std::unordered_map<std::string, std::vector<Sample>, Hash, std::equal_to<>> by_name_;
  std::string scratch_;  // "<name>_count" and "<name>_sum" without a new string each time
  size_t size_ = 0;
};

/// One alert the expression yields: its label set and the value that met the threshold.
struct Match {
  /// Sorted by name; labels with an empty value left out (in Prometheus an empty label is an
  /// absent one). A plain selector: the series' labels; an aggregation: the `by` labels the
  /// group has.
  Labels labels;
  double value = 0;
};

/// Evaluates `expr` over the indexed samples, as Prometheus would for an alerting rule at one
/// instant: the selector picks the samples of `expr.metric` whose labels satisfy every matcher;
/// an aggregation groups them by the `by` labels (no `by`: one group) and computes min, max,
/// sum, avg or count exactly as PromQL does (sum and avg with its Kahan-Neumaier compensation,
/// min and max skipping NaN unless all are NaN); then the comparison keeps the samples or
/// groups whose value compares true with the threshold (IEEE: NaN compares false, except that
/// NaN != x holds, as in PromQL). No samples, no matches: a rule whose metric is absent never
/// fires. The result is sorted by label set with no two alike: when two sources export the same
/// series, the first added that matches is kept. Never throws; allocates only for matches and
/// scratch.
std::vector<Match> Evaluate(const RuleExpr& expr, const SampleIndex& index);

/// Whether `value` compares true with the threshold, as PromQL's filter does. Inline: it runs
/// once per selected sample.
inline bool Compare(Comparison comparison, double value, double threshold) {
  switch (comparison) {
    case Comparison::kLess:
      return value < threshold;
    case Comparison::kLessEqual:
      return value <= threshold;
    case Comparison::kGreater:
      return value > threshold;
    case Comparison::kGreaterEqual:
      return value >= threshold;
    case Comparison::kEqual:
      return value == threshold;
    case Comparison::kNotEqual:
      return value != threshold;
  }
  return false;
}

}  // namespace sre::alerting
