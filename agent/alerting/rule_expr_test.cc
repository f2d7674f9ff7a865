#include "agent/alerting/rule_expr.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace sre::alerting {
namespace {

RuleExpr MustParse(std::string_view text) {
  auto parsed = ParseRuleExpr(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << (parsed.ok() ? "" : parsed.error().message);
  return parsed.ok() ? parsed.value() : RuleExpr{};
}

/// The error of parsing `text`, as "offset: message".
std::string ErrorOf(std::string_view text) {
  auto parsed = ParseRuleExpr(text);
  if (parsed.ok()) return "parsed";
  return std::to_string(parsed.error().offset) + ": " + parsed.error().message;
}

TEST(ParseRuleExprTest, PlainSelector) {
  const RuleExpr expr = MustParse("probe_success{check=\"web\"} < 1");
  EXPECT_EQ(expr.text, "probe_success{check=\"web\"} < 1");
  EXPECT_EQ(expr.metric, "probe_success");
  ASSERT_EQ(expr.matchers.size(), 1u);
  EXPECT_EQ(expr.matchers[0].name, "check");
  EXPECT_EQ(expr.matchers[0].op, MatchOp::kEqual);
  EXPECT_EQ(expr.matchers[0].value, "web");
  EXPECT_EQ(expr.aggregation, Aggregation::kNone);
  EXPECT_EQ(expr.comparison, Comparison::kLess);
  EXPECT_EQ(expr.threshold, 1);
}

TEST(ParseRuleExprTest, TheIssueExamples) {
  EXPECT_EQ(MustParse("phpfpm_listen_queue > 10").threshold, 10);
  const RuleExpr queue = MustParse("postfix_showq_queue_depth{queue=\"deferred\"} > 500");
  EXPECT_EQ(queue.matchers[0].value, "deferred");
  const RuleExpr min = MustParse("min by (target) (probe_success) < 1");
  EXPECT_EQ(min.aggregation, Aggregation::kMin);
  EXPECT_EQ(min.by, std::vector<std::string>{"target"});
  EXPECT_EQ(min.metric, "probe_success");
}

TEST(ParseRuleExprTest, EveryComparison) {
  const std::pair<const char*, Comparison> cases[] = {
      {"x < 1", Comparison::kLess},     {"x <= 1", Comparison::kLessEqual},
      {"x > 1", Comparison::kGreater},  {"x >= 1", Comparison::kGreaterEqual},
      {"x == 1", Comparison::kEqual},   {"x != 1", Comparison::kNotEqual},
      {"x<1", Comparison::kLess},       {"x>=1", Comparison::kGreaterEqual},
      {"x{}!=1", Comparison::kNotEqual}};
  for (const auto& [text, comparison] : cases) {
    EXPECT_EQ(MustParse(text).comparison, comparison) << text;
  }
}

TEST(ParseRuleExprTest, EveryMatcher) {
  const RuleExpr expr =
      MustParse("up{a=\"1\", b!=\"2\", c=~\"3|4\", d!~'5.*',}\n\t>= 0");  // trailing comma
  ASSERT_EQ(expr.matchers.size(), 4u);
  EXPECT_EQ(expr.matchers[0].op, MatchOp::kEqual);
  EXPECT_EQ(expr.matchers[1].op, MatchOp::kNotEqual);
  EXPECT_EQ(expr.matchers[2].op, MatchOp::kRegexMatch);
  EXPECT_EQ(expr.matchers[3].op, MatchOp::kRegexNoMatch);
  EXPECT_EQ(expr.matchers[3].value, "5.*");
  EXPECT_NE(expr.matchers[2].regex, nullptr);
  EXPECT_EQ(expr.matchers[0].regex, nullptr);
}

TEST(ParseRuleExprTest, MetricNamesWithColonsAndAggregationWords) {
  EXPECT_EQ(MustParse("job:http_errors:rate5m > 0.1").metric, "job:http_errors:rate5m");
  // An aggregation's name followed by a comparison or braces is a metric of that name.
  EXPECT_EQ(MustParse("count > 1").metric, "count");
  EXPECT_EQ(MustParse("sum{a=\"b\"} > 1").metric, "sum");
  EXPECT_EQ(MustParse("by > 1").metric, "by");
}

TEST(ParseRuleExprTest, Aggregations) {
  const std::pair<const char*, Aggregation> cases[] = {{"min(x) < 1", Aggregation::kMin},
                                                       {"max(x) < 1", Aggregation::kMax},
                                                       {"sum(x) < 1", Aggregation::kSum},
                                                       {"avg(x) < 1", Aggregation::kAvg},
                                                       {"count(x) < 1", Aggregation::kCount}};
  for (const auto& [text, aggregation] : cases) {
    const RuleExpr expr = MustParse(text);
    EXPECT_EQ(expr.aggregation, aggregation) << text;
    EXPECT_TRUE(expr.by.empty());
  }
  // `by` before or after, sorted and deduplicated, trailing comma, empty list.
  EXPECT_EQ(MustParse("sum by (target, check, target,) (x{a=\"b\"}) > 1").by,
            (std::vector<std::string>{"check", "target"}));
  EXPECT_EQ(MustParse("sum(x) by (target) > 1").by, std::vector<std::string>{"target"});
  EXPECT_EQ(MustParse("sum by()(x)>1").by, std::vector<std::string>{});
  EXPECT_EQ(MustParse("  avg ( x { a = \"b\" } )  by ( c )  <  2  ").by,
            std::vector<std::string>{"c"});
}

TEST(ParseRuleExprTest, Numbers) {
  const std::pair<const char*, double> cases[] = {
      {"x > 1", 1},  {"x > -1", -1},    {"x > +2.5", 2.5},   {"x > .5", 0.5},
      {"x > 5.", 5}, {"x > 1e3", 1000}, {"x > 1E-3", 0.001}, {"x > 1.5e+2", 150},
      {"x > 0", 0},  {"x > 007", 7},    {"x > - 3", -3}};
  for (const auto& [text, value] : cases) EXPECT_EQ(MustParse(text).threshold, value) << text;
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(MustParse("x < Inf").threshold, inf);
  EXPECT_EQ(MustParse("x < +inf").threshold, inf);
  EXPECT_EQ(MustParse("x > -INF").threshold, -inf);
}

TEST(ParseRuleExprTest, StringEscapesAsPromQL) {
  EXPECT_EQ(MustParse(R"(x{a="q\"b\\c\nd"} > 1)").matchers[0].value, "q\"b\\c\nd");
  EXPECT_EQ(MustParse(R"(x{a='it\'s'} > 1)").matchers[0].value, "it's");
  EXPECT_EQ(MustParse(R"(x{a="\t\x41\101\u00e9\U0001F600"} > 1)").matchers[0].value,
            "\tAA\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(MustParse("x{a=`raw\\n`} > 1").matchers[0].value, "raw\\n");
  EXPECT_EQ(MustParse(R"(x{a="\\d+"} > 1)").matchers[0].value, "\\d+");
}

TEST(ParseRuleExprTest, ErrorsSayWhereAndWhatWasExpected) {
  const std::pair<const char*, const char*> cases[] = {
      {"",
       "0: expected a metric name or an aggregation (min, max, sum, avg, count), got end of "
       "expression"},
      {"  1 > 2",
       "2: expected a metric name or an aggregation (min, max, sum, avg, count), got "
       "\"1\""},
      {"probe_success{check=\"web\"} 1",
       "27: expected a comparison (<, <=, >, >=, ==, !=) after the selector, got \"1\""},
      {"probe_success",
       "13: expected a comparison (<, <=, >, >=, ==, !=) after the selector, "
       "got end of expression"},
      {"x = 1",
       "2: expected a comparison (<, <=, >, >=, ==, !=) after the selector, got \"=\" "
       "(equality is ==)"},
      {"x << 1", "2: expected a comparison (<, <=, >, >=, ==, !=), got \"<<\""},
      {"sum(x) 1",
       "7: expected a comparison (<, <=, >, >=, ==, !=) after the aggregation, got "
       "\"1\""},
      {"x >", "3: expected a number after >, got end of expression"},
      {"x > abc", "4: expected a number after >, got \"abc\": a rule compares with a constant"},
      {"x > y * 2", "4: expected a number after >, got \"y\": a rule compares with a constant"},
      {"x > NaN",
       "4: NaN is not a threshold: every comparison with NaN is false, except != "
       "which is always true"},
      {"x > 0x10",
       "4: expected a number after >, got \"0x10\" (decimal only: no hex, durations or "
       "units)"},
      {"x > 5m",
       "4: expected a number after >, got \"5m\" (decimal only: no hex, durations or "
       "units)"},
      {"x > 1e", "5: expected the digits of an exponent, got end of expression"},
      {"x > 1e999", "4: number out of range: 1e999"},
      {"x > 1 and y",
       "6: unexpected \"and\" after the threshold: a rule is one selector or "
       "aggregation compared with one number"},
      {"x > 1 for 5m",
       "6: unexpected \"for\" after the threshold: for and keep_firing_for are "
       "keys of the rule, not part of its expression"},
      {"x{", "2: expected a label name or } in the selector, got end of expression"},
      {"x{1a=\"b\"} > 1", "2: expected a label name or } in the selector, got \"1a\""},
      {"x{a} > 1", "3: expected a label matcher (=, !=, =~, !~) after \"a\", got \"}\""},
      {"x{a==\"b\"} > 1", "3: expected a label matcher (=, !=, =~, !~) after \"a\", got \"==\""},
      {"x{a=b} > 1", "4: expected a quoted label value (\"...\"), got \"b\""},
      {"x{a=\"b\" c=\"d\"} > 1", "8: expected , or } after a label matcher, got \"c\""},
      {"x{a=\"b\"", "7: expected , or } after a label matcher, got end of expression"},
      {"x{a=\"b} > 1", "4: unterminated string: no closing \""},
      {"x{a=\"b\nc\"} > 1", "4: unterminated string: no closing \""},
      {"x{a=\"\\q\"} > 1",
       "5: unknown escape sequence \\q (supported: \\a \\b \\f \\n \\r \\t "
       "\\v \\\\ \\\" \\NNN \\xNN \\uNNNN \\UNNNNNNNN)"},
      {"x{a=\"\\", "5: unterminated string: nothing after \\"},
      {"x{a=\"\\x4\"} > 1", "5: invalid escape: expected 2 hexadecimal digits after \\x"},
      {"x{a=\"\\ud800\"} > 1", "5: invalid escape: not a Unicode code point"},
      {"x{a=\"\\400\"} > 1", "5: invalid octal escape: value above \\377"},
      {"x{a=\"\\18\"} > 1", "5: invalid octal escape: expected 3 octal digits after \\"},
      {"x{__name__=\"y\"} > 1",
       "2: label names starting with __ are reserved; put the metric name "
       "before the braces"},
      {"x{a=~\"(\"} > 1", "5: invalid regex for \"a\": missing ): ("},
      {"x{a!~\"[z-a]\"} > 1", "5: invalid regex for \"a\": invalid character class range: z-a"},
      {"rate(x[5m]) > 1",
       "4: functions are not supported: \"rate\" is read as a metric name; the "
       "only aggregations are min, max, sum, avg, count"},
      {"sum x > 1", "4: expected ( after sum (or by (...)), got \"x\""},
      {"sum by target (x) > 1",
       "7: expected ( and a list of label names after sum by, got "
       "\"target\""},
      {"sum by (a b) (x) > 1", "10: expected , or ) in by (...), got \"b\""},
      {"sum by (1) (x) > 1", "8: expected a label name or ) in by (...), got \"1\""},
      {"sum by (__name__) (x) > 1", "8: label names starting with __ are reserved"},
      {"sum by (a) x > 1", "11: expected ( after sum by (...), got \"x\""},
      {"avg without (a) (x) > 1",
       "4: without (...) is not supported: list the labels to keep with by (...)"},
      {"sum() > 1", "4: expected a metric name inside sum(...), got \")\""},
      {"sum(max(x)) > 1",
       "4: expected a metric name inside sum(...): nested aggregations and "
       "functions are not supported"},
      {"sum(x > 1", "6: expected ) after the selector in sum(...), got \">\""},
      {"sum by (a) (x) by (b) > 1",
       "15: by (...) given twice: once before and once after the parentheses"},
  };
  for (const auto& [text, error] : cases) EXPECT_EQ(ErrorOf(text), error) << text;
}

TEST(ParseRuleExprTest, LongTokensAreCutInMessages) {
  EXPECT_EQ(ErrorOf("x > abcdefghijklmnopqrstuvwxyz0123"),
            "4: expected a number after >, got \"abcdefghijklmnopqrstuvwx...\": a rule compares "
            "with a constant");
}

TEST(LabelMatcherTest, RegexesAreAnchoredAtBothEnds) {
  const RuleExpr expr = MustParse("x{a=~\"web|db\", b!~\"tmp.*\", c=~\".*\"} > 1");
  const LabelMatcher& a = expr.matchers[0];
  EXPECT_TRUE(a.Matches("web"));
  EXPECT_TRUE(a.Matches("db"));
  EXPECT_FALSE(a.Matches("webserver"));  // not a substring match
  EXPECT_FALSE(a.Matches("my-db"));
  EXPECT_FALSE(a.Matches(""));
  const LabelMatcher& b = expr.matchers[1];
  EXPECT_FALSE(b.Matches("tmp1"));
  EXPECT_TRUE(b.Matches("x-tmp1"));
  EXPECT_TRUE(b.Matches(""));
  const LabelMatcher& c = expr.matchers[2];
  EXPECT_TRUE(c.Matches(""));             // an absent label matches .*
  EXPECT_TRUE(c.Matches("multi\nline"));  // `.` matches a newline, as PromQL's (?s)
}

TEST(LabelMatcherTest, EmptyValueMeansAbsent) {
  const RuleExpr expr = MustParse("x{a=\"\", b!=\"\"} > 1");
  EXPECT_TRUE(expr.matchers[0].Matches(""));
  EXPECT_FALSE(expr.matchers[0].Matches("v"));
  EXPECT_FALSE(expr.matchers[1].Matches(""));
  EXPECT_TRUE(expr.matchers[1].Matches("v"));
}

TEST(ParseRuleExprTest, CopiesShareTheCompiledRegex) {
  const RuleExpr expr = MustParse("x{a=~\"b+\"} > 1");
  const RuleExpr copy = expr;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(copy.matchers[0].regex, expr.matchers[0].regex);
  EXPECT_TRUE(copy.matchers[0].Matches("bbb"));
}

TEST(ParseRuleExprTest, Texts) {
  EXPECT_EQ(ComparisonText(Comparison::kGreaterEqual), ">=");
  EXPECT_EQ(AggregationText(Aggregation::kCount), "count");
  EXPECT_EQ(AggregationText(Aggregation::kNone), "");
}

}  // namespace
}  // namespace sre::alerting
