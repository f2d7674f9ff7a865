#include "exporters/php_fpm/status.h"

#include <gtest/gtest.h>

#include "exporters/php_fpm/fake_php_fpm.h"

namespace sre::exporters::php_fpm {
namespace {

using fake::Testdata;

TEST(StatusTest, ParsesEveryCapturedStatusPage) {
  for (const char* name : {"www_status_json.body", "www_status_json_full.body",
                           "tcp_status_json.body", "tcp_status_json_full.body",
                           "tcp_status_json_memory_peak.body", "pool50_status_json_full.body"}) {
    const std::string text = Testdata(name);
    ASSERT_FALSE(text.empty()) << name;
    auto status = ParsePoolStatus(text);
    EXPECT_TRUE(status.ok()) << name << ": " << status.status().message();
  }
}

TEST(StatusTest, ReadsPoolCountersAndProcesses) {
  auto status = ParsePoolStatus(Testdata("www_status_json_full.body"));
  ASSERT_TRUE(status.ok()) << status.status().message();
  EXPECT_EQ(status->pool, "www");
  EXPECT_EQ(status->process_manager, "dynamic");
  EXPECT_EQ(status->start_time, 1795815617);
  EXPECT_EQ(status->accepted_conn, 26);
  EXPECT_EQ(status->active_processes, 2);
  EXPECT_EQ(status->total_processes, 2);
  EXPECT_FALSE(status->memory_peak);
  ASSERT_EQ(status->processes.size(), 2u);
  EXPECT_EQ(status->processes[1].pid, 32001);
  EXPECT_EQ(status->processes[1].state, "Running");
  EXPECT_EQ(status->processes[1].request_duration, 525770);
  EXPECT_EQ(status->processes[1].request_uri, "/srv/app/public/slow.php?ms=3000");
  EXPECT_EQ(status->processes[1].script, "/srv/app/public/slow.php");
  EXPECT_EQ(CountByState(status->processes), (std::map<std::string, int64_t>{{"Running", 2}}));
}

TEST(StatusTest, TcpPoolReportsItsListenQueueLengthAndMemoryPeakWhenThere) {
  auto tcp = ParsePoolStatus(Testdata("tcp_status_json.body"));
  ASSERT_TRUE(tcp.ok());
  EXPECT_EQ(tcp->listen_queue_len, 4096);  // a unix-socket pool reports 0 (see README)
  EXPECT_TRUE(tcp->processes.empty());
  auto peak = ParsePoolStatus(Testdata("tcp_status_json_memory_peak.body"));
  ASSERT_TRUE(peak.ok());
  EXPECT_EQ(peak->memory_peak, 2097152);
}

TEST(StatusTest, BadInputIsAnErrorThatSaysWhat) {
  const std::string good = Testdata("tcp_status_json.body");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not JSON"},
      {"<html>busy</html>", "not JSON"},
      {good.substr(0, good.size() / 2), "not JSON"},
      {"[1, 2]", "not a JSON object"},
      {"{\"pool\": \"www\"}", "\"process manager\" is missing"},
      {std::string(good).replace(good.find("\"listen queue\":0"), 16, "\"listen queue\":\"0\""),
       "\"listen queue\" should be an integer, got string"},
      {std::string(good).replace(good.find("\"accepted conn\":26"), 18, "\"accepted conn\":2.5"),
       "\"accepted conn\" should be an integer, got number"},
      {std::string(good).replace(good.size() - 1, 1, ",\"processes\":{}}"),
       "\"processes\" should be an array"},
      {std::string(good).replace(good.size() - 1, 1, ",\"processes\":[{\"pid\":1}]}"),
       "processes[0]: \"state\" is missing"},
      {std::string(100000, '[') + std::string(100000, ']'), "nested too deeply"},
  };
  for (const auto& [text, message] : cases) {
    auto status = ParsePoolStatus(text);
    ASSERT_FALSE(status.ok()) << text.substr(0, 80);
    EXPECT_NE(status.status().message().find(message), std::string::npos)
        << status.status().message();
  }
  EXPECT_FALSE(ParsePoolStatus(good, 10).ok());  // larger than the limit
}

// php bug #62382: a wrapped-around request duration reads as 0, as hipages reads it.
TEST(StatusTest, AnOverflowingRequestDurationReadsAsZero) {
  std::string full = Testdata("tcp_status_json_full.body");
  const std::string reported = "\"request duration\":110";
  full.replace(full.find(reported), reported.size(), "\"request duration\":18446744073709550774");
  auto status = ParsePoolStatus(full);
  ASSERT_TRUE(status.ok()) << status.status().message();
  EXPECT_EQ(status->processes[0].request_duration, 0);
}

}  // namespace
}  // namespace sre::exporters::php_fpm
