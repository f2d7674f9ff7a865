#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/alerting/syntax_error.h"
#include "agent/core/metric_set.h"

namespace sre::alerting {

/// An annotation (or label) template in the subset of Prometheus' Go templates that alerts need:
/// literal text, `{{ $labels.NAME }}` and `{{ $value }}`, with Go's trim markers (`{{- ` drops
/// the whitespace before the action, ` -}}` the whitespace after it). Immutable after parsing,
/// so it may be shared across threads.
class Template {
 public:
  /// The label names the template reads through `$labels`, sorted, without duplicates: the config
  /// layer can refuse a name an aggregation's `by` list does not keep.
  const std::vector<std::string>& label_names() const { return label_names_; }
  /// True when the template is only literal text (nothing to expand).
  bool is_literal() const;

 private:
  friend Parsed<Template> ParseTemplate(std::string_view text);
  friend std::string Expand(const Template& tmpl, const Labels& labels, double value);

  enum class Kind { kText, kLabel, kValue };
  struct Piece {
    Kind kind;
    std::string text;  ///< literal text, or the label name
  };
  std::vector<Piece> pieces_;
  std::vector<std::string> label_names_;
};

/// Parses `text`. A `{{` that does not open one of the supported actions is an error at its
/// offset, saying what is supported; so is a `{{` without its `}}`. A `}}` outside an action is
/// literal text, as in Go.
Parsed<Template> ParseTemplate(std::string_view text);

/// Expands `tmpl` for one alert: `$labels.NAME` is the value of label NAME in `labels` (any
/// order), or `<no value>` when the alert has no such label, as Prometheus prints it;
/// `$value` is `value` formatted by FormatGoFloat. Never throws.
std::string Expand(const Template& tmpl, const Labels& labels, double value);

/// `value` as Go's fmt prints a float64 with %v (strconv.FormatFloat(v, 'g', -1, 64)), which is
/// what `{{ $value }}` shows in Prometheus: the shortest digits that read back to the same
/// double, in exponent form when the decimal exponent is below -4 or at least 6 (0.0001, 0.5,
/// 100000, 1e+06, 1.5e-05, 1.2345678e+07), and NaN, +Inf, -Inf.
std::string FormatGoFloat(double value);

}  // namespace sre::alerting
