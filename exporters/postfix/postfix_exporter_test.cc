#include "exporters/postfix/postfix_exporter.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/support/exporter_harness.h"
#include "tests/support/loopback_servers.h"
#include "tests/support/source_files.h"
#include "tests/support/test_pki.h"

namespace sre::exporters::postfix {
namespace {

using testing::LoopbackServer;

std::string CapturedStream() {
  return testing::ReadSourceFile("exporters/postfix/testdata/showq_raw_small.bin");
}

// showq as Postfix runs it: it lists on connect, then closes.
LoopbackServer::Handler Lists(std::string bytes) {
  return
      [bytes = std::move(bytes)](int fd, LoopbackServer&) { LoopbackServer::WriteAll(fd, bytes); };
}

class PostfixExporterTest : public ::testing::Test, protected testing::ExporterHarness {
 protected:
  PostfixExporterTest() : ExporterHarness(MakePostfixFactory()) {}

  std::unique_ptr<Exporter> MakeFor(const std::string& path) {
    return Make("check: mail\nshowq_path: " + path + "\n");
  }

  std::string Series(const std::string& name, const std::string& queue) const {
    return name + "{check=\"mail\",queue=\"" + queue + "\"}";
  }

  testing::TempDir dir_;
  std::string socket_ = dir_.path() + "/showq";
};

TEST_F(PostfixExporterTest, QueuesFromTheCapturedStream) {
  auto showq = LoopbackServer::OnUnixSocket(Lists(CapturedStream()), socket_);
  auto exporter = MakeFor(socket_);
  const CollectResult result = CollectOnce(*exporter);
  ASSERT_TRUE(result.success) << result.message;
  const std::string text = Text(result);
  // postqueue -j of the same queue (testdata/postqueue_j_small.jsonl): 20 deferred, 2 on hold.
  EXPECT_EQ(Value(text, Series("postfix_showq_queue_depth", "deferred")), 20) << text;
  EXPECT_EQ(Value(text, Series("postfix_showq_queue_depth", "hold")), 2);
  EXPECT_EQ(Value(text, Series("postfix_showq_queue_depth", "maildrop")), 0);
  EXPECT_EQ(Value(text, Series("postfix_showq_message_size_bytes_count", "hold")), 2);
  EXPECT_EQ(Value(text,
                  "postfix_showq_message_age_seconds_bucket{check=\"mail\",queue=\"active\","
                  "le=\"+Inf\"}"),
            0);
  EXPECT_EQ(Value(text, "postfix_up{check=\"mail\",path=\"" + socket_ + "\"}"), 1);
  EXPECT_GT(*Value(text, Series("postfix_showq_oldest_message_age_seconds", "deferred")), 0);
  ASSERT_EQ(result.observations.size(), 5u);
  EXPECT_EQ(result.observations[0].subject, "active");
  EXPECT_EQ(result.observations[0].message, "empty");
  EXPECT_EQ(result.observations[1].figures.at("messages"), 20);
  EXPECT_TRUE(result.observations[1].message.starts_with("oldest "))
      << result.observations[1].message;
}

TEST_F(PostfixExporterTest, FaultsGiveTheirReasons) {
  struct Case {
    std::string what;
    std::unique_ptr<LoopbackServer> server;
    Reason reason;
    std::string words;
  };
  const std::string stream = CapturedStream();
  std::vector<Case> cases;
  cases.push_back({"missing", nullptr, Reason::kNotPresent, "is postfix installed"});
  cases.push_back(
      {"cut", LoopbackServer::OnUnixSocket(Lists(stream.substr(0, 1000)), dir_.path() + "/cut"),
       Reason::kProtocolError, "truncated"});
  cases.push_back(
      {"silent", LoopbackServer::OnUnixSocket(testing::handlers::Silent(), dir_.path() + "/silent"),
       Reason::kTimeout, "timed out"});
  for (const Case& c : cases) {
    auto exporter = MakeFor(dir_.path() + "/" + c.what);
    const CollectResult result = CollectOnce(*exporter, std::chrono::milliseconds(300));
    EXPECT_EQ(result.reason, c.reason) << c.what << ": " << result.message;
    EXPECT_NE(result.message.find(c.words), std::string::npos) << result.message;
    const std::string text = Text(result);
    const std::string labels = "{check=\"mail\",path=\"" + dir_.path() + "/" + c.what + "\"";
    EXPECT_EQ(Value(text, "postfix_up" + labels + "}"), 0) << text;
    EXPECT_EQ(Value(text, "postfix_failure_info" + labels + ",reason=\"" +
                              std::string(ReasonName(c.reason)) + "\"}"),
              1)
        << text;
    EXPECT_EQ(text.find("postfix_showq_queue_depth"), std::string::npos);
  }
}

// The mail log and container logs feed the same counters; each source has its own postfix_up.
TEST_F(PostfixExporterTest, CountsTheMailLogAndContainerLogs) {
  const std::string log = dir_.path() + "/mail.log";
  const std::string pods = dir_.path() + "/pods";
  std::filesystem::create_directories(pods + "/mail_postfix-0_uid/postfix");
  std::ofstream(log) << "Nov 27 21:36:41 mx postfix/smtpd[1]: connect from a[1.2.3.4]\n";
  auto exporter = Make("check: mail\nshowq_path: \"\"\nlog_file: " + log + "\nlog_pods: " + pods +
                       "/*/postfix/*.log\n");
  CollectResult result = CollectOnce(*exporter);
  EXPECT_TRUE(result.success) << result.message;
  // log_start: end: what the log held before the first run is not counted.
  EXPECT_EQ(Value(Text(result), "postfix_smtpd_connects_total{check=\"mail\"}"), 0);

  std::ofstream(log, std::ios::app) << "Nov 27 21:36:42 mx postfix/smtpd[1]: connect from b\n";
  std::ofstream(pods + "/mail_postfix-0_uid/postfix/0.log")
      << "2026-11-27T21:36:43.1Z stdout P Nov 27 21:36:43 mx postfix/smtpd[7]: connect \n"
      << "2026-11-27T21:36:43.2Z stdout F from c[5.6.7.8]\n";
  result = CollectOnce(*exporter);
  const std::string text = Text(result);
  EXPECT_EQ(Value(text, "postfix_smtpd_connects_total{check=\"mail\"}"), 2) << text;
  EXPECT_EQ(Value(text, "postfix_up{check=\"mail\",path=\"" + log + "\"}"), 1);
  EXPECT_EQ(Value(text, "postfix_up{check=\"mail\",path=\"" + pods + "/*/postfix/*.log\"}"), 1);
  EXPECT_EQ(text.find("postfix_showq"), std::string::npos);
  EXPECT_EQ(result.message, "2 log lines read");
}

TEST_F(PostfixExporterTest, AMissingLogFailsTheCheckWithItsReason) {
  const std::string log = dir_.path() + "/none.log";
  auto exporter = Make("check: mail\nshowq_path: \"\"\nlog_file: " + log + "\n");
  const CollectResult result = CollectOnce(*exporter);
  EXPECT_EQ(result.reason, Reason::kNotPresent) << result.message;
  const std::string text = Text(result);
  EXPECT_EQ(Value(text, "postfix_up{check=\"mail\",path=\"" + log + "\"}"), 0);
  EXPECT_EQ(Value(text, "postfix_failure_info{check=\"mail\",path=\"" + log +
                            "\",reason=\"not_present\"}"),
            1);
}

}  // namespace
}  // namespace sre::exporters::postfix
