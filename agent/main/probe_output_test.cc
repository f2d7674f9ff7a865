#include "agent/main/probe_output.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sre::cli {
namespace {

ProbeReport Report(bool success) {
  ProbeReport report;
  report.exporter = "tcp";
  report.check = "db";
  report.target = "db:3306";
  report.duration = std::chrono::milliseconds(12);
  report.result.success = success;
  report.result.reason = success ? Reason::kNone : Reason::kConnectionRefused;
  report.result.message = success ? "1 of 1 addresses connected" : "10.0.0.1: refused";
  report.result.observations.push_back({"10.0.0.1",
                                        success,
                                        report.result.reason,
                                        success ? "connected" : "refused",
                                        std::chrono::milliseconds(11),
                                        {{"connect_seconds", 0.0105}},
                                        {{"certificate_subject", "CN=db"}}});
  return report;
}

ProbeRuns One(ProbeReport report, ExitCode code) { return {"tcp", {std::move(report)}, {code}}; }

std::string Render(const ProbeReport& report, ExitCode code, OutputFormat format, bool color) {
  return Render(One(report, code), format, color);
}

TEST(ProbeOutputTest, ExitCodesFollowNagios) {
  using std::chrono::milliseconds;
  EXPECT_EQ(Evaluate(Report(true), {}), ExitCode::kOk);
  EXPECT_EQ(Evaluate(Report(false), {}), ExitCode::kCritical);
  EXPECT_EQ(Evaluate(Report(true), {milliseconds(10), std::nullopt}), ExitCode::kWarning);
  EXPECT_EQ(Evaluate(Report(true), {milliseconds(5), milliseconds(10)}), ExitCode::kCritical);
  EXPECT_EQ(Evaluate(Report(true), {milliseconds(50), milliseconds(100)}), ExitCode::kOk);
}

TEST(ProbeOutputTest, TextSaysWhatHappened) {
  const std::string text = Render(Report(false), ExitCode::kCritical, OutputFormat::kText, false);
  EXPECT_EQ(text,
            "CRITICAL tcp db db:3306  12.0 ms  (connection_refused: 10.0.0.1: refused)\n"
            "  10.0.0.1  FAIL    11.0 ms  connection_refused: refused  connect 10.5 ms\n"
            "            certificate_subject: CN=db\n");
}

TEST(ProbeOutputTest, JsonHasTheDocumentedFields) {
  const auto all =
      nlohmann::json::parse(Render(Report(true), ExitCode::kOk, OutputFormat::kJson, false));
  EXPECT_EQ(all["command"], "tcp");
  EXPECT_EQ(all["status"], "OK");
  EXPECT_EQ(all["summary"]["runs"], 1);
  const auto& json = all["results"][0];
  EXPECT_EQ(json["status"], "OK");
  EXPECT_EQ(json["exit_code"], 0);
  EXPECT_EQ(json["check"], "db");
  EXPECT_EQ(json["reason"], "");
  EXPECT_DOUBLE_EQ(json["duration_seconds"].get<double>(), 0.012);
  EXPECT_EQ(json["observations"][0]["subject"], "10.0.0.1");
  EXPECT_DOUBLE_EQ(json["observations"][0]["figures"]["connect_seconds"].get<double>(), 0.0105);
  EXPECT_EQ(json["observations"][0]["details"]["certificate_subject"], "CN=db");
}

TEST(ProbeOutputTest, NagiosHasPerfdata) {
  EXPECT_EQ(
      Render(Report(true), ExitCode::kOk, OutputFormat::kNagios, false),
      "TCP OK - db 1 of 1 addresses connected | time=0.012000s;;;0 '10.0.0.1'=0.011000s;;;0\n");
}

// sre-probe check: failures first, names aligned, a summary; the exit code is the worst.
TEST(ProbeOutputTest, SeveralChecksFailuresFirstAligned) {
  ProbeRuns runs{"check", {Report(true), Report(false)}, {ExitCode::kOk, ExitCode::kCritical}};
  runs.reports[0].check = "writer";
  EXPECT_EQ(Worst(runs.codes), ExitCode::kCritical);
  EXPECT_EQ(Render(runs, OutputFormat::kText, false),
            "CRITICAL tcp db db:3306        12.0 ms  (connection_refused: 10.0.0.1: refused)\n"
            "OK       tcp writer db:3306    12.0 ms  (1 of 1 addresses connected)\n"
            "2 checks: 1 OK, 1 CRITICAL\n");
  EXPECT_EQ(Render(runs, OutputFormat::kNagios, false),
            "SRE-PROBE CRITICAL - 1 of 2 checks OK: db (CRITICAL) | 'writer'=0.012000s;;;0 "
            "'db'=0.012000s;;;0\n");
  const auto json = nlohmann::json::parse(Render(runs, OutputFormat::kJson, false));
  EXPECT_EQ(json["exit_code"], 2);
  EXPECT_EQ(json["results"].size(), 2u);
  EXPECT_EQ(json["summary"]["critical"], 1);
}

// --count: every run in time order, then ping's summary.
TEST(ProbeOutputTest, RepeatedRunsEndWithMinMedianMax) {
  ProbeRuns runs{"tcp",
                 {Report(true), Report(false), Report(true)},
                 {ExitCode::kOk, ExitCode::kCritical, ExitCode::kOk},
                 true};
  runs.reports[2].duration = std::chrono::milliseconds(30);
  const std::string text = Render(runs, OutputFormat::kText, false);
  EXPECT_EQ(text.substr(text.rfind("---")),
            "--- tcp db:3306: 3 runs, 1 failed (33%), min/median/max 12.0/12.0/30.0 ms\n");
  EXPECT_EQ(text.substr(0, 2), "OK");
  const auto json = nlohmann::json::parse(Render(runs, OutputFormat::kJson, false));
  EXPECT_DOUBLE_EQ(json["summary"]["max_seconds"].get<double>(), 0.03);
  EXPECT_EQ(json["summary"]["failures"], 1);
}

TEST(ProbeOutputTest, ParseOutputFormat) {
  EXPECT_TRUE(ParseOutputFormat("json").ok());
  EXPECT_EQ(ParseOutputFormat("yaml").status().message(),
            "invalid --output \"yaml\": expected text, json, prom or nagios");
}

}  // namespace
}  // namespace sre::cli
