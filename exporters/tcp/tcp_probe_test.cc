// /probe?module=&target= with tcp modules, through a real agent and HTTP server on loopback.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include "agent/server/agent_endpoints.h"
#include "agent/server/http_test_client.h"
#include "exporters/tcp/tcp_exporter.h"
#include "tests/support/loopback_servers.h"
#include "tests/support/test_pki.h"

namespace sre::exporters::tcp {
namespace {

using server::Fetch;
using server::Reply;

class TcpProbeTest : public ::testing::Test {
 protected:
  TcpProbeTest() {
    registry_.Add(MakeTcpFactory());
    const std::string config =
        "probe:\n"
        "  allow: [127.0.0.1]\n"
        "  modules:\n"
        "    tcp_connect: {prober: tcp, timeout: 5s}\n"
        "    banner:\n"
        "      prober: tcp\n"
        "      timeout: 2s\n"
        "      tcp:\n"
        "        query_response: [{expect: \"^220 \"}]\n";
    agent_ = std::make_unique<Agent>(registry_, log_, clock_,
                                     AgentOptions{dir_.WriteFile("agent.yaml", config), "v", "r"});
    Status started = agent_->Start();
    EXPECT_TRUE(started.ok()) << started.message();
    server::HttpServerOptions options;
    options.listen_addresses = {"127.0.0.1:0"};
    server::Routes routes = server::AgentRoutes(*agent_, clock_, {});
    auto server =
        server::HttpServer::Start(options, std::move(routes.sync), std::move(routes.async));
    EXPECT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(server).value();
  }
  ~TcpProbeTest() override {
    server_.reset();
    agent_->Stop();
  }

  Reply Probe(const std::string& query) {
    return Fetch("http://" + server_->bound_addresses()[0] + "/probe?" + query,
                 {.timeout = std::chrono::seconds(20)});
  }

  testing::TempDir dir_;
  ExporterRegistry registry_;
  SystemClock clock_;
  Logger log_{LogLevel::kError, LogFormat::kLogfmt, stderr, clock_};
  std::unique_ptr<Agent> agent_;
  std::unique_ptr<server::HttpServer> server_;
};

TEST_F(TcpProbeTest, ReachableListenerIsASuccessInBlackboxFormat) {
  uint16_t port = 0;
  const testing::UniqueFd listener = testing::ListenLoopback(16, &port);
  Reply reply = Probe("module=tcp_connect&target=127.0.0.1:" + std::to_string(port));
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_NE(reply.body.find("\nprobe_success 1\n"), std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find("\nprobe_ip_addr_hash 3668918509\n"), std::string::npos);
  EXPECT_NE(reply.body.find("\nprobe_ip_protocol 4\n"), std::string::npos);
  EXPECT_EQ(reply.body.find('{'), std::string::npos) << "no labels: " << reply.body;
  EXPECT_EQ(reply.body.find("probe_failure_info"), std::string::npos);
  EXPECT_EQ(reply.body.find("probe_attempts_total"), std::string::npos);
  EXPECT_EQ(reply.body.find("probe_tcp_"), std::string::npos);
}

TEST_F(TcpProbeTest, RefusedPortAndFailedExpectAreFailures) {
  Reply refused =
      Probe("module=tcp_connect&target=127.0.0.1:" + std::to_string(testing::RefusedPort()));
  ASSERT_EQ(refused.status, 200) << refused.body;
  EXPECT_NE(refused.body.find("\nprobe_success 0\n"), std::string::npos) << refused.body;

  testing::LoopbackServer garbage(testing::handlers::SendAndClose("hello\n"));
  Reply mismatch = Probe("module=banner&target=127.0.0.1:" + std::to_string(garbage.port()));
  ASSERT_EQ(mismatch.status, 200) << mismatch.body;
  EXPECT_NE(mismatch.body.find("\nprobe_success 0\n"), std::string::npos) << mismatch.body;
  EXPECT_NE(mismatch.body.find("\nprobe_failed_due_to_regex 1\n"), std::string::npos)
      << mismatch.body;
}

TEST_F(TcpProbeTest, BadRequests) {
  EXPECT_EQ(Probe("module=tcp_connect").body, "Target parameter is missing\n");
  Reply unknown = Probe("module=icmp&target=127.0.0.1:1");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.body, "Unknown module \"icmp\"\n");
  // No http_2xx module here: the default module is unknown too.
  EXPECT_EQ(Probe("target=127.0.0.1:1").body, "Unknown module \"http_2xx\"\n");
  Reply no_port = Probe("module=tcp_connect&target=127.0.0.1");
  EXPECT_EQ(no_port.status, 400);
  EXPECT_EQ(no_port.body,
            "invalid target \"127.0.0.1\": expected host:port, like db.internal:3306\n");
  Reply outside = Probe("module=tcp_connect&target=10.0.0.1:80");
  EXPECT_EQ(outside.status, 403);
  EXPECT_NE(outside.body.find("add \"10.0.0.1\""), std::string::npos) << outside.body;
  EXPECT_EQ(Probe("module=tcp_connect&target=localhost:80").status, 403);
}

}  // namespace
}  // namespace sre::exporters::tcp
