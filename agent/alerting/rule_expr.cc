#include "agent/alerting/rule_expr.h"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <optional>
#include <utility>

#include "agent/alerting/promql_string.h"

namespace sre::alerting {
namespace {

constexpr std::string_view kAggregations = "min, max, sum, avg, count";
constexpr std::string_view kComparisons = "<, <=, >, >=, ==, !=";
constexpr std::string_view kMatchOps = "=, !=, =~, !~";

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsLabelChar(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsMetricChar(char c) { return IsLabelChar(c) || c == ':'; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);  // ASCII letters only: callers compare words
         });
}

std::optional<Aggregation> AggregationNamed(std::string_view word) {
  static constexpr std::array<std::pair<std::string_view, Aggregation>, 5> kNames = {{
      {"min", Aggregation::kMin},
      {"max", Aggregation::kMax},
      {"sum", Aggregation::kSum},
      {"avg", Aggregation::kAvg},
      {"count", Aggregation::kCount},
  }};
  for (const auto& [name, aggregation] : kNames) {
    if (word == name) return aggregation;
  }
  return std::nullopt;
}

/// Recursive descent over the text; every error comes back as a SyntaxError, never as an
/// exception.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Parsed<RuleExpr> Parse() {
    RuleExpr expr;
    expr.text = std::string(text_);
    if (auto error = ParseExpr(expr)) return std::move(*error);
    return expr;
  }

  Parsed<std::vector<LabelMatcher>> ParseMatcherSet() {
    RuleExpr expr;
    SkipSpace();
    if (Peek() != '{')
      return SyntaxError{pos_, "expected { to open the label matchers, got " + Found(pos_)};
    if (auto error = ParseMatchers(expr)) return std::move(*error);
    if (!AtEnd()) return SyntaxError{pos_, "expected the end after }, got " + Found(pos_)};
    return std::move(expr.matchers);
  }

 private:
  using Error = std::optional<SyntaxError>;

  Error Fail(size_t offset, std::string message) const {
    return SyntaxError{offset, std::move(message)};
  }

  void SkipSpace() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }

  /// What is at `offset`, for "got ...": the word or symbol run there, quoted, or "end of
  /// expression".
  std::string Found(size_t offset) const {
    if (offset >= text_.size()) return "end of expression";
    size_t end = offset;
    if (IsMetricChar(text_[offset]) || text_[offset] == '.') {
      while (end < text_.size() && (IsMetricChar(text_[end]) || text_[end] == '.')) ++end;
    } else {
      while (end < text_.size() && !IsSpace(text_[end]) && !IsMetricChar(text_[end]) &&
             end - offset < 2) {
        ++end;
      }
    }
    constexpr size_t kMax = 24;
    std::string found = QuoteForMessage(text_.substr(offset, std::min(end - offset, kMax)));
    if (end - offset > kMax) found.insert(found.size() - 1, "...");
    return found;
  }

  std::string_view Word(bool (*is_char)(char)) {
    const size_t start = pos_;
    if (AtEnd() || IsDigit(text_[pos_]) || !is_char(text_[pos_])) return {};
    while (pos_ < text_.size() && is_char(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  Error ParseExpr(RuleExpr& expr) {
    SkipSpace();
    const size_t start = pos_;
    const std::string_view word = Word(IsMetricChar);
    if (word.empty()) {
      return Fail(start, "expected a metric name or an aggregation (" + std::string(kAggregations) +
                             "), got " + Found(start));
    }
    SkipSpace();
    const auto aggregation = AggregationNamed(word);
    // `sum > 1` and `count{x="y"} > 1` select metrics named so; anything else after an
    // aggregation's name is read as the aggregation.
    const bool is_aggregation = aggregation && !AtEnd() && Peek() != '{' && Peek() != '<' &&
                                Peek() != '>' && Peek() != '=' && Peek() != '!';
    if (is_aggregation) {
      expr.aggregation = *aggregation;
      if (auto error = ParseAggregation(expr, word)) return error;
    } else {
      if (Peek() == '(') {
        return Fail(pos_, "functions are not supported: \"" + std::string(word) +
                              "\" is read as a metric name; the only aggregations are " +
                              std::string(kAggregations));
      }
      expr.metric = std::string(word);
      if (auto error = ParseMatchers(expr)) return error;
    }
    if (auto error = ParseComparison(expr, is_aggregation ? "the aggregation" : "the selector")) {
      return error;
    }
    if (auto error = ParseThreshold(expr)) return error;
    SkipSpace();
    const std::string_view rest = text_.substr(pos_);
    const std::string_view next_word =
        rest.substr(0, std::find_if_not(rest.begin(), rest.end(), IsLabelChar) - rest.begin());
    if (next_word == "for" || next_word == "keep_firing_for") {
      return Fail(pos_, "unexpected " + Found(pos_) +
                            " after the threshold: for and keep_firing_for are keys of the rule, "
                            "not part of its expression");
    }
    if (!AtEnd()) {
      return Fail(pos_, "unexpected " + Found(pos_) +
                            " after the threshold: a rule is one selector or aggregation compared "
                            "with one number");
    }
    return std::nullopt;
  }

  Error ParseAggregation(RuleExpr& expr, std::string_view name) {
    bool has_by = false;
    if (auto error = ParseGrouping(expr, name, has_by)) return error;
    if (Peek() != '(') {
      return Fail(pos_, "expected ( after " + std::string(name) +
                            (has_by ? " by (...)" : " (or by (...))") + ", got " + Found(pos_));
    }
    ++pos_;
    SkipSpace();
    const size_t metric_at = pos_;
    const std::string_view metric = Word(IsMetricChar);
    if (metric.empty()) {
      return Fail(metric_at, "expected a metric name inside " + std::string(name) + "(...), got " +
                                 Found(metric_at));
    }
    SkipSpace();
    if (Peek() == '(' || AggregationNamed(metric)) {
      return Fail(metric_at, "expected a metric name inside " + std::string(name) +
                                 "(...): nested aggregations and functions are not supported");
    }
    expr.metric = std::string(metric);
    if (auto error = ParseMatchers(expr)) return error;
    if (Peek() != ')') {
      return Fail(pos_, "expected ) after the selector in " + std::string(name) + "(...), got " +
                            Found(pos_));
    }
    ++pos_;
    SkipSpace();
    const size_t trailing_at = pos_;
    bool trailing_by = false;
    if (auto error = ParseGrouping(expr, name, trailing_by)) return error;
    if (has_by && trailing_by) {
      return Fail(trailing_at, "by (...) given twice: once before and once after the parentheses");
    }
    std::sort(expr.by.begin(), expr.by.end());
    expr.by.erase(std::unique(expr.by.begin(), expr.by.end()), expr.by.end());
    return std::nullopt;
  }

  /// An optional `by (l1, l2, ...)`; `without` is refused with a pointer to `by`.
  Error ParseGrouping(RuleExpr& expr, std::string_view name, bool& present) {
    const size_t at = pos_;
    const std::string_view word = Word(IsLabelChar);
    if (word == "without") {
      return Fail(at, "without (...) is not supported: list the labels to keep with by (...)");
    }
    if (word != "by") {
      pos_ = at;
      return std::nullopt;
    }
    present = true;
    SkipSpace();
    if (Peek() != '(') {
      return Fail(pos_, "expected ( and a list of label names after " + std::string(name) +
                            " by, got " + Found(pos_));
    }
    ++pos_;
    SkipSpace();
    while (Peek() != ')') {
      const size_t label_at = pos_;
      const std::string_view label = Word(IsLabelChar);
      if (label.empty()) {
        return Fail(label_at, "expected a label name or ) in by (...), got " + Found(label_at));
      }
      if (label.starts_with("__")) {
        return Fail(label_at, "label names starting with __ are reserved");
      }
      expr.by.emplace_back(label);
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        SkipSpace();
      } else if (Peek() != ')') {
        return Fail(pos_, "expected , or ) in by (...), got " + Found(pos_));
      }
    }
    ++pos_;
    SkipSpace();
    return std::nullopt;
  }

  Error ParseMatchers(RuleExpr& expr) {
    SkipSpace();
    if (Peek() != '{') return std::nullopt;
    ++pos_;
    SkipSpace();
    while (Peek() != '}') {
      const size_t label_at = pos_;
      LabelMatcher matcher;
      matcher.name = std::string(Word(IsLabelChar));
      if (matcher.name.empty()) {
        return Fail(label_at, "expected a label name or } in the selector, got " + Found(label_at));
      }
      if (matcher.name.starts_with("__")) {
        return Fail(label_at,
                    "label names starting with __ are reserved; put the metric name "
                    "before the braces");
      }
      SkipSpace();
      const size_t op_at = pos_;
      if (Peek() == '=' && Peek(1) == '~') {
        matcher.op = MatchOp::kRegexMatch;
        pos_ += 2;
      } else if (Peek() == '!' && Peek(1) == '~') {
        matcher.op = MatchOp::kRegexNoMatch;
        pos_ += 2;
      } else if (Peek() == '!' && Peek(1) == '=') {
        matcher.op = MatchOp::kNotEqual;
        pos_ += 2;
      } else if (Peek() == '=' && Peek(1) != '=') {
        matcher.op = MatchOp::kEqual;
        pos_ += 1;
      } else {
        return Fail(op_at, "expected a label matcher (" + std::string(kMatchOps) + ") after \"" +
                               matcher.name + "\", got " + Found(op_at));
      }
      SkipSpace();
      const size_t value_at = pos_;
      const char quote = Peek();
      if (quote != '"' && quote != '\'' && quote != '`') {
        return Fail(pos_, "expected a quoted label value (\"...\"), got " + Found(pos_));
      }
      if (auto error = ReadStringLiteral(text_, pos_, matcher.value)) return error;
      if (matcher.op == MatchOp::kRegexMatch || matcher.op == MatchOp::kRegexNoMatch) {
        RE2::Options options;
        options.set_log_errors(false);
        options.set_dot_nl(true);  // PromQL compiles "^(?s:" + pattern + ")$"
        auto regex = std::make_shared<const re2::RE2>(matcher.value, options);
        if (!regex->ok()) {
          return Fail(value_at, "invalid regex for \"" + matcher.name + "\": " + regex->error());
        }
        matcher.regex = std::move(regex);
      }
      expr.matchers.push_back(std::move(matcher));
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        SkipSpace();
      } else if (Peek() != '}') {
        return Fail(pos_, "expected , or } after a label matcher, got " + Found(pos_));
      }
    }
    ++pos_;
    SkipSpace();
    return std::nullopt;
  }

  Error ParseComparison(RuleExpr& expr, std::string_view after) {
    SkipSpace();
    const size_t at = pos_;
    const char c0 = Peek();
    const char c1 = Peek(1);
    if (c0 == '<') {
      expr.comparison = c1 == '=' ? Comparison::kLessEqual : Comparison::kLess;
    } else if (c0 == '>') {
      expr.comparison = c1 == '=' ? Comparison::kGreaterEqual : Comparison::kGreater;
    } else if (c0 == '=' && c1 == '=') {
      expr.comparison = Comparison::kEqual;
    } else if (c0 == '!' && c1 == '=') {
      expr.comparison = Comparison::kNotEqual;
    } else {
      std::string message = "expected a comparison (" + std::string(kComparisons) + ") after " +
                            std::string(after) + ", got " + Found(at);
      if (c0 == '=') message += " (equality is ==)";
      return Fail(at, std::move(message));
    }
    pos_ += ComparisonText(expr.comparison).size();
    if (Peek() == '<' || Peek() == '>' || Peek() == '=') {
      return Fail(at,
                  "expected a comparison (" + std::string(kComparisons) + "), got " + Found(at));
    }
    return std::nullopt;
  }

  Error ParseThreshold(RuleExpr& expr) {
    SkipSpace();
    const size_t at = pos_;
    const std::string after = "after " + std::string(ComparisonText(expr.comparison));
    bool negative = false;
    if (Peek() == '+' || Peek() == '-') {
      negative = Peek() == '-';
      ++pos_;
      SkipSpace();  // PromQL reads a sign as a unary operator: "- 1" is -1
    }
    const size_t digits_at = pos_;
    if (IsAlpha(Peek())) {
      const std::string_view word = Word(IsLabelChar);
      if (EqualsIgnoreCase(word, "inf")) {
        expr.threshold = negative ? -std::numeric_limits<double>::infinity()
                                  : std::numeric_limits<double>::infinity();
        return std::nullopt;
      }
      if (EqualsIgnoreCase(word, "nan")) {
        return Fail(at,
                    "NaN is not a threshold: every comparison with NaN is false, except != "
                    "which is always true");
      }
      return Fail(at, "expected a number " + after + ", got " + Found(digits_at) +
                          ": a rule compares with a constant");
    }
    // decimal: digits [. digits] [e [+-] digits], or . digits [...]
    size_t end = pos_;
    size_t mantissa_digits = 0;
    while (end < text_.size() && IsDigit(text_[end])) ++end, ++mantissa_digits;
    if (end < text_.size() && text_[end] == '.') {
      ++end;
      while (end < text_.size() && IsDigit(text_[end])) ++end, ++mantissa_digits;
    }
    if (mantissa_digits == 0) return Fail(at, "expected a number " + after + ", got " + Found(at));
    if (end < text_.size() && (text_[end] == 'e' || text_[end] == 'E')) {
      size_t exponent = end + 1;
      if (exponent < text_.size() && (text_[exponent] == '+' || text_[exponent] == '-')) {
        ++exponent;
      }
      if (exponent >= text_.size() || !IsDigit(text_[exponent])) {
        return Fail(end, "expected the digits of an exponent, got " + Found(exponent));
      }
      while (exponent < text_.size() && IsDigit(text_[exponent])) ++exponent;
      end = exponent;
    }
    double value = 0;
    const auto [ptr, ec] = std::from_chars(text_.data() + pos_, text_.data() + end, value);
    if (ec == std::errc::result_out_of_range) {
      return Fail(at, "number out of range: " + std::string(text_.substr(at, end - at)));
    }
    if (ec != std::errc() || ptr != text_.data() + end) {
      return Fail(at, "expected a number " + after + ", got " + Found(at));
    }
    if (end < text_.size() && (IsMetricChar(text_[end]) || text_[end] == '.')) {
      return Fail(at, "expected a number " + after + ", got " + Found(at) +
                          " (decimal only: no hex, durations or units)");
    }
    pos_ = end;
    expr.threshold = negative ? -value : value;
    return std::nullopt;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

bool LabelMatcher::Matches(std::string_view label_value) const {
  switch (op) {
    case MatchOp::kEqual:
      return label_value == value;
    case MatchOp::kNotEqual:
      return label_value != value;
    case MatchOp::kRegexMatch:
      return RE2::FullMatch(label_value, *regex);
    case MatchOp::kRegexNoMatch:
      return !RE2::FullMatch(label_value, *regex);
  }
  return false;
}

Parsed<RuleExpr> ParseRuleExpr(std::string_view text) { return Parser(text).Parse(); }

Parsed<std::vector<LabelMatcher>> ParseLabelMatchers(std::string_view text) {
  return Parser(text).ParseMatcherSet();
}

bool MatchesAll(const std::vector<LabelMatcher>& matchers, const Labels& labels) {
  for (const LabelMatcher& matcher : matchers) {
    std::string_view value;
    for (const auto& label : labels) {
      if (label.name == matcher.name) value = label.value;
    }
    if (!matcher.Matches(value)) return false;
  }
  return true;
}

std::string_view ComparisonText(Comparison comparison) {
  switch (comparison) {
    case Comparison::kLess:
      return "<";
    case Comparison::kLessEqual:
      return "<=";
    case Comparison::kGreater:
      return ">";
    case Comparison::kGreaterEqual:
      return ">=";
    case Comparison::kEqual:
      return "==";
    case Comparison::kNotEqual:
      return "!=";
  }
  return "?";
}

std::string_view AggregationText(Aggregation aggregation) {
  switch (aggregation) {
    case Aggregation::kNone:
      return "";
    case Aggregation::kMin:
      return "min";
    case Aggregation::kMax:
      return "max";
    case Aggregation::kSum:
      return "sum";
    case Aggregation::kAvg:
      return "avg";
    case Aggregation::kCount:
      return "count";
  }
  return "";
}

}  // namespace sre::alerting
