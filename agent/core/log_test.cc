#include "agent/core/log.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace sre {
namespace {

class LogTest : public ::testing::Test {
 protected:
  LogTest() : out_(tmpfile()) {}
  ~LogTest() override { fclose(out_); }

  std::string Written() {
    fflush(out_);
    rewind(out_);
    std::string text;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, out_)) > 0) text.append(buffer, n);
    return text;
  }

  FakeClock clock_;
  std::FILE* out_;
};

TEST_F(LogTest, LogfmtQuotesValuesThatNeedIt) {
  Logger log(LogLevel::kInfo, LogFormat::kLogfmt, out_, clock_);
  log.Info("check failed", {{"check", "db"}, {"error", "connect: \"refused\""}});
  const std::string line = Written();
  EXPECT_NE(
      line.find(" level=info msg=\"check failed\" check=db error=\"connect: \\\"refused\\\"\"\n"),
      std::string::npos)
      << line;
  EXPECT_EQ(line.rfind("ts=", 0), 0u);
}

TEST_F(LogTest, JsonIsOneObjectPerLine) {
  Logger log(LogLevel::kInfo, LogFormat::kJson, out_, clock_);
  log.Warn("slow", {{"check", "db"}});
  const std::string line = Written();
  EXPECT_NE(line.find("\"level\":\"warn\",\"msg\":\"slow\",\"check\":\"db\"}\n"), std::string::npos)
      << line;
}

TEST_F(LogTest, LevelFilters) {
  Logger log(LogLevel::kWarn, LogFormat::kLogfmt, out_, clock_);
  log.Info("hidden");
  log.Debug("hidden");
  EXPECT_EQ(Written(), "");
}

TEST_F(LogTest, RepeatedWarningsAreHeldBackAndCounted) {
  Logger log(LogLevel::kInfo, LogFormat::kLogfmt, out_, clock_, std::chrono::seconds(60));
  for (int i = 0; i < 5; ++i) log.WarnLimited("check failed", {{"check", "db"}});
  log.WarnLimited("check failed", {{"check", "other"}});  // different fields: its own line
  EXPECT_EQ(log.suppressed_total(), 4u);
  clock_.Advance(std::chrono::seconds(61));
  log.WarnLimited("check failed", {{"check", "db"}});
  const std::string text = Written();
  size_t lines = 0;
  for (char c : text) lines += c == '\n';
  EXPECT_EQ(lines, 3u) << text;
  EXPECT_NE(text.find("check=db repeated=4\n"), std::string::npos) << text;
}

TEST_F(LogTest, ADifferentErrorTextIsStillTheSameProblem) {
  // A peer that sends random bytes makes a new error text every run.
  Logger log(LogLevel::kInfo, LogFormat::kLogfmt, out_, clock_, std::chrono::seconds(60));
  for (int i = 0; i < 5; ++i) {
    log.WarnLimited("check failed",
                    {{"check", "fpm"}, {"error", "bad version " + std::to_string(i)}});
  }
  EXPECT_EQ(log.suppressed_total(), 4u);
  clock_.Advance(std::chrono::seconds(61));
  log.WarnLimited("check failed", {{"check", "fpm"}, {"error", "bad version 9"}});
  const std::string text = Written();
  EXPECT_NE(text.find("error=\"bad version 0\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("error=\"bad version 9\" repeated=4\n"), std::string::npos) << text;
}

TEST(LogParseTest, LevelsAndFormats) {
  EXPECT_EQ(ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(ParseLogLevel("loud"), std::nullopt);
  EXPECT_EQ(ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(ParseLogFormat("xml"), std::nullopt);
}

}  // namespace
}  // namespace sre
