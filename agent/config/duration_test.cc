#include "agent/config/duration.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <random>

namespace sre::config {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

Duration MustParse(std::string_view text) {
  Result<Duration> d = ParseDuration(text);
  EXPECT_TRUE(d.ok()) << text << ": " << d.status().message();
  return d.ok() ? *d : Duration(-1);
}

std::string ParseError(std::string_view text) {
  Result<Duration> d = ParseDuration(text);
  EXPECT_FALSE(d.ok()) << text << " parsed as " << (d.ok() ? d->count() : 0) << "ns";
  return d.status().message();
}

TEST(ParseDurationTest, ParsesEveryUnit) {
  EXPECT_EQ(MustParse("0"), Duration(0));
  EXPECT_EQ(MustParse("0s"), Duration(0));
  EXPECT_EQ(MustParse("7ns"), nanoseconds(7));
  EXPECT_EQ(MustParse("7us"), microseconds(7));
  EXPECT_EQ(MustParse("250ms"), milliseconds(250));
  EXPECT_EQ(MustParse("15s"), seconds(15));
  EXPECT_EQ(MustParse("5m"), minutes(5));
  EXPECT_EQ(MustParse("1h"), hours(1));
  EXPECT_EQ(MustParse("2d"), days(2));
}

TEST(ParseDurationTest, ParsesCompoundsAndFractions) {
  EXPECT_EQ(MustParse("1m30s"), seconds(90));
  EXPECT_EQ(MustParse("1h2m3s4ms5us6ns"), hours(1) + minutes(2) + seconds(3) + milliseconds(4) +
                                              microseconds(5) + nanoseconds(6));
  EXPECT_EQ(MustParse("1.5s"), milliseconds(1500));
  EXPECT_EQ(MustParse(".5s"), milliseconds(500));
  EXPECT_EQ(MustParse("1.5h30m"), hours(2));
  EXPECT_EQ(MustParse("1m30.25s"), milliseconds(90250));
  EXPECT_EQ(MustParse("0.000000001s"), nanoseconds(1));
  // Below a nanosecond is truncated, as Go's time.ParseDuration does.
  EXPECT_EQ(MustParse("1.9ns"), nanoseconds(1));
  EXPECT_EQ(MustParse("0.1234567891234567891234s"), nanoseconds(123456789));
  EXPECT_EQ(MustParse("007s"), seconds(7));
}

TEST(ParseDurationTest, ParsesTheLimits) {
  EXPECT_EQ(MustParse("9223372036854775807ns"), Duration::max());
  EXPECT_EQ(MustParse("106751d23h47m16.854775807s"), Duration::max());
  EXPECT_EQ(ParseError("9223372036854775808ns"),
            "invalid duration \"9223372036854775808ns\": too large; the maximum is "
            "106751d23h47m16.854775807s");
  EXPECT_EQ(ParseError("106752d"),
            "invalid duration \"106752d\": too large; the maximum is 106751d23h47m16.854775807s");
  EXPECT_EQ(ParseError("106751d23h47m16.854775808s"),
            "invalid duration \"106751d23h47m16.854775808s\": too large; the maximum is "
            "106751d23h47m16.854775807s");
  EXPECT_EQ(ParseError("99999999999999999999999999s"),
            "invalid duration \"99999999999999999999999999s\": too large; the maximum is "
            "106751d23h47m16.854775807s");
}

TEST(ParseDurationTest, RejectsMalformedText) {
  const std::string generic = "expected a number with a unit, like 250ms, 15s or 1m30s";
  EXPECT_EQ(ParseError(""), "invalid duration \"\": " + generic);
  EXPECT_EQ(ParseError("abc"), "invalid duration \"abc\": " + generic);
  EXPECT_EQ(ParseError("s"), "invalid duration \"s\": " + generic);
  EXPECT_EQ(ParseError("."), "invalid duration \".\": " + generic);
  EXPECT_EQ(ParseError(".s"), "invalid duration \".s\": " + generic);
  EXPECT_EQ(ParseError("+5s"), "invalid duration \"+5s\": " + generic);
  EXPECT_EQ(ParseError(" 5s"), "invalid duration \" 5s\": " + generic);
  EXPECT_EQ(ParseError("1m.s"), "invalid duration \"1m.s\": " + generic);
}

TEST(ParseDurationTest, RejectsNegativeMissingAndUnknownUnits) {
  EXPECT_EQ(ParseError("-5s"), "invalid duration \"-5s\": must not be negative");
  EXPECT_EQ(ParseError("-0"), "invalid duration \"-0\": must not be negative");
  EXPECT_EQ(ParseError("15"),
            "invalid duration \"15\": missing unit after the number; valid units: ns, us, ms, s, "
            "m, h, d");
  EXPECT_EQ(ParseError("0.0"),
            "invalid duration \"0.0\": missing unit after the number; valid units: ns, us, ms, "
            "s, m, h, d");
  EXPECT_EQ(ParseError("1m30"),
            "invalid duration \"1m30\": missing unit after the number; valid units: ns, us, ms, "
            "s, m, h, d");
  EXPECT_EQ(ParseError("5x"),
            "invalid duration \"5x\": unknown unit \"x\"; valid units: ns, us, ms, s, m, h, d");
  EXPECT_EQ(ParseError("1w"),
            "invalid duration \"1w\": unknown unit \"w\"; valid units: ns, us, ms, s, m, h, d");
  EXPECT_EQ(ParseError("5 s"),
            "invalid duration \"5 s\": unknown unit \" s\"; valid units: ns, us, ms, s, m, h, d");
  EXPECT_EQ(ParseError("5S"),
            "invalid duration \"5S\": unknown unit \"S\"; valid units: ns, us, ms, s, m, h, d");
}

TEST(ParseDurationTest, RejectsUnitsOutOfOrder) {
  const std::string why = "units must go from largest to smallest, each once, like 1h30m";
  EXPECT_EQ(ParseError("30s1m"), "invalid duration \"30s1m\": " + why);
  EXPECT_EQ(ParseError("1m1m"), "invalid duration \"1m1m\": " + why);
  EXPECT_EQ(ParseError("1ms1s"), "invalid duration \"1ms1s\": " + why);
}

TEST(FormatDurationTest, FormatsShortestExact) {
  EXPECT_EQ(FormatDuration(Duration(0)), "0s");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1.5s");
  EXPECT_EQ(FormatDuration(seconds(90)), "1m30s");
  EXPECT_EQ(FormatDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(FormatDuration(microseconds(1500)), "1.5ms");
  EXPECT_EQ(FormatDuration(nanoseconds(1500)), "1.5us");
  EXPECT_EQ(FormatDuration(nanoseconds(40)), "40ns");
  EXPECT_EQ(FormatDuration(nanoseconds(1000001)), "1.000001ms");
  EXPECT_EQ(FormatDuration(seconds(1)), "1s");
  EXPECT_EQ(FormatDuration(minutes(1)), "1m");
  EXPECT_EQ(FormatDuration(hours(1)), "1h");
  EXPECT_EQ(FormatDuration(hours(1) + seconds(1)), "1h1s");
  EXPECT_EQ(FormatDuration(days(2)), "2d");
  EXPECT_EQ(FormatDuration(days(1) + hours(1)), "1d1h");
  EXPECT_EQ(FormatDuration(minutes(1) + milliseconds(500)), "1m0.5s");
  EXPECT_EQ(FormatDuration(seconds(1) + nanoseconds(1)), "1.000000001s");
  EXPECT_EQ(FormatDuration(Duration::max()), "106751d23h47m16.854775807s");
  EXPECT_EQ(FormatDuration(milliseconds(-1500)), "-1.5s");
  EXPECT_EQ(FormatDuration(Duration::min()), "-106751d23h47m16.854775808s");
}

TEST(FormatDurationTest, RoundTripsThroughParse) {
  std::mt19937_64 random(42);
  for (int i = 0; i < 20000; ++i) {
    // Spread over every magnitude, from nanoseconds to centuries.
    const auto count = static_cast<int64_t>(random() >> (1 + random() % 63));
    const Duration d(count);
    const std::string text = FormatDuration(d);
    Result<Duration> parsed = ParseDuration(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status().message();
    ASSERT_EQ(parsed->count(), count) << text;
  }
}

}  // namespace
}  // namespace sre::config
