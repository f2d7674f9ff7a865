#include "agent/alerting/template.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace sre::alerting {
namespace {

std::string Render(std::string_view text, const Labels& labels, double value) {
  auto tmpl = ParseTemplate(text);
  EXPECT_TRUE(tmpl.ok()) << text << ": " << (tmpl.ok() ? "" : tmpl.error().message);
  return tmpl.ok() ? Expand(tmpl.value(), labels, value) : "";
}

std::string ErrorOf(std::string_view text) {
  auto tmpl = ParseTemplate(text);
  if (tmpl.ok()) return "parsed";
  return std::to_string(tmpl.error().offset) + ": " + tmpl.error().message;
}

TEST(TemplateTest, LabelsValueAndLiteralText) {
  const Labels labels = {{"check", "web"}, {"target", "a:80"}};
  EXPECT_EQ(
      Render("{{ $labels.check }} on {{$labels.target}} is down (value {{ $value }})", labels, 0),
      "web on a:80 is down (value 0)");
  EXPECT_EQ(Render("no actions at all", labels, 1), "no actions at all");
  EXPECT_EQ(Render("", labels, 1), "");
  EXPECT_EQ(Render("{{$value}}{{$value}}", labels, 0.5), "0.50.5");
  EXPECT_EQ(Render("a }} b", labels, 1), "a }} b");  // a lone }} is text, as in Go
  EXPECT_EQ(Render("{{\t$labels.check\n}}", labels, 1), "web");
}

TEST(TemplateTest, MissingLabelPrintsNoValueAsPrometheus) {
  EXPECT_EQ(Render("[{{ $labels.pool }}]", {{"check", "web"}}, 1), "[<no value>]");
}

TEST(TemplateTest, TrimMarkers) {
  const Labels labels = {{"check", "web"}};
  EXPECT_EQ(Render("a \n {{- $labels.check -}} \n b", labels, 1), "awebb");
  EXPECT_EQ(Render("a {{- $value }} b", labels, 1), "a1 b");
  EXPECT_EQ(Render("a {{ $value -}}\n\n b", labels, 1), "a 1b");
}

TEST(TemplateTest, LabelNamesForChecks) {
  auto tmpl = ParseTemplate("{{ $labels.target }} {{ $labels.check }} {{ $labels.target }}");
  ASSERT_TRUE(tmpl.ok());
  EXPECT_EQ(tmpl->label_names(), (std::vector<std::string>{"check", "target"}));
  EXPECT_FALSE(tmpl->is_literal());
  EXPECT_TRUE(ParseTemplate("plain")->is_literal());
}

TEST(TemplateTest, ErrorsSayWhereAndWhatIsSupported) {
  const std::pair<const char*, const char*> cases[] = {
      {"{{ .Labels.check }}",
       "0: unsupported template action {{ .Labels.check }}: supported: {{ $labels.NAME }}, "
       "{{ $value }} and literal text"},
      {"value is {{ $value | humanize }}",
       "9: unsupported template action {{ $value | humanize }}: supported: {{ $labels.NAME }}, "
       "{{ $value }} and literal text"},
      {"x {{ $labels.check",
       "2: unclosed action: \"{{\" without \"}}\" (supported: "
       "{{ $labels.NAME }}, {{ $value }} and literal text)"},
      {"{{ $labels. }}", "0: expected a label name after $labels., got \"\""},
      {"{{ $labels.9x }}", "0: expected a label name after $labels., got \"9x\""},
      {"ok {{ $labels.a-b }}", "3: expected a label name after $labels., got \"a-b\""},
      {"{{ $labels.__name__ }}",
       "0: $labels.__name__ is not available: alerts carry no labels starting with __"},
      {"{{}}",
       "0: unsupported template action {{  }}: supported: {{ $labels.NAME }}, "
       "{{ $value }} and literal text"},
      {"{{-3}}",
       "0: unsupported template action {{ -3 }}: supported: {{ $labels.NAME }}, "
       "{{ $value }} and literal text"},
      {"{{ if $value }}x{{ end }}",
       "0: unsupported template action {{ if $value }}: supported: {{ $labels.NAME }}, "
       "{{ $value }} and literal text"},
  };
  for (const auto& [text, error] : cases) EXPECT_EQ(ErrorOf(text), error) << text;
}

TEST(FormatGoFloatTest, MatchesGoPercentV) {
  // Expected values are what Go's fmt.Sprint(float64) prints.
  const std::pair<double, const char*> cases[] = {
      {0, "0"},
      {-0.0, "-0"},
      {1, "1"},
      {-1, "-1"},
      {0.5, "0.5"},
      {0.1, "0.1"},
      {1.0 / 3, "0.3333333333333333"},
      {2.05, "2.05"},
      {100000, "100000"},
      {999999, "999999"},
      {1e6, "1e+06"},
      {1234567, "1.234567e+06"},
      {12345678, "1.2345678e+07"},
      {0.0001, "0.0001"},
      {0.00012, "0.00012"},
      {0.00001, "1e-05"},
      {1.5e-5, "1.5e-05"},
      {123.456, "123.456"},
      {1e21, "1e+21"},
      {1e100, "1e+100"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {5e-324, "5e-324"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {std::numeric_limits<double>::quiet_NaN(), "NaN"},
  };
  for (const auto& [value, text] : cases) EXPECT_EQ(FormatGoFloat(value), text) << text;
}

}  // namespace
}  // namespace sre::alerting
